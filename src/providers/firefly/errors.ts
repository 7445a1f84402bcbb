/**
 * Turns what goes wrong in a Firefly exchange into ConnectorErrors with PROVIDER_* codes and
 * `details.provider = 'firefly'`: Workflow Builder error answers `{ error, message?, status }`
 * (providers.md §3.2, §3.7, §3.8), Adobe IMS refusals, failures of result downloads, transport
 * failures, and 2xx bodies of the wrong shape.
 *
 * Secrets (client secret, tokens) never reach a message, a detail or the log: every text taken
 * from a response passes `redact` first. Presigned URLs appear as origin + path only.
 *
 * A 429 is not retried by the client: the error carries `retryAfterMs` (until `x-ratelimit-reset`,
 * or Retry-After) and `details.rateLimitResetAtMs`, and the caller waits.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConnectorError, type ErrorCode } from '../../errors.ts';
import { checkBodyShape } from '../../http/body-shape.ts';
import { parseRetryAfter } from '../../http/retry-after.ts';
import { classifyTransportError, type TransportSignals } from '../../http/transport-errors.ts';
import { describeStatus, type S3ErrorInfo } from '../../media/download.ts';

/** `details.provider` of every error raised for Firefly. */
export const fireflyProvider = 'firefly';

/**
 * The request an error is about, as it may appear in messages and logs: an API path without its
 * query, the IMS token URL, or a presigned URL as origin + path.
 */
export interface FireflyExchange {
  method: 'GET' | 'POST';
  path: string;
}

/** An answer whose body was read to the end. */
export interface FireflyResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** What an error body says. */
export interface FireflyErrorInfo {
  /** `error` of the Workflow Builder body (or IMS's `error` code). */
  error: string | null;
  /** `message` (or IMS's `error_description`). */
  message: string | null;
  /** One line for the error message: `error: message`, or the start of a body of another shape (not HTML). */
  summary: string | undefined;
}

/** The rate-limit window of a 429, from the `x-ratelimit-*` headers and Retry-After. */
export interface FireflyRateLimit {
  /** How long to wait from now (ms, ≥ 0); undefined when neither header says. */
  retryAfterMs: number | undefined;
  /** When the window resets (epoch ms); undefined when no header says. */
  resetAtMs: number | undefined;
  /** `x-ratelimit-limit`, when given. */
  limit: number | undefined;
  /** `x-ratelimit-remaining`, when given. */
  remaining: number | undefined;
}

/** How many characters of a raw error body are logged. */
const loggedBodyChars = 4096;
/** How many characters of an error summary go into the message. */
const summaryChars = 500;
/**
 * An `x-ratelimit-reset` below this (2001-09-09 in Unix seconds) cannot be an instant: it is read as
 * seconds from now, the other common meaning of the header.
 */
const smallestUnixResetS = 1_000_000_000;

/** Replaces every occurrence of the given secrets (those of 4+ characters) with `[Redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length >= 4) result = result.split(secret).join('[Redacted]');
  return result;
}

/** Reads a Workflow Builder (`error`, `message`) or IMS (`error`, `error_description`) error body. */
export function parseFireflyError(text: string): FireflyErrorInfo {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const body = json as Record<string, unknown>;
    const error = textField(body.error) ?? textField(body.error_code) ?? textField(body.code);
    const message = textField(body.message) ?? textField(body.error_description) ?? textField(body.detail);
    if (error !== null || message !== null) {
      const summary = error !== null && message !== null && error !== message ? `${error}: ${message}` : (error ?? message);
      return { error, message, summary: clip(summary ?? '') || undefined };
    }
  }
  const plain = text.trim();
  const readable = plain !== '' && !plain.startsWith('<');
  return { error: null, message: null, summary: readable ? clip(plain) : undefined };
}

/**
 * The wait a 429 (or 503) asks for. `x-ratelimit-reset` is Unix seconds (Adobe's spec): the wait is
 * reset − now, at least 0. When Retry-After is given too, the longer wait wins.
 */
