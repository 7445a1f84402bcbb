/**
 * The provider-neutral part of turning what goes wrong in an AI provider exchange into
 * ConnectorErrors with PROVIDER_* codes and `details.provider`: redaction of secrets, error-status
 * errors (each provider parses its own error body and maps statuses to codes), storage errors,
 * transport failures, and 2xx bodies that are not JSON or of the wrong shape.
 *
 * Each provider's errors.ts binds these to its name (`details.provider`) and label (the subject of
 * messages, e.g. `Sartiq`) with {@link providerErrors}, and supplies its error-body parser and
 * status→code mapping to {@link providerStatusError}.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConnectorError, type ErrorCode } from '../errors.ts';
import { describeStatus, type S3ErrorInfo } from '../media/download.ts';
import { checkBodyShape } from './body-shape.ts';
import { parseRetryAfter } from './retry-after.ts';
import { classifyTransportError, type TransportSignals } from './transport-errors.ts';

/**
 * The request an error is about, as it may appear in messages and logs: an API path without its
 * query, or a storage URL as origin + path.
 */
export interface ProviderExchange {
  method: string;
  path: string;
}

/** An answer whose body was read to the end. */
export interface ProviderResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Where a transport failure happened, and the signals that may have ended it. */
export interface ProviderTransportContext extends TransportSignals {
  exchange: ProviderExchange;
  timeoutMs: number;
}

/** Who the errors are about. */
export interface ProviderIdentity {
  /** `details.provider`, e.g. `sartiq`. */
  provider: string;
  /** The subject of messages and log lines, e.g. `Sartiq`. */
  label: string;
}

/** How many characters of a raw error body are logged. */
const loggedBodyChars = 4096;

/**
 * Replaces every occurrence of the given secrets (those of 4+ characters) with `[Redacted]`, as they
 * are and in the forms a server may echo them from a request: percent-encoded, or form-encoded.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    const forms = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
    for (const form of forms) result = result.split(form).join('[Redacted]');
  }
  return result;
}

/** The text cut to `max` characters, with `…` when it was cut. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The start of a body that is not a known error shape, for a message; undefined for blank or HTML. */
export function plainSummary(text: string, max: number, ellipsis = true): string | undefined {
  const plain = text.trim();
  if (plain === '' || plain.startsWith('<')) return undefined;
  return ellipsis ? clip(plain, max) : plain.slice(0, max);
}

/** `{ provider, method, path }` of an exchange, the start of every error's details. */
export function exchangeDetails(
  provider: string,
  exchange: ProviderExchange,
): { provider: string; method: string; path: string } {
  return { provider, method: exchange.method, path: exchange.path };
}

/** What a provider's parser makes of an error body. */
export interface ErrorBodyInfo {
  /** One line for the error message. */
  summary: string | undefined;
}

/** How one provider reads its error answers. */
export interface StatusErrorSpec<I extends ErrorBodyInfo> {
  /** Reads a (redacted) error body. */
  parse(body: string): I;
  /** The code of a status, when the caller does not override it. */
  codeOf(status: number, info: I): ErrorCode;
  /** Details added after `{ provider, method, path, status }`. */
  details?(info: I): Record<string, unknown>;
  /** Fields added to the log line (before the body). */
  logFields?(info: I): Record<string, unknown>;
  /** An error the body names whatever the status (code and message); it wins over the caller's code. */
  refusal?(info: I): { code: ErrorCode; message: string } | undefined;
  /** The retryAfterMs of the error; may add to `details`. Default: Retry-After of a 429. */
  retryAfterMs?(response: ProviderResponse, details: Record<string, unknown>): number | undefined;
}

/** Options of a statusError call. */
export interface StatusErrorOptions {
  /** Values that must not appear in the message, details or log. */
  secrets: readonly string[];
  /** Overrides the code derived from the status, e.g. PROVIDER_AUTH_FAILED for a refused login. */
  code?: ErrorCode;
  /** The subject of the message; default the provider's label. */
  service?: string;
}

/**
 * The ConnectorError of a non-2xx API answer; logs the raw body (truncated, secrets redacted) at
 * warn as `<label> error response`.
 */
export function providerStatusError<I extends ErrorBodyInfo>(
  identity: ProviderIdentity,
  spec: StatusErrorSpec<I>,
  logger: Logger,
  exchange: ProviderExchange,
  response: ProviderResponse,
  options: StatusErrorOptions,
): ConnectorError {
  const { status } = response;
  const body = redact(response.text, options.secrets);
  const info = spec.parse(body);
  const where = exchangeDetails(identity.provider, exchange);
  logger.warn(
    { ...where, status, ...spec.logFields?.(info), body: clip(body, loggedBodyChars) },
    `${identity.label} error response`,
  );
  const details: Record<string, unknown> = { ...where, status, ...spec.details?.(info) };
  const refusal = spec.refusal?.(info);
  if (refusal !== undefined) return new ConnectorError(refusal.code, refusal.message, { details });
  const code = options.code ?? spec.codeOf(status, info);
  const service = options.service ?? identity.label;
  const message = `${service} ${exchange.method} ${exchange.path} answered ${status}`;
  const retryAfterMs = spec.retryAfterMs
    ? spec.retryAfterMs(response, details)
    : status === 429
      ? parseRetryAfter(response.headers['retry-after'])
      : undefined;
  return new ConnectorError(code, message, { details, retryAfterMs, remoteText: info.summary });
}

/** How a provider's storage (presigned upload or result URLs) errors read. */
export interface StorageErrorSpec {
  /** The subject of the message, e.g. `Sartiq storage`. */
  subject: string;
  /** The code of a status other than 429. Default PROVIDER_SERVER_ERROR (retryable). */
  codeOf?(exchange: ProviderExchange, status: number, s3: S3ErrorInfo): ErrorCode;
}

