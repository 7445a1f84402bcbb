/**
 * Turns what goes wrong in a Sartiq exchange into ConnectorErrors with PROVIDER_* codes and
 * `details.provider = 'sartiq'`: FastAPI error statuses (providers.md §2.1, §2.2), failures of the
 * storage PUT and of result downloads, transport failures, and 2xx bodies of the wrong shape.
 *
 * Secrets (password, tokens) never reach a message, a detail or the log: every text taken from a
 * response passes `redact` first, because FastAPI validation errors echo the `input` they refuse.
 * Storage URLs appear as origin + path only (a presigned URL carries its signature in the query).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConnectorError, type ErrorCode } from '../../errors.ts';
import { checkBodyShape } from '../../http/body-shape.ts';
import { parseRetryAfter } from '../../http/retry-after.ts';
import { classifyTransportError, type TransportSignals } from '../../http/transport-errors.ts';
import { describeStatus, type S3ErrorInfo } from '../../media/download.ts';
import { fastApiErrorSchema } from './schemas.ts';

/** `details.provider` of every error raised for Sartiq. */
export const sartiqProvider = 'sartiq';

/**
 * The request an error is about, as it may appear in messages and logs: an API path without its
 * query, or a storage URL as origin + path.
 */
export interface SartiqExchange {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
}

/** An answer whose body was read to the end. */
export interface SartiqResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One refused field of a FastAPI validation error. */
export interface SartiqFieldIssue {
  /** `loc` joined with dots, e.g. `body.base_img_path`. */
  field: string;
  message: string;
}

/** What a FastAPI error body says. */
export interface SartiqErrorInfo {
  /** One line for the error message: the detail string, or every `field: msg` of a validation list. */
  summary: string | undefined;
  /** The entries of a validation list (empty for a detail string). */
  fields: SartiqFieldIssue[];
}

/** How many characters of a raw error body are logged. */
const loggedBodyChars = 4096;
/** How many characters of an error summary go into the message. */
const summaryChars = 500;

/** Replaces every occurrence of the given secrets (those of 4+ characters) with `[Redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length >= 4) result = result.split(secret).join('[Redacted]');
  return result;
}

/** Reads a FastAPI error body; a body of another shape yields its start as the summary (HTML excluded). */
export function parseSartiqError(text: string): SartiqErrorInfo {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = fastApiErrorSchema.safeParse(json);
  if (parsed.success) {
    const { detail } = parsed.data;
    if (typeof detail === 'string') return { summary: clip(detail.trim()) || undefined, fields: [] };
    if (Array.isArray(detail)) {
      const fields = detail.map((issue) => ({ field: issue.loc.map(String).join('.') || '(root)', message: issue.msg }));
      return { summary: clip(fields.map((f) => `${f.field}: ${f.message}`).join('; ')) || undefined, fields };
    }
    if (detail !== undefined && detail !== null) return { summary: clip(JSON.stringify(detail)) || undefined, fields: [] };
  }
  const plain = text.trim();
  const readable = plain !== '' && !plain.startsWith('<');
  return { summary: readable ? clip(plain) : undefined, fields: [] };
}

/** Options of statusError. */
export interface StatusErrorOptions {
  /** Values that must not appear in the message, details or log. */
  secrets: readonly string[];
  /** Overrides the code derived from the status, e.g. PROVIDER_AUTH_FAILED for a refused login. */
  code?: ErrorCode;
}

/**
 * The ConnectorError of a non-2xx API answer; logs the raw body (truncated, secrets redacted) at warn.
 *
 * - 401, 403 → PROVIDER_AUTH_FAILED (a 401 reaches here only after the one retry with a new token)
 * - 402, and 400 whose detail mentions credits → PROVIDER_NO_CREDITS
 * - 408 → PROVIDER_TIMEOUT; 429 → PROVIDER_RATE_LIMITED (retryAfterMs from Retry-After)
 * - 5xx → PROVIDER_SERVER_ERROR
 * - any other 4xx (404, 409, 422 validation, …) → PROVIDER_REJECTED
 */
export function statusError(
  logger: Logger,
  exchange: SartiqExchange,
  response: SartiqResponse,
  options: StatusErrorOptions,
): ConnectorError {
  const { status } = response;
  const body = redact(response.text, options.secrets);
  const info = parseSartiqError(body);
  logger.warn(
    {
      provider: sartiqProvider,
      method: exchange.method,
      path: exchange.path,
      status,
      body: body.length > loggedBodyChars ? `${body.slice(0, loggedBodyChars)}…` : body,
    },
    'Sartiq error response',
  );
  const details: Record<string, unknown> = { provider: sartiqProvider, method: exchange.method, path: exchange.path, status };
  if (info.fields.length > 0) details.fields = info.fields;
  const code = options.code ?? codeOfStatus(status, info.summary);
  const message = `Sartiq ${exchange.method} ${exchange.path} answered ${status}${info.summary ? `: ${info.summary}` : ''}`;
  const retryAfterMs = status === 429 ? parseRetryAfter(response.headers['retry-after']) : undefined;
  return new ConnectorError(code, message, { details, retryAfterMs });
}

