/**
 * The simulator's object storage (Cloudflare R2 behind a CDN in production, Sartiq's product
 * ingestion and storage pages): presigned uploads landing at
 * `temp/{file_id}_{timestamp}_{safe_filename}`, and generated results at
 * `media/{resource_id}/file.{ext}`. Both are served without authentication, as public CDN URLs are.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Reply } from '../harness/http-io.ts';
import type { UploadRecord } from './types.ts';

/** Path prefix of uploaded files. */
export const tempPrefix = '/temp/';
/** Path prefix of generated results. */
export const mediaPrefix = '/media/';
/** Lifetime of a presigned upload URL (the documented `expires_in_seconds`). */
const uploadUrlTtlSeconds = 3600;
/** Largest accepted PUT (not documented by Sartiq). */
export const maxUploadBytes = 64 * 1024 * 1024;

interface TempObject {
  fileName: string;
  /** The `content_type` the URL was asked for: the PUT must send it (the URL is signed for it). */
  declaredType: string;
  stored?: { data: Buffer; contentType: string };
}

/** A generated result: available once `ready`, rendered on first use. */
export interface MediaSource {
  contentType: string;
  ready: (now: number) => boolean;
  render: () => Promise<Buffer>;
}

interface MediaObject extends MediaSource {
  rendered?: Promise<Buffer>;
}

/**
 * What a reference to an input image (`base_img_path`, `product_image`, …) designates: a file
 * of this store with its bytes, a file of this store that does not exist (yet), a URL elsewhere,
 * or no URL at all.
 */
export type FileLookup =
  | { kind: 'local'; data: () => Promise<Buffer> }
  | { kind: 'missing' }
  | { kind: 'foreign' }
  | { kind: 'invalid' };

/** Uploaded files and generated results. */
export class FileStore {
  /** Uploads received, in order. */
  readonly uploads: UploadRecord[] = [];
  readonly #origin: string;
  readonly #signingKey = randomBytes(32);
  readonly #temp = new Map<string, TempObject>();
  readonly #media = new Map<string, MediaObject>();

  /** `origin` is `http://host:port` of the simulator. */
  constructor(origin: string) {
    this.#origin = origin;
  }

  /** `POST /uploads/presigned-url`: a signed PUT URL for a file of `declaredType`, and the temp file URL it fills. */
  presign(fileName: string, declaredType: string, now: number): Record<string, unknown> {
    const safeName = fileName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-100) || 'upload';
    const path = `${tempPrefix}${randomUUID().replaceAll('-', '')}_${now}_${safeName}`;
    this.#temp.set(path, { fileName: safeName, declaredType });
    const expires = Math.floor(now / 1000) + uploadUrlTtlSeconds;
    const query = new URLSearchParams({ expires: String(expires), signature: this.#signature(path, expires) });
    return {
      upload_url: `${this.#origin}${path}?${query}`,
      file_url: `${this.#origin}${path}`,
      expires_in_seconds: uploadUrlTtlSeconds,
    };
  }

  /**
   * A PUT to a temp path: stored (200) when its signature is valid and unexpired and it sends the
   * declared Content-Type, else an S3-style 403. (Sartiq does not say whether its URLs are signed
   * for the content type; R2 presigned URLs can be, and the simulator assumes they are.)
   */
  put(path: string, query: URLSearchParams, contentType: string | undefined, body: Buffer, now: number): Reply {
    const object = this.#temp.get(path);
    const expires = Number(query.get('expires'));
    const given = Buffer.from(query.get('signature') ?? '', 'hex');
    const expected = Buffer.from(this.#signature(path, expires), 'hex');
    if (!object || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return storageError(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
    if (expires * 1000 <= now) return storageError(403, 'AccessDenied', 'Request has expired');
    if (contentType?.trim() !== object.declaredType) {
      return storageError(
        403,
        'SignatureDoesNotMatch',
        `The request signature we calculated does not match the signature you provided: the URL is signed for Content-Type ${object.declaredType}.`,
      );
    }
    object.stored = { data: body, contentType: object.declaredType };
    this.uploads.push({ fileName: object.fileName, contentType: object.declaredType, bytes: body.length });
    return { status: 200, headers: { etag: `"${randomBytes(16).toString('hex')}"` } };
  }

  /** Registers a generated result; returns its public URL. */
  addMedia(extension: string, source: MediaSource): string {
    const path = `${mediaPrefix}${randomUUID()}/file.${extension}`;
    this.#media.set(path, { ...source });
    return `${this.#origin}${path}`;
  }

  /** A GET of a temp or media path: the bytes once uploaded / generated, else a 404. */
  async serve(path: string, now: number): Promise<Reply> {
    const stored = this.#temp.get(path)?.stored;
    if (stored) return { status: 200, headers: { 'content-type': stored.contentType }, body: stored.data };
    const media = this.#media.get(path);
    if (media?.ready(now))
      return { status: 200, headers: { 'content-type': media.contentType }, body: await this.#render(media) };
    return storageError(404, 'NoSuchKey', 'The specified key does not exist.');
  }

  /**
   * What an image reference designates: a URL of this store (absolute, or a `temp/…` / `media/…`
   * key), an http(s) URL elsewhere, or nothing usable.
   */
  lookup(reference: string, now: number): FileLookup {
    const absolute = /^https?:\/\//i.test(reference);
    let url: URL;
    try {
      url = new URL(reference, `${this.#origin}/`);
    } catch {
      return { kind: 'invalid' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'invalid' };
    const path = url.pathname;
    if (!absolute && !path.startsWith(tempPrefix) && !path.startsWith(mediaPrefix)) return { kind: 'invalid' };
    if (url.origin !== this.#origin) return { kind: 'foreign' };
    const stored = this.#temp.get(path)?.stored;
    if (stored) return { kind: 'local', data: async () => stored.data };
    const media = this.#media.get(path);
    if (media?.ready(now)) return { kind: 'local', data: () => this.#render(media) };
    return { kind: 'missing' };
  }

  #render(media: MediaObject): Promise<Buffer> {
    media.rendered ??= media.render();
    return media.rendered;
  }

  #signature(path: string, expires: number): string {
    return createHmac('sha256', this.#signingKey).update(`PUT\n${path}\n${expires}`).digest('hex');
  }
}

/** An S3-style XML error, as R2 answers. */
function storageError(status: number, code: string, message: string): Reply {
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}
