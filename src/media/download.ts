/**
 * Download of a pre-signed S3 URL (input assets, colour references, marking files) to a local
 * file. The body streams to disk: a multi-gigabyte asset never sits in memory.
 *
 * Pre-signed URLs carry their signature in the query string, so no error message, detail or
 * log field produced here contains it: URLs are reported as origin + path only.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Dispatcher, request } from 'undici';
import { ConnectorError, isConnectorError } from '../errors.ts';
import { sharedDispatcher } from '../http/shared-agent.ts';

export interface DownloadOptions {
  /** The pre-signed GET URL. */
  url: string;
  /** Final path; its directory must exist. An existing file there is replaced. */
  destPath: string;
  /** Hard cap: a larger body is refused (from Content-Length when sent, else while streaming). */
  maxBytes: number;
  /** The size Creative Force announced (`fileLength`), verified when given. */
  expectedBytes?: number | null;
  /** The MD5 Creative Force announced, as 32 hex digits or base64 of the 16 bytes. */
  expectedMd5?: string | null;
  /** Whole-transfer deadline and cancellation, e.g. `AbortSignal.timeout(...)`. */
  signal: AbortSignal;
  /** undici dispatcher to use; the process's shared Agent by default. */
  dispatcher?: Dispatcher;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** MD5 of the bytes written, lower-case hex. */
  md5Hex: string;
}

/**
 * Streams `url` to a temporary file beside `destPath`, verifies it, then renames it into place,
 * so `destPath` only ever holds a complete, verified file. On any failure the temporary file is
 * removed and the response body is released.
 *
 * @throws ConnectorError
 *   - ASSET_TOO_LARGE (not retryable): `expectedBytes`, Content-Length or the streamed byte count
 *     exceeds `maxBytes`.
 *   - ASSET_CHECKSUM_MISMATCH (retryable): the size or MD5 differs from the announced one.
 *   - ASSET_DOWNLOAD_FAILED (retryable): any non-2xx status, network error, timeout or abort.
 *   - CF_BAD_RESPONSE: `expectedMd5` is neither hex nor base64 of an MD5 (thrown before the request).
 */
export async function downloadToFile(options: DownloadOptions): Promise<DownloadResult> {
  const { url, destPath, maxBytes, signal } = options;
  const where = urlForMessages(url);
  const expectedBytes = options.expectedBytes ?? null;
  const expectedMd5 = options.expectedMd5 == null ? null : normalizeMd5(options.expectedMd5, where);
  if (expectedBytes !== null && expectedBytes > maxBytes) throw tooLarge(where, expectedBytes, maxBytes, 'announced');

  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, { method: 'GET', signal, dispatcher: options.dispatcher ?? sharedDispatcher() });
  } catch (err) {
    throw transferFailed(where, err);
  }

  const { statusCode, headers, body } = response;
  const tempPath = join(dirname(destPath), `.${basename(destPath)}.${randomUUID()}.part`);
  try {
    if (statusCode < 200 || statusCode > 299) {
      const s3 = await readS3Error(body);
      // Every failed status is retryable. The URLs are signed by Creative Force for this cycle and
      // a retry of the cycle fetches fresh ones: a 403 (AccessDenied "Request has expired"), a 400
      // (ExpiredToken, for URLs signed with temporary credentials) or a 404 (object not replicated
      // yet) is almost always about the URL, not the asset. The job layer bounds the attempts.
      throw new ConnectorError('ASSET_DOWNLOAD_FAILED', `download of ${where} failed: ${describeStatus(statusCode, s3)}`, {
        details: { url: where, status: statusCode, s3 },
      });
    }
    const announced = contentLength(headers);
    if (announced !== null && announced > maxBytes) throw tooLarge(where, announced, maxBytes, 'Content-Length');
    if (announced !== null && expectedBytes !== null && announced !== expectedBytes) {
      throw mismatch(where, `Content-Length is ${announced} bytes, Creative Force announced ${expectedBytes}`);
    }

    const hash = createHash('md5');
    let bytes = 0;
    await pipeline(
      body,
      async function* countAndHash(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw tooLarge(where, bytes, maxBytes, 'received');
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(tempPath, { flags: 'wx' }),
      { signal },
    );
    const md5Hex = hash.digest('hex');
    if (expectedBytes !== null && bytes !== expectedBytes) {
      throw mismatch(where, `received ${bytes} bytes, Creative Force announced ${expectedBytes}`);
    }
    if (expectedMd5 !== null && md5Hex !== expectedMd5) {
      throw mismatch(where, `MD5 is ${md5Hex}, Creative Force announced ${expectedMd5}`);
    }
    await rename(tempPath, destPath);
    return { path: destPath, bytes, md5Hex };
  } catch (err) {
    body.destroy();
    await rm(tempPath, { force: true });
    throw isConnectorError(err) ? err : transferFailed(where, err);
  }
}

