/**
 * The "videos" the simulator generates: a structurally valid ISO base media file (MP4) made of an
 * `ftyp` box, a `moov` box holding a movie header (`mvhd`, one second long) and one video track
 * (`trak`: track header, media header, `vide` handler; no samples), and a `free` box carrying the
 * label. Enough for clients that check the container and store and forward the bytes; it does not
 * play.
 */

/** Content-Type of the generated videos. */
export const videoContentType = 'video/mp4';

/** The MP4 bytes, with `label` (UTF-8) in a trailing `free` box. */
export function renderVideo(label: string): Buffer {
  const ftyp = box('ftyp', Buffer.concat([Buffer.from('isom'), uint32(0x200), Buffer.from('isomiso2mp41')]));
  const moov = box('moov', Buffer.concat([box('mvhd', movieHeader(1000, 1000)), videoTrack(1000, 1000)]));
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

/** One `trak`: a version-0 `tkhd` (track 1, enabled, 1280x720) and `mdia` with `mdhd` and a `vide` `hdlr`. */
function videoTrack(timescale: number, duration: number): Buffer {
  const unityMatrix = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];
  const tkhd = box(
    'tkhd',
    Buffer.concat([
      uint32(0x000003), // version 0, flags: enabled, in movie
      uint32(0), // creation time
      uint32(0), // modification time
      uint32(1), // track id
      uint32(0), // reserved
      uint32(duration),
      Buffer.alloc(8), // reserved
      Buffer.alloc(4), // layer, alternate group
      Buffer.alloc(4), // volume (0 for video), reserved
      ...unityMatrix.map(uint32),
      uint32(1280 << 16), // width, 16.16
      uint32(720 << 16), // height, 16.16
    ]),
  );
  const mdhd = box(
    'mdhd',
    Buffer.concat([uint32(0), uint32(0), uint32(0), uint32(timescale), uint32(duration), Buffer.from([0x55, 0xc4, 0, 0])]),
  );
  const hdlr = box(
    'hdlr',
    Buffer.concat([uint32(0), uint32(0), Buffer.from('vide', 'latin1'), Buffer.alloc(12), Buffer.from('Video\0', 'latin1')]),
  );
  return box('trak', Buffer.concat([tkhd, box('mdia', Buffer.concat([mdhd, hdlr]))]));
}

function box(type: string, payload: Buffer): Buffer {
  return Buffer.concat([uint32(8 + payload.length), Buffer.from(type, 'latin1'), payload]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}
