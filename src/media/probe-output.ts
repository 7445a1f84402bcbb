/**
 * What a produced file really is, read from its bytes: an image sharp decodes (format, size, whether
 * it is one flat colour), or a video container whose structure holds (ISO base media: MP4 and
 * QuickTime; Matroska: WebM). Nothing here trusts a file name or a declared content type; the
 * result gate (src/cycle/gate-outputs.ts) compares what is found with what was declared.
 */
import { open, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { maxInputPixels } from './image.ts';

/** An image, decoded in full (a truncated or corrupt one does not get here). */
export interface ImageFacts {
  kind: 'photo';
  /** `jpeg`, `png`, `webp`, `tiff`, `gif`, `avif`, `heic`, `svg`... (sharp's decoder, HEIF told apart by codec) */
  format: string;
  width: number;
  height: number;
  /** Every pixel the same colour (within noise), or every pixel fully transparent. */
  blank: boolean;
}

/** A video container whose boxes or elements parse from the first byte to the last. */
export interface VideoFacts {
  kind: 'video';
  /** `mp4`, `quicktime` (ISO base media, by brand) or `webm`/`matroska` (EBML doctype). */
  format: string;
}

export type OutputFacts = ImageFacts | VideoFacts;

/** Why a file is not what it claims: a short reason for the studio and the log. */
export class ProbeFailure extends Error {
  /** True when the file has no bytes at all. */
  readonly empty: boolean;

  constructor(reason: string, options: { empty?: boolean } = {}) {
    super(reason);
    this.name = 'ProbeFailure';
    this.empty = options.empty ?? false;
  }
}

const emptyFile = () => new ProbeFailure('the file is empty', { empty: true });

/**
 * Below this standard deviation on every channel an image is one flat colour: JPEG noise on a
 * solid frame stays far under 1 (of 255), while any real photograph, even a white-seamless
 * product shot, is well above it.
 */
const flatDeviation = 1;

/**
 * The "blank" statistics are taken on a copy of the image scaled down to about this many pixels
 * (about 610x410 at 3:2). libvips' statistics read their input several times, which for a
 * full-size decode means holding every decoded pixel (about 320 MiB for a 70-megapixel JPEG); the
 * scaled copy is made in one sequential pass over the file, so the gate's memory does not grow with
 * the image. Scaling down averages neighbouring pixels: what it removes is pixel noise, so a flat
 * frame stays flat and a fully transparent one stays fully transparent, while the content of a
 * photograph, which is what keeps its deviation far above `flatDeviation`, survives. The copy is
 * small because its cost is not: a JPEG reduced by 8 or more is decoded at 1/8 scale (libjpeg's
 * shrink-on-load, which still reads every byte of the file), and the resampling after it holds
 * buffers that grow with the copy (bench/memory.ts: the gate needs 8 MiB for a 2290x1526 JPEG at
 * this size, 16 MiB at a megapixel).
 */
const statsPixels = 250_000;

/**
 * Reads an image in full: its header, then every pixel (decoded in one sequential pass, for the
 * statistics), so a file whose pixel data is damaged fails here rather than in the reviewer's
 * browser. Memory stays flat whatever the image's size (see `statsPixels`).
 *
 * @throws ProbeFailure when it is empty, not an image, damaged, or larger than maxInputPixels.
 */
export async function probeImageOutput(path: string): Promise<ImageFacts> {
  if ((await stat(path)).size === 0) throw emptyFile();
  try {
    const options = { limitInputPixels: maxInputPixels, failOn: 'error' } as const;
    const metadata = await sharp(path, options).metadata();
    // Stored orientation: rotating would need the whole image in memory, and changes no statistic.
    const scale = Math.min(1, Math.sqrt(statsPixels / (metadata.width * metadata.height)));
    const sample = await sharp(path, options)
      .resize({
        width: Math.max(1, Math.round(metadata.width * scale)),
        height: Math.max(1, Math.round(metadata.height * scale)),
        fit: 'fill',
      })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width: sampleWidth, height: sampleHeight, channels } = sample.info;
    const stats = await sharp(sample.data, { raw: { width: sampleWidth, height: sampleHeight, channels } }).stats();
    const { width, height } = metadata.autoOrient;
    const alpha = metadata.hasAlpha ? stats.channels.at(-1) : undefined;
    const transparent = alpha !== undefined && alpha.max === 0;
    const flat = stats.channels.every((c) => c.stdev < flatDeviation);
    const format = metadata.format === 'heif' ? (metadata.compression === 'av1' ? 'avif' : 'heic') : metadata.format;
    return { kind: 'photo', format, width, height, blank: transparent || flat };
  } catch (err) {
    const reason = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new ProbeFailure(`not a readable image (${reason})`);
  }
}

