/**
 * The request plumbing the AI provider clients share, provider-neutral: a whole-request deadline
 * (body included) combined with the caller's signal, bodies read to the end, transport failures
 * mapped by the provider's `transportError`, the bearer-token call with one renewal and retry after
 * a 401, and result downloads streamed to a temporary file beside the destination, from allowed
 * hosts and addresses only and under a size cap.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import type { ConnectorError } from '../errors.ts';
import { readS3Error, urlForMessages } from '../media/download.ts';
import type { ProviderErrors, ProviderExchange, ProviderResponse, ProviderTransportContext } from './provider-errors.ts';
import { ResultAddressRefusedError } from './result-connector.ts';
import { hostAllowed } from './result-hosts.ts';
import { type BearerTokens, sendWithTokenRenewal } from './token-renewal.ts';

/** A request body undici sends. */
export type RequestBody = Dispatcher.DispatchOptions['body'];

/** Maps a transport failure to what to throw (a provider's `transportError`). */
export type TransportErrorOf = (err: unknown, context: ProviderTransportContext) => unknown;

/** The signals of one attempt: its deadline, and the deadline combined with the caller's signal. */
export function attemptSignals(
  timeoutMs: number,
  signal: AbortSignal | undefined,
): { deadline: AbortSignal; attemptSignal: AbortSignal } {
  const deadline = AbortSignal.timeout(timeoutMs);
  return { deadline, attemptSignal: signal ? AbortSignal.any([deadline, signal]) : deadline };
}

/** One request whose answer is read to the end, whatever its status. */
export interface TextRequest {
  url: string;
  method: Dispatcher.HttpMethod;
  exchange: ProviderExchange;
  dispatcher: Dispatcher;
  headers: Record<string, string>;
  body: RequestBody;
  timeoutMs: number;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
  transportError: TransportErrorOf;
}

/** Sends a request under a whole-request deadline and reads its body to the end (any status). */
export async function requestText(spec: TextRequest): Promise<ProviderResponse> {
  const { exchange, timeoutMs, signal } = spec;
  const { deadline, attemptSignal } = attemptSignals(timeoutMs, signal);
  try {
    const answer = await request(spec.url, {
      method: spec.method,
      dispatcher: spec.dispatcher,
      headers: spec.headers,
      body: spec.body,
      signal: attemptSignal,
    });
    return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
  } catch (err) {
    throw spec.transportError(err, { exchange, timeoutMs, deadline, callerSignal: signal });
  }
}

/** Reads a 2xx body; runs under the attempt's deadline. */
export type Consume<T> = (body: Dispatcher.ResponseData['body'], signal: AbortSignal) => Promise<T>;

/** Reads a 2xx body as text. */
export const readText: Consume<string> = (body) => body.text();

/** One authorized API call. */
export interface AuthorizedCall<T> {
  url: string;
  method: Dispatcher.HttpMethod;
  exchange: ProviderExchange;
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
  tokens: BearerTokens;
  /** Every header of an attempt, the Authorization header included. */
  headers(token: string): Record<string, string>;
  /** The body of an attempt, built again for each one (a multipart file part is read each time). */
  body?: () => RequestBody | Promise<RequestBody>;
  /** Reads a 2xx body. */
  consume: Consume<T>;
  transportError: TransportErrorOf;
  logger: Logger;
  /** Logged at info when the first 401 leads to a renewal, e.g. `Sartiq refused the token (401); …`. */
  renewMessage: string;
  /** The error of any other non-2xx answer (after the one retry of a 401). */
  statusError(response: ProviderResponse, token: string): ConnectorError;
}

/**
 * Sends an authorized call and hands a 2xx body to `consume`; any other answer becomes
 * `statusError`, after one retry with a new token on the first 401 (the provider did not process
 * the request).
 */
export async function authorizedCall<T>(call: AuthorizedCall<T>): Promise<{ status: number; value: T }> {
  const { exchange, timeoutMs, signal } = call;
  const { answer, token } = await sendWithTokenRenewal<{ status: number; value: T } | { failure: ProviderResponse }>({
    tokens: call.tokens,
    signal,
    async send(token) {
      const body = call.body ? await call.body() : null;
      const { deadline, attemptSignal } = attemptSignals(timeoutMs, signal);
      try {
        const answer = await request(call.url, {
          method: call.method,
          dispatcher: call.dispatcher,
          headers: call.headers(token),
          body,
          signal: attemptSignal,
        });
        if (answer.statusCode >= 200 && answer.statusCode < 300) {
          return { status: answer.statusCode, value: await call.consume(answer.body, attemptSignal) };
        }
        return { failure: { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() } };
      } catch (err) {
        throw call.transportError(err, { exchange, timeoutMs, deadline, callerSignal: signal });
      }
    },
    statusOf: (answer) => ('failure' in answer ? answer.failure.status : answer.status),
    onRenewal: () => call.logger.info({ method: exchange.method, path: exchange.path }, call.renewMessage),
  });
  if ('failure' in answer) throw call.statusError(answer.failure, token);
  return answer;
}

/** A temporary file beside `destPath`, renamed onto it once complete. */
export function tempPathBeside(destPath: string): string {
  return join(dirname(destPath), `.${basename(destPath)}.${randomUUID()}.part`);
}

/**
 * Runs `write` on a temporary file beside `destPath` and renames it onto `destPath` when `write`
 * succeeds, so `destPath` only ever holds a complete file; the temporary file is removed otherwise.
 */
