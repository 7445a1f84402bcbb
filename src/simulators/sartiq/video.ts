/**
 * The "videos" the simulator generates: a structurally valid ISO base media file (MP4) made of an
 * `ftyp` box, a `moov` box holding only a movie header (`mvhd`, one second long, no tracks) and
 * a `free` box carrying the label. Enough for clients that store and forward the bytes; it does
 * not play.
 */

/** Content-Type of the generated videos. */
export const videoContentType = 'video/mp4';

/** The MP4 bytes, with `label` (UTF-8) in a trailing `free` box. */
export function renderVideo(label: string): Buffer {
  const ftyp = box('ftyp', Buffer.concat([Buffer.from('isom'), uint32(0x200), Buffer.from('isomiso2mp41')]));
  const moov = box('moov', box('mvhd', movieHeader(1000, 1000)));
  const free = box('free', Buffer.from(label, 'utf8'));
  return Buffer.concat([ftyp, moov, free]);
}

/** A version-0 `mvhd` payload: `duration` in units of `timescale`, unity matrix, next track id 1. */
function movieHeader(timescale: number, duration: number): Buffer {
  const unityMatrix = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];
  return Buffer.concat([
    uint32(0), // version 0, flags 0
    uint32(0), // creation time
    uint32(0), // modification time
    uint32(timescale),
    uint32(duration),
    uint32(0x10000), // rate 1.0
    Buffer.from([0x01, 0x00]), // volume 1.0
    Buffer.alloc(10), // reserved
    ...unityMatrix.map(uint32),
    Buffer.alloc(24), // pre_defined
    uint32(1), // next track id
  ]);
}

function box(type: string, payload: Buffer): Buffer {
  return Buffer.concat([uint32(8 + payload.length), Buffer.from(type, 'latin1'), payload]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}