/**
 * Walks a video container's top-level structure. ISO base media (MP4, QuickTime): boxes must tile
 * the file exactly, an `ftyp` must come before the media, and a `moov` must hold at least one
 * `trak`. Matroska/WebM: the file must open with an EBML header naming its doctype.
 *
 * @throws ProbeFailure when the bytes are no such container.
 */
export async function probeVideoOutput(path: string): Promise<VideoFacts> {
  const size = (await stat(path)).size;
  if (size === 0) throw emptyFile();
  const file = await open(path, 'r');
  try {
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    const head = await read(0, 64);
    if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return { kind: 'video', format: ebmlDocType(head) };
    return { kind: 'video', format: await isoBaseMediaFormat(read, size) };
  } finally {
    await file.close();
  }
}

type Read = (position: number, length: number) => Promise<Buffer>;

interface Box {
  type: string;
  start: number;
  /** Where the payload starts. */
  payload: number;
  end: number;
}

/** The boxes between `from` and `to`, which they must tile exactly. */
async function boxes(read: Read, from: number, to: number): Promise<Box[]> {
  const found: Box[] = [];
  let at = from;
  while (at < to) {
    const header = await read(at, 16);
    if (header.length < 8) throw new ProbeFailure('not a video container (a box header is cut off)');
    const type = header.toString('latin1', 4, 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) throw new ProbeFailure('not a video container (no box structure)');
    let length = header.readUInt32BE(0);
    let payload = at + 8;
    if (length === 1) {
      if (header.length < 16) throw new ProbeFailure('not a video container (a box header is cut off)');
      length = Number(header.readBigUInt64BE(8));
      payload = at + 16;
    } else if (length === 0) {
      length = to - at; // the last box runs to the end
    }
    if (length < payload - at || at + length > to)
      throw new ProbeFailure(`not a video container (box ${type} overruns the file)`);
    found.push({ type, start: at, payload, end: at + length });
    at += length;
  }
  return found;
}

const quickTimeBrand = 'qt  ';

async function isoBaseMediaFormat(read: Read, size: number): Promise<string> {
  const top = await boxes(read, 0, size);
  const ftyp = top.find((b) => b.type === 'ftyp');
  if (!ftyp || top.indexOf(ftyp) !== top.findIndex((b) => b.type !== 'free' && b.type !== 'skip' && b.type !== 'wide')) {
    throw new ProbeFailure('not a video container (no ftyp box first)');
  }
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new ProbeFailure('not a playable video (no moov box)');
  const tracks = (await boxes(read, moov.payload, moov.end)).filter((b) => b.type === 'trak');
  if (tracks.length === 0) throw new ProbeFailure('not a playable video (no track)');
  const brand = (await read(ftyp.payload, 4)).toString('latin1');
  return brand === quickTimeBrand ? 'quicktime' : 'mp4';
}

/** The DocType of an EBML header (`webm`, `matroska`), searched in its first bytes. */
function ebmlDocType(head: Buffer): string {
  const at = head.indexOf(Buffer.from([0x42, 0x82]));
  if (at < 0 || at + 3 > head.length) throw new ProbeFailure('not a video container (EBML header without a doctype)');
  const sizeByte = head[at + 2] ?? 0;
  if ((sizeByte & 0x80) === 0) throw new ProbeFailure('not a video container (EBML doctype size)');
  const length = sizeByte & 0x7f;
  const docType = head.toString('latin1', at + 3, at + 3 + length);
  if (docType !== 'webm' && docType !== 'matroska') throw new ProbeFailure(`not a video container (EBML doctype ${docType})`);
  return docType;
}