export async function writeBeside<T>(destPath: string, write: (tempPath: string) => Promise<T>): Promise<T> {
  const tempPath = tempPathBeside(destPath);
  try {
    const result = await write(tempPath);
    await rename(tempPath, destPath);
    return result;
  } catch (err) {
    await rm(tempPath, { force: true });
    throw err;
  }
}

/**
 * Where a connection's provider results may be downloaded from, and how large they may be: built
 * for each connection from its provider section and the service's settings (provider-clients.ts).
 */
export interface ResultDownloadRules {
  /** The allowed hosts (result-hosts.ts): the connection's `resultHosts`, else the provider module's. */
  hosts: readonly string[];
  /** The largest result accepted, in bytes (PROVIDER_RESULT_MAX_BYTES). */
  maxBytes: number;
  /** Connects to public addresses only (sharedResultDispatcher, result-connector.ts). */
  dispatcher: Dispatcher;
}

/** What downloadResult needs of a provider. */
export interface ResultDownload {
  url: string;
  destPath: string;
  rules: ResultDownloadRules;
  timeoutMs: number;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
  /** The provider's errors: storageError for a non-2xx answer, transportError, badResponse, resultRefused. */
  errors: Pick<ProviderErrors, 'transportError' | 'storageError' | 'badResponse' | 'resultRefused'>;
  /** Where storageError logs. */
  logger: Logger;
  /** Types of result file extensions, for an answer without a specific Content-Type. */
  typesByExtension: Readonly<Record<string, string>>;
}

/** A downloaded result. */
export interface DownloadedResult {
  path: string;
  bytes: number;
  /**
   * The Content-Type of the answer (parameters dropped); when absent or generic
   * (`application/octet-stream`), the type of the URL's file extension, if known.
   */
  contentType: string;
}

/**
 * Streams a result URL (no API headers) to `destPath` (its directory must exist) through a temporary
 * file beside it, under a whole-request deadline. Only from a host on `rules.hosts`, through
 * `rules.dispatcher` (public addresses only), without following redirects, and at most
 * `rules.maxBytes`: a larger Content-Length is refused before the body is read, a larger body is
 * cut off as soon as it passes the cap. The temporary file is removed on any failure.
 *
 * @throws the provider's PROVIDER_BAD_RESPONSE for a URL that is not http(s) or an empty body,
 *   PROVIDER_RESULT_REFUSED (not retryable) for a host not allowed, a refused address or a result
 *   over the cap, its storageError for a non-2xx answer, its transportError otherwise.
 */
export async function downloadResult(spec: ResultDownload): Promise<DownloadedResult> {
  const { url, errors, rules, timeoutMs, signal } = spec;
  // The URL as it may appear in messages: origin + path (a presigned URL signs its query).
  const exchange: ProviderExchange = { method: 'GET', path: urlForMessages(url) };
  if (!/^https?:\/\//i.test(url) || exchange.path === '[invalid URL]') {
    throw errors.badResponse(exchange, 200, 'a result URL that is not an http(s) URL');
  }
  const host = new URL(url).hostname;
  if (!hostAllowed(rules.hosts, host)) throw errors.resultRefused(host, { rule: 'host' });
  const { deadline, attemptSignal } = attemptSignals(timeoutMs, signal);
  const transport = { exchange, timeoutMs, deadline, callerSignal: signal };
  const tooLarge = (bytes: number, source: 'Content-Length' | 'received') =>
    errors.resultRefused(host, { rule: 'size', maxBytes: rules.maxBytes, bytes, source });
  return writeBeside(spec.destPath, async (tempPath) => {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, { method: 'GET', dispatcher: rules.dispatcher, signal: attemptSignal });
    } catch (err) {
      if (err instanceof ResultAddressRefusedError) {
        throw errors.resultRefused(host, { rule: 'address', addresses: err.addresses, why: err.rule });
      }
      throw errors.transportError(err, transport);
    }
    const { statusCode, headers, body } = answer;
    if (statusCode < 200 || statusCode >= 300) {
      throw errors.storageError(spec.logger, exchange, statusCode, headers, await readS3Error(body));
    }
    const announced = Number(headers['content-length']);
    if (announced > rules.maxBytes) {
      // Not read at all: the abort that destroying an unread body reports is expected.
      body.on('error', () => {}).destroy();
      throw tooLarge(announced, 'Content-Length');
    }
    let bytes = 0;
    try {
      await pipeline(
        body,
        async function* capped(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > rules.maxBytes) throw tooLarge(bytes, 'received');
            yield chunk;
          }
        },
        createWriteStream(tempPath, { flags: 'wx' }),
        { signal: attemptSignal },
      );
    } catch (err) {
      body.destroy();
      throw errors.transportError(err, transport);
    }
    if (bytes === 0) throw errors.badResponse(exchange, statusCode, 'with an empty body');
    const contentType = resultContentType(headers['content-type'], url, spec.typesByExtension);
    return { path: spec.destPath, bytes, contentType };
  });
}

const genericType = 'application/octet-stream';

/** The media type of a downloaded result: the answer's, else the URL's extension's, else generic. */
export function resultContentType(
  header: string | string[] | undefined,
  url: string,
  typesByExtension: Readonly<Record<string, string>>,
): string {
  const sent = (Array.isArray(header) ? header[0] : header)?.split(';')[0]?.trim().toLowerCase();
  if (sent && sent !== genericType) return sent;
  const extension = extname(new URL(url).pathname).toLowerCase();
  return typesByExtension[extension] ?? sent ?? genericType;
}