export function fireflyRateLimit(headers: IncomingHttpHeaders, now = Date.now()): FireflyRateLimit {
  const reset = headerNumber(headers['x-ratelimit-reset']);
  let resetAtMs: number | undefined;
  if (reset !== undefined) resetAtMs = reset < smallestUnixResetS ? now + reset * 1000 : reset * 1000;
  const fromReset = resetAtMs === undefined ? undefined : Math.max(0, Math.ceil(resetAtMs - now));
  const fromRetryAfter = parseRetryAfter(headers['retry-after']);
  const retryAfterMs =
    fromReset === undefined ? fromRetryAfter : fromRetryAfter === undefined ? fromReset : Math.max(fromReset, fromRetryAfter);
  if (resetAtMs === undefined && retryAfterMs !== undefined) resetAtMs = now + retryAfterMs;
  return {
    retryAfterMs,
    resetAtMs,
    limit: headerNumber(headers['x-ratelimit-limit']),
    remaining: headerNumber(headers['x-ratelimit-remaining']),
  };
}

/** The reset instant (epoch ms) a PROVIDER_RATE_LIMITED error of this module carries, if any. */
export function fireflyRateLimitResetAtMs(err: unknown): number | undefined {
  if (!(err instanceof ConnectorError) || err.details?.provider !== fireflyProvider) return undefined;
  const value = err.details.rateLimitResetAtMs;
  return typeof value === 'number' ? value : undefined;
}

/** Options of statusError. */
export interface StatusErrorOptions {
  /** Values that must not appear in the message, details or log. */
  secrets: readonly string[];
  /** Overrides the code derived from the status, e.g. PROVIDER_AUTH_FAILED for a refused IMS request. */
  code?: ErrorCode;
  /** The subject of the message; default `Firefly`. */
  service?: string;
}

/**
 * The ConnectorError of a non-2xx answer; logs the raw body (truncated, secrets redacted) at warn.
 *
 * - 400, 404 and any other 4xx → PROVIDER_REJECTED (the message carries Firefly's `error` and `message`)
 * - 401 (reaches here only after the one retry with a new token), 403 → PROVIDER_AUTH_FAILED
 * - 408 → PROVIDER_TIMEOUT
 * - 429 → PROVIDER_RATE_LIMITED, `retryAfterMs` until `x-ratelimit-reset` (or Retry-After);
 *   `details.rateLimitResetAtMs` (epoch ms), `rateLimitLimit`, `rateLimitRemaining`
 * - 503 (org membership could not be verified) and every other 5xx → PROVIDER_SERVER_ERROR (retryable),
 *   with `retryAfterMs` when Retry-After is given
 * - anything else (e.g. an unfollowed 3xx) → PROVIDER_BAD_RESPONSE
 */
export function statusError(
  logger: Logger,
  exchange: FireflyExchange,
  response: FireflyResponse,
  options: StatusErrorOptions,
): ConnectorError {
  const { status } = response;
  const body = redact(response.text, options.secrets);
  const info = parseFireflyError(body);
  logger.warn(
    {
      provider: fireflyProvider,
      method: exchange.method,
      path: exchange.path,
      status,
      body: body.length > loggedBodyChars ? `${body.slice(0, loggedBodyChars)}…` : body,
    },
    'Firefly error response',
  );
  const details: Record<string, unknown> = { provider: fireflyProvider, method: exchange.method, path: exchange.path, status };
  if (info.error !== null) details.fireflyError = clip(info.error);
  if (info.message !== null) details.fireflyMessage = clip(info.message);
  const code = options.code ?? codeOfStatus(status);
  const service = options.service ?? 'Firefly';
  const message = `${service} ${exchange.method} ${exchange.path} answered ${status}${info.summary ? `: ${info.summary}` : ''}`;
  let retryAfterMs: number | undefined;
  if (status === 429) {
    const limit = fireflyRateLimit(response.headers);
    retryAfterMs = limit.retryAfterMs;
    if (limit.resetAtMs !== undefined) details.rateLimitResetAtMs = limit.resetAtMs;
    if (limit.limit !== undefined) details.rateLimitLimit = limit.limit;
    if (limit.remaining !== undefined) details.rateLimitRemaining = limit.remaining;
  } else if (status >= 500) {
    retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  }
  return new ConnectorError(code, message, { details, retryAfterMs });
}

function codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'PROVIDER_AUTH_FAILED';
  if (status === 408) return 'PROVIDER_TIMEOUT';
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status >= 500) return 'PROVIDER_SERVER_ERROR';
  if (status >= 400) return 'PROVIDER_REJECTED';
  return 'PROVIDER_BAD_RESPONSE';
}

/**
 * The ConnectorError of a non-2xx answer to the GET of a presigned result URL. Only the S3 error's
 * Code/Message/RequestId are logged (the raw XML of a signature error echoes the signed request).
 *
 * - 429 → PROVIDER_RATE_LIMITED (Retry-After)
 * - anything else → PROVIDER_SERVER_ERROR (retryable): Firefly announced a result its storage does
 *   not serve (not there yet, or the URL expired). A later attempt that reads the executions again
 *   gets fresh URLs; the job layer bounds the attempts.
 */
export function storageError(
  logger: Logger,
  exchange: FireflyExchange,
  status: number,
  headers: IncomingHttpHeaders,
  s3: S3ErrorInfo,
): ConnectorError {
  logger.warn(
    { provider: fireflyProvider, method: exchange.method, path: exchange.path, status, s3 },
    'Firefly storage error response',
  );
  const details = { provider: fireflyProvider, method: exchange.method, path: exchange.path, status, s3Code: s3.code };
  const message = `Firefly result ${exchange.method} ${exchange.path} failed: ${describeStatus(status, s3)}`;
  if (status === 429) {
    return new ConnectorError('PROVIDER_RATE_LIMITED', message, {
      details,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    });
  }
  return new ConnectorError('PROVIDER_SERVER_ERROR', message, { details });
}

/** Where a transport failure happened, and the signals that may have ended it. */
export interface TransportContext extends TransportSignals {
  exchange: FireflyExchange;
  timeoutMs: number;
}

/**
 * What to throw when a request failed before or while its answer arrived: the caller's abort
 * reason, PROVIDER_TIMEOUT (deadline or undici timeouts) or PROVIDER_NETWORK. A ConnectorError
 * (raised while reading a body) passes through.
 */
export function transportError(err: unknown, context: TransportContext): unknown {
  const { exchange, timeoutMs } = context;
  const failure = classifyTransportError(err, context);
  if (failure.kind === 'aborted') return failure.reason;
  if (err instanceof ConnectorError) return err;
  const where = `${exchange.method} ${exchange.path}`;
  const details = { provider: fireflyProvider, method: exchange.method, path: exchange.path };
  if (failure.kind === 'timeout') {
    return new ConnectorError('PROVIDER_TIMEOUT', `Firefly ${where} did not complete within ${timeoutMs} ms`, {
      cause: err,
      details,
    });
  }
  return new ConnectorError('PROVIDER_NETWORK', `Firefly ${where} failed: ${failure.reason}`, { cause: err, details });
}

/** PROVIDER_BAD_RESPONSE for a 2xx answer that is not what the contract promises. */
export function badResponse(
  exchange: FireflyExchange,
  status: number,
  what: string,
  extra: Record<string, unknown> = {},
): ConnectorError {
  return new ConnectorError('PROVIDER_BAD_RESPONSE', `Firefly ${exchange.method} ${exchange.path} answered ${status} ${what}`, {
    details: { provider: fireflyProvider, method: exchange.method, path: exchange.path, status, ...extra },
  });
}

/** Parses a 2xx JSON body; PROVIDER_BAD_RESPONSE when it is not JSON. */
export function readJson(exchange: FireflyExchange, status: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badResponse(exchange, status, 'with a body that is not JSON');
  }
}

/** Checks a 2xx body against its schema; PROVIDER_BAD_RESPONSE names the first bad field. */
export function parseShape<S extends z.ZodType>(
  schema: S,
  exchange: FireflyExchange,
  status: number,
  value: unknown,
): z.output<S> {
  const check = checkBodyShape(schema, value);
  if (check.ok) return check.value;
  throw badResponse(exchange, status, `with an unexpected body: ${check.summary}`, { issues: check.issues });
}

function textField(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number') return String(value);
  return null;
}

function headerNumber(value: string | string[] | undefined): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw || !/^\d+(\.\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}

function clip(text: string): string {
  return text.length > summaryChars ? `${text.slice(0, summaryChars)}…` : text;
}