/** Why a result URL was not downloaded (downloadResult). */
export type ResultRefusal =
  /** The URL's host is not on the connection's result hosts. */
  | { rule: 'host' }
  /** Every address the host stands for is refused (refused-addresses.ts); `why` is the first one's rule. */
  | { rule: 'address'; addresses: readonly string[]; why: string }
  /** The result is larger than the cap, by its Content-Length or by the bytes received. */
  | { rule: 'size'; maxBytes: number; bytes: number; source: 'Content-Length' | 'received' };

/** The errors of one provider, bound to its name and label. */
export interface ProviderErrors {
  /** PROVIDER_BAD_RESPONSE for a 2xx answer that is not what the contract promises. */
  badResponse(exchange: ProviderExchange, status: number, what: string, extra?: Record<string, unknown>): ConnectorError;
  /** Parses a 2xx JSON body; PROVIDER_BAD_RESPONSE when it is not JSON. */
  readJson(exchange: ProviderExchange, status: number, text: string): unknown;
  /** Checks a value from a 2xx body against its schema; PROVIDER_BAD_RESPONSE names the first bad field. */
  parseShape<S extends z.ZodType>(schema: S, exchange: ProviderExchange, status: number, value: unknown): z.output<S>;
  /**
   * What to throw when a request failed before or while its answer arrived: the caller's abort
   * reason, PROVIDER_TIMEOUT (deadline or undici timeouts) or PROVIDER_NETWORK. A ConnectorError
   * (raised while reading a body) passes through.
   */
  transportError(err: unknown, context: ProviderTransportContext): unknown;
  /**
   * PROVIDER_RESULT_REFUSED for a result URL that is not downloaded; the message names the host
   * and the rule, never the URL (a presigned query is a secret).
   */
  resultRefused(host: string, refusal: ResultRefusal): ConnectorError;
  /**
   * The ConnectorError of a non-2xx storage answer. Only the S3 error's Code/Message/RequestId are
   * logged (the raw XML of a signature error echoes the signed request). 429 → PROVIDER_RATE_LIMITED
   * (Retry-After); any other status → `storage.codeOf`, default PROVIDER_SERVER_ERROR.
   */
  storageError(
    logger: Logger,
    exchange: ProviderExchange,
    status: number,
    headers: IncomingHttpHeaders,
    s3: S3ErrorInfo,
  ): ConnectorError;
}

/** The errors of one provider; `storage` describes its storage errors (default subject `<label> storage`). */
export function providerErrors(identity: ProviderIdentity, storage?: StorageErrorSpec): ProviderErrors {
  const { provider, label } = identity;
  const badResponse = (
    exchange: ProviderExchange,
    status: number,
    what: string,
    extra: Record<string, unknown> = {},
  ): ConnectorError =>
    new ConnectorError('PROVIDER_BAD_RESPONSE', `${label} ${exchange.method} ${exchange.path} answered ${status} ${what}`, {
      details: { ...exchangeDetails(provider, exchange), status, ...extra },
    });
  return {
    badResponse,
    readJson(exchange, status, text) {
      try {
        return JSON.parse(text);
      } catch {
        throw badResponse(exchange, status, 'with a body that is not JSON');
      }
    },
    parseShape(schema, exchange, status, value) {
      const check = checkBodyShape(schema, value);
      if (check.ok) return check.value;
      throw badResponse(exchange, status, `with an unexpected body: ${check.summary}`, { issues: check.issues });
    },
    transportError(err, context) {
      const { exchange, timeoutMs } = context;
      const failure = classifyTransportError(err, context);
      if (failure.kind === 'aborted') return failure.reason;
      if (err instanceof ConnectorError) return err;
      const where = `${exchange.method} ${exchange.path}`;
      const details = exchangeDetails(provider, exchange);
      if (failure.kind === 'timeout') {
        return new ConnectorError('PROVIDER_TIMEOUT', `${label} ${where} did not complete within ${timeoutMs} ms`, {
          cause: err,
          details,
        });
      }
      return new ConnectorError('PROVIDER_NETWORK', `${label} ${where} failed: ${failure.reason}`, { cause: err, details });
    },
    resultRefused(host, refusal) {
      const { rule, ...facts } = refusal;
      const why =
        refusal.rule === 'host'
          ? `host ${host} is not on the allow-list of result hosts (${provider}.resultHosts)`
          : refusal.rule === 'address'
            ? `host ${host} leads to a refused address (${refusal.why}); results are fetched from public addresses only`
            : `the result from host ${host} is larger than ${refusal.maxBytes} bytes (PROVIDER_RESULT_MAX_BYTES)`;
      return new ConnectorError('PROVIDER_RESULT_REFUSED', `${label} result not downloaded: ${why}`, {
        details: { provider, host, rule, ...facts },
      });
    },
    storageError(logger, exchange, status, headers, s3) {
      const where = exchangeDetails(provider, exchange);
      logger.warn({ ...where, status, s3 }, `${label} storage error response`);
      const details = { ...where, status, s3Code: s3.code };
      const message = `${storage?.subject ?? `${label} storage`} ${exchange.method} ${exchange.path} failed: ${describeStatus(status, s3)}`;
      if (status === 429) {
        return new ConnectorError('PROVIDER_RATE_LIMITED', message, {
          details,
          retryAfterMs: parseRetryAfter(headers['retry-after']),
        });
      }
      const code = storage?.codeOf?.(exchange, status, s3) ?? 'PROVIDER_SERVER_ERROR';
      return new ConnectorError(code, message, { details });
    },
  };
}
