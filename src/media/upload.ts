/**
 * Upload of an output file to the pre-signed S3 PUT URL returned by Get Pre-signed URL (step 7b).
 *
 * The request carries exactly the S3 encryption headers of the batch, `Content-Type` (the file's
 * own `contentType`) and an exact `Content-Length` (Vendor Guide, step 7b): S3 rejects a pre-signed PUT with a chunked body,
 * and any header that was part of the signature must match. undici adds only `host` and
 * `connection` on its own.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { type Dispatcher, request } from 'undici';
import { ConnectorError } from '../errors.ts';
import { sharedDispatcher } from '../http/shared-agent.ts';
import { describeStatus, readS3Error, urlForMessages } from './download.ts';

export interface UploadOptions {
  /** The pre-signed PUT URL of this file. */
  url: string;
  filePath: string;
  /** The `contentType` Creative Force returned for this file. */
  contentType: string;
  /** The S3 headers of the batch (`headers` of the pre-signed URL response), sent as given. */
  headers: Record<string, string>;
  /** Whole-transfer deadline and cancellation. */
  signal: AbortSignal;
  /** undici dispatcher to use; the process's shared Agent by default. */
  dispatcher?: Dispatcher;
}

/** Headers this module controls; a batch header of the same name (in any case) is replaced or dropped. */
const ownHeaders = new Set(['content-type', 'content-length', 'transfer-encoding', 'host', 'connection']);

/**
 * PUTs the file, streamed from disk, with its exact size. Success is 200 or 204.
 *
 * It does not retry: a pre-signed URL (and its single-use `tempAssetId`) may be what failed, so
 * the job layer retries the whole upload step, which asks for fresh URLs.
 *
 * @throws ConnectorError UPLOAD_FAILED on any other status (message and details carry the status
 *   and the S3 error `<Code>`/`<Message>`, never the URL query), on a network error or an abort.
 */
export async function uploadFile(options: UploadOptions): Promise<void> {
  const { url, filePath, contentType, signal } = options;
  const where = urlForMessages(url);
  const batchHeaders = Object.fromEntries(
    Object.entries(options.headers).filter(([name]) => !ownHeaders.has(name.toLowerCase())),
  );
  const { size } = await stat(filePath);
  const body = createReadStream(filePath);
  const fileName = basename(filePath);

  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      method: 'PUT',
      headers: { ...batchHeaders, 'content-type': contentType, 'content-length': String(size) },
      body,
      signal,
      dispatcher: options.dispatcher ?? sharedDispatcher(),
    });
  } catch (err) {
    body.destroy();
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new ConnectorError('UPLOAD_FAILED', `upload of ${fileName} to ${where} failed: ${reason}`, {
      cause: err,
      details: { url: where, fileName, bytes: size },
    });
  }

  if (response.statusCode === 200 || response.statusCode === 204) {
    await response.body.dump();
    return;
  }
  body.destroy();
  const s3 = await readS3Error(response.body);
  throw new ConnectorError(
    'UPLOAD_FAILED',
    `upload of ${fileName} to ${where} failed: ${describeStatus(response.statusCode, s3)}`,
    {
      details: { url: where, fileName, bytes: size, status: response.statusCode, s3 },
    },
  );
}
