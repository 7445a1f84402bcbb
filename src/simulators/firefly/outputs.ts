/**
 * The images the simulator "produces" and the storage serving them. An output is a PNG derived
 * from the run's first fetched input image (fitted within 1024 px, never enlarged) with a band
 * reading `run <index>` (and, for a workflow's second and further output nodes, the node id) at
 * the top and the same text in EXIF `ImageDescription`, so tests can tell runs and outputs apart. Outputs are served without authentication at `/outputs/<id>/<name>?sig=…`, as
 * presigned storage URLs are; their real host and lifetime are not documented.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import sharp from 'sharp';
import type { Reply } from '../harness/http-io.ts';

/** Path prefix of produced images. */
export const outputsPrefix = '/outputs/';

/** Longest side of an output. */
const maxOutputSide = 1024;

/** Produced PNGs by path, with signed URLs. */
export class OutputStore {
  readonly #origin: string;
  readonly #signingKey = randomBytes(32);
  readonly #files = new Map<string, Buffer>();

  /** `origin` is `http://host:port` of the simulator. */
  constructor(origin: string) {
    this.#origin = origin;
  }

  /** Stores a PNG under `name`; returns its URL. */
  add(name: string, png: Buffer): string {
    const path = `${outputsPrefix}${randomUUID()}/${encodeURIComponent(name)}`;
    this.#files.set(path, png);
    return `${this.#origin}${path}?sig=${this.#sign(path)}`;
  }

  /** A GET of an output path: the PNG when the signature matches, else an S3-style XML error. */
  serve(path: string, query: URLSearchParams): Reply {
    const file = this.#files.get(path);
    const given = Buffer.from(query.get('sig') ?? '', 'utf8');
    const expected = Buffer.from(this.#sign(path), 'utf8');
    if (!file || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return storageError(
        file ? 403 : 404,
        file ? 'AccessDenied' : 'NoSuchKey',
        file ? 'Access Denied' : 'The specified key does not exist.',
      );
    }
    return { status: 200, headers: { 'content-type': 'image/png' }, body: file };
  }

  #sign(path: string): string {
    return createHmac('sha256', this.#signingKey).update(`GET\n${path}`).digest('hex');
  }
}

/** Renders an output labelled `label` (e.g. `run 2`) from its input image; rejects when `input` is not an image sharp reads. */
export async function renderOutput(input: Buffer, label: string): Promise<Buffer> {
  const fitted = await sharp(input)
    .rotate()
    .resize({ width: maxOutputSide, height: maxOutputSide, fit: 'inside', withoutEnlargement: true })
    .png()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = fitted.info;
  return sharp(fitted.data)
    .composite([{ input: labelBand(label, width, height), gravity: 'north' }])
    .withExif({ IFD0: { ImageDescription: label, Software: 'cf-ai-connector Firefly simulator' } })
    .png()
    .toBuffer();
}

function labelBand(label: string, width: number, height: number): Buffer {
  const bandHeight = Math.max(1, Math.round(height * 0.12));
  const fontSize = Math.max(6, Math.floor(Math.min(bandHeight * 0.7, (width / Math.max(label.length, 1)) * 1.6)));
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${bandHeight}">
<rect width="100%" height="100%" fill="#000000" fill-opacity="0.6"/>
<text x="50%" y="50%" dominant-baseline="middle" text-anchor="middle" font-family="sans-serif" font-size="${fontSize}" fill="#ffffff">${label}</text>
</svg>`);
}

/** An S3-style XML error, as object storage answers. */
function storageError(status: number, code: string, message: string): Reply {
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}