function codeOfStatus(status: number, summary: string | undefined): ErrorCode {
  if (status === 401 || status === 403) return 'PROVIDER_AUTH_FAILED';
  if (status === 402 || (status === 400 && summary !== undefined && /\bcredits?\b/i.test(summary))) {
    return 'PROVIDER_NO_CREDITS';
  }
  if (status === 408) return 'PROVIDER_TIMEOUT';
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status >= 500) return 'PROVIDER_SERVER_ERROR';
  return 'PROVIDER_REJECTED';
}

/**
 * The ConnectorError of a non-2xx answer of Sartiq's storage: the PUT to a presigned `upload_url`
 * (Cloudflare R2) or the GET of a result URL (CDN). Only the S3 error's Code/Message/RequestId are
 * logged: the raw XML of a signature error echoes the signed request.
 *
 * - 429 → PROVIDER_RATE_LIMITED; 5xx → PROVIDER_SERVER_ERROR
 * - PUT: 413 or `EntityTooLarge` → PROVIDER_INPUT_REFUSED; any other 4xx → PROVIDER_REJECTED (a URL
 *   issued moments ago was refused: a request the storage will not take as sent)
 * - GET of a result: any other status → PROVIDER_SERVER_ERROR (retryable): Sartiq announced a result
 *   its storage does not serve (not propagated yet, or gone); a later attempt may get it, and the
 *   job layer bounds the attempts.
 */
export function storageError(
  logger: Logger,
  exchange: SartiqExchange,
  status: number,
  headers: IncomingHttpHeaders,
  s3: S3ErrorInfo,
): ConnectorError {
  logger.warn(
    { provider: sartiqProvider, method: exchange.method, path: exchange.path, status, s3 },
    'Sartiq storage error response',
  );
  const details = { provider: sartiqProvider, method: exchange.method, path: exchange.path, status, s3Code: s3.code };
  const message = `Sartiq storage ${exchange.method} ${exchange.path} failed: ${describeStatus(status, s3)}`;
  if (status === 429) {
    return new ConnectorError('PROVIDER_RATE_LIMITED', message, {
      details,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    });
  }
  let code: ErrorCode = 'PROVIDER_SERVER_ERROR';
  if (exchange.method === 'PUT' && status >= 400 && status < 500) {
    code = status === 413 || s3.code === 'EntityTooLarge' ? 'PROVIDER_INPUT_REFUSED' : 'PROVIDER_REJECTED';
  }
  return new ConnectorError(code, message, { details });
}

/** Where a transport failure happened, and the signals that may have ended it. */
export interface TransportContext extends TransportSignals {
  exchange: SartiqExchange;
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
  const details = { provider: sartiqProvider, method: exchange.method, path: exchange.path };
  if (failure.kind === 'timeout') {
    return new ConnectorError('PROVIDER_TIMEOUT', `Sartiq ${where} did not complete within ${timeoutMs} ms`, {
      cause: err,
      details,
    });
  }
  return new ConnectorError('PROVIDER_NETWORK', `Sartiq ${where} failed: ${failure.reason}`, { cause: err, details });
}

/** PROVIDER_BAD_RESPONSE for a 2xx answer that is not what the contract promises. */
export function badResponse(
  exchange: SartiqExchange,
  status: number,
  what: string,
  extra: Record<string, unknown> = {},
): ConnectorError {
  return new ConnectorError('PROVIDER_BAD_RESPONSE', `Sartiq ${exchange.method} ${exchange.path} answered ${status} ${what}`, {
    details: { provider: sartiqProvider, method: exchange.method, path: exchange.path, status, ...extra },
  });
}

/** Parses a 2xx JSON body; PROVIDER_BAD_RESPONSE when it is not JSON. */
export function readJson(exchange: SartiqExchange, status: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badResponse(exchange, status, 'with a body that is not JSON');
  }
}

/** Checks a 2xx body against its schema; PROVIDER_BAD_RESPONSE names the first bad field. */
export function parseShape<S extends z.ZodType>(
  schema: S,
  exchange: SartiqExchange,
  status: number,
  value: unknown,
): z.output<S> {
  const check = checkBodyShape(schema, value);
  if (check.ok) return check.value;
  throw badResponse(exchange, status, `with an unexpected body: ${check.summary}`, { issues: check.issues });
}

function clip(text: string): string {
  return text.length > summaryChars ? `${text.slice(0, summaryChars)}…` : text;
}
