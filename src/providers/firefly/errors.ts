/**
 * Turns what goes wrong in a Firefly exchange into ConnectorErrors with PROVIDER_* codes and
 * `details.provider = 'firefly'`: Workflow Builder error answers `{ error, message?, status }`
 * (the Workflow Builder API's OpenAPI spec), Adobe IMS refusals, failures of result downloads, transport
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
import { ConnectorError, type ErrorCode } from '../../errors.ts';
import {
  clip as clipTo,
  type ProviderTransportContext,
  plainSummary,
  providerErrors,
  providerStatusError,
  type StatusErrorOptions,
  type StatusErrorSpec,
} from '../../http/provider-errors.ts';
import { parseRetryAfter } from '../../http/retry-after.ts';

export { redact, type StatusErrorOptions } from '../../http/provider-errors.ts';

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

/** How many characters of an error summary go into the message. */
const summaryChars = 500;
/**
 * An `x-ratelimit-reset` below this (2001-09-09 in Unix seconds) cannot be an instant: it is read as
 * seconds from now, the other common meaning of the header.
 */
const smallestUnixResetS = 1_000_000_000;

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
  return { error: null, message: null, summary: plainSummary(text, summaryChars) };
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

const identity = { provider: fireflyProvider, label: 'Firefly' };

/**
 * How Firefly's (and Adobe IMS's) error answers read:
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
const statusSpec: StatusErrorSpec<FireflyErrorInfo> = {
  parse: parseFireflyError,
  codeOf: codeOfStatus,
  details: (info) => ({
    ...(info.error !== null && { fireflyError: clip(info.error) }),
    ...(info.message !== null && { fireflyMessage: clip(info.message) }),
  }),
  retryAfterMs: (response, details) => {
    if (response.status === 429) {
      const limit = fireflyRateLimit(response.headers);
      if (limit.resetAtMs !== undefined) details.rateLimitResetAtMs = limit.resetAtMs;
      if (limit.limit !== undefined) details.rateLimitLimit = limit.limit;
      if (limit.remaining !== undefined) details.rateLimitRemaining = limit.remaining;
      return limit.retryAfterMs;
    }
    return response.status >= 500 ? parseRetryAfter(response.headers['retry-after']) : undefined;
  },
};

/**
 * The ConnectorError of a non-2xx answer; logs the raw body (truncated, secrets redacted) at warn.
 * `options.service` is the subject of the message (default `Firefly`; `Adobe IMS` for the token).
 */
export function statusError(
  logger: Logger,
  exchange: FireflyExchange,
  response: FireflyResponse,
  options: StatusErrorOptions,
): ConnectorError {
  return providerStatusError(identity, statusSpec, logger, exchange, response, options);
}

function codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'PROVIDER_AUTH_FAILED';
  if (status === 408) return 'PROVIDER_TIMEOUT';
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status >= 500) return 'PROVIDER_SERVER_ERROR';
  if (status >= 400) return 'PROVIDER_REJECTED';
  return 'PROVIDER_BAD_RESPONSE';
}

/** Where a transport failure happened, and the signals that may have ended it. */
export type TransportContext = ProviderTransportContext;

/**
 * The errors bound to Firefly (see src/http/provider-errors.ts): `badResponse`, `readJson`,
 * `parseShape`, `transportError`, and `storageError` for a non-2xx answer to the GET of a presigned
 * result URL:
 *
 * - 429 → PROVIDER_RATE_LIMITED (Retry-After)
 * - anything else → PROVIDER_SERVER_ERROR (retryable): Firefly announced a result its storage does
 *   not serve (not there yet, or the URL expired). A later attempt that reads the executions again
 *   gets fresh URLs; the job layer bounds the attempts.
 */
export const fireflyErrors = providerErrors(identity, {
  subject: 'Firefly result',
});
export const { badResponse, readJson, parseShape, transportError, storageError } = fireflyErrors;

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
  return clipTo(text, summaryChars);
}