/** A URL as it may appear in messages and logs: origin and path, never the query (signatures). */
export function urlForMessages(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '[invalid URL]';
  }
}

/** What an S3 error response says, reduced to fields that are safe to log. */
export interface S3ErrorInfo {
  /** `<Code>` of the S3 XML error, e.g. `SignatureDoesNotMatch`, `AccessDenied`. */
  code: string | null;
  /** `<Message>` of the S3 XML error. */
  message: string | null;
  /** `<RequestId>`, what AWS support asks for. */
  requestId: string | null;
  /** When the body is not an S3 error (e.g. a proxy's HTML page): its start, query strings removed. */
  excerpt: string | null;
}

const errorBodyLimit = 2048;

/**
 * Reads at most the first 2 KiB of an error response body, releases the rest, and keeps only the
 * fields of an S3 error that are safe to log. The raw XML of a SignatureDoesNotMatch error echoes
 * the canonical request (with the credential and security token of the URL), so it is never kept.
 * Never throws: a body that fails to arrive yields empty values.
 */
export async function readS3Error(body: Readable): Promise<S3ErrorInfo> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
      if (text.length >= errorBodyLimit) break;
    }
  } catch {
    // The status code already tells the story; the body is only a detail.
  } finally {
    body.destroy();
  }
  const code = xmlElement(text, 'Code');
  const excerpt = code === null && text.trim() !== '' ? text.slice(0, 300).replace(/\?[^\s"'<>]*/g, '?[Redacted]') : null;
  return { code, message: xmlElement(text, 'Message'), requestId: xmlElement(text, 'RequestId'), excerpt };
}

/** `HTTP 403 AccessDenied: Request has expired`, or `HTTP 502` when the body says nothing. */
export function describeStatus(statusCode: number, s3: S3ErrorInfo): string {
  const code = s3.code === null ? '' : ` ${s3.code}`;
  const message = s3.message === null ? '' : `: ${s3.message}`;
  return `HTTP ${statusCode}${code}${message}`;
}

function xmlElement(xml: string, name: string): string | null {
  return new RegExp(`<${name}>([^<]{1,500})</${name}>`).exec(xml)?.[1] ?? null;
}

function contentLength(headers: IncomingHttpHeaders): number | null {
  const value = headers['content-length'];
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : null;
}

/** Creative Force may send the MD5 as hex or base64 (S3's Content-MD5 form); compare in hex. */
function normalizeMd5(value: string, where: string): string {
  const trimmed = value.trim().replace(/^"|"$/g, '');
  if (/^[0-9a-f]{32}$/i.test(trimmed)) return trimmed.toLowerCase();
  if (/^[A-Za-z0-9+/]{22}(==)?$/.test(trimmed)) return Buffer.from(trimmed, 'base64').toString('hex');
  throw new ConnectorError('CF_BAD_RESPONSE', `the MD5 announced for ${where} is neither hex nor base64: "${value}"`, {
    details: { url: where, md5: value },
  });
}

function tooLarge(where: string, bytes: number, maxBytes: number, source: string): ConnectorError {
  return new ConnectorError('ASSET_TOO_LARGE', `${where} is larger than ${maxBytes} bytes (${source}: ${bytes})`, {
    details: { url: where, bytes, maxBytes, source },
  });
}

function mismatch(where: string, what: string): ConnectorError {
  return new ConnectorError('ASSET_CHECKSUM_MISMATCH', `download of ${where} is corrupt: ${what}`, {
    details: { url: where },
  });
}

function transferFailed(where: string, cause: unknown): ConnectorError {
  const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new ConnectorError('ASSET_DOWNLOAD_FAILED', `download of ${where} failed: ${reason}`, {
    cause,
    details: { url: where },
  });
}
