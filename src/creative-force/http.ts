/**
 * HTTP plumbing shared by the token store and the gateway client: every attempt waits for the
 * shared rate limiter, runs under a whole-request deadline, reads its body to the end (an unread
 * undici body holds its connection), retries 429 after the limiter's pause, and turns transport
 * failures and error statuses into ConnectorErrors.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import type { z } from 'zod';
import { ConnectorError, type ErrorCode, isConnectorError } from '../errors.ts';
import { checkBodyShape } from '../http/body-shape.ts';
import { clip, redact } from '../http/provider-errors.ts';
import { parseRetryAfter } from '../http/retry-after.ts';
import { classifyTransportError } from '../http/transport-errors.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import type { RateLimiter, RateLimitGrant } from './rate-limiter.ts';
import { gatewayErrorBodySchema } from './schemas.ts';
import { applyFieldAliases } from './wire-forms.ts';

/** Dependencies of one exchange. */
export interface HttpDeps {
  dispatcher: Dispatcher;
  limiter: RateLimiter;
  logger: Logger;
  /** Whole-request deadline per attempt: headers and body (config `requestTimeoutMs`). */
  timeoutMs: number;
  /** 429 answers retried after the limiter's pause before giving up with CF_RATE_LIMITED. */
  maxRateLimitRetries: number;
  /** Counts each request by operation and status, and the limiter's waits. */
  metrics?: CreativeForceMetrics | undefined;
}

/** What the Creative Force plumbing records. */
export type CreativeForceMetrics = Pick<ServiceMetrics, 'creativeForceRequest' | 'limiterWaited' | 'limiterSlotsMissed'>;

/** One request to send. */
export interface HttpExchange {
  /** The gateway operation (the client's method, or `token`), for metrics. */
  operation: string;
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  /** The path used in messages and logs: no query string, nothing secret. */
  logPath: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** How many characters of a raw error body are logged. */
const loggedBodyChars = 4096;

export { closeSharedDispatcher, sharedDispatcher } from '../http/shared-agent.ts';

/**
 * Nothing was sent: the slot's deadline (`sendBy`) had passed when undici was about to write the
 * request, because its connection had to be opened first (a TCP connect, a TLS handshake in
 * production) or the event loop was late. Thrown from the handler's onRequestStart, which undici
 * calls once the socket is ready and right before it writes the headers in the same synchronous
 * step: the request fails without a byte on the wire, and the connection stays open for the next.
 */
class SlotMissed extends Error {}

/** Passes every event through, but refuses to start its request once `sendBy` (performance.now()) has passed. */
class SendByHandler implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #sendBy: number;

  constructor(handler: Dispatcher.DispatchHandler, sendBy: number) {
    this.#handler = handler;
    this.#sendBy = sendBy;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    if (performance.now() > this.#sendBy) throw new SlotMissed();
    this.#handler.onRequestStart?.(controller, context);
  }
  onRequestUpgrade(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>): void {
    this.#handler.onRequestUpgrade?.(...args);
  }
  onResponseStart(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>): void {
    this.#handler.onResponseStart?.(...args);
  }
  onResponseData(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseData']>>): void {
    this.#handler.onResponseData?.(...args);
  }
  onResponseEnd(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>): void {
    this.#handler.onResponseEnd?.(...args);
  }
  onResponseError(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseError']>>): void {
    this.#handler.onResponseError?.(...args);
  }
}

/** `dispatcher`, with the request it starts held to `sendBy` (see SlotMissed). */
function heldTo(dispatcher: Dispatcher, sendBy: number | undefined): Dispatcher {
  if (sendBy === undefined) return dispatcher;
  return dispatcher.compose((dispatch) => (options, handler) => dispatch(options, new SendByHandler(handler, sendBy)));
}

/**
 * Slots in a row one request may miss at the socket before it is sent without the hold. Each miss
 * leaves an open connection behind, so the next try normally finds one ready; a server that closes
 * idle connections sooner than the limiter's wait could otherwise keep a request from ever leaving.
 */
const maxSlotMisses = 3;

/**
 * Sends an exchange through the limiter. Resolves with any status other than 429; a 429 pauses
 * every process through the limiter, then the same request is tried again when the limiter lets it
 * through (a 429 means CF did not process the request, so this is safe for writes too).
 */
export async function sendThroughLimiter(deps: HttpDeps, exchange: HttpExchange, signal?: AbortSignal): Promise<HttpResponse> {
  let misses = 0;
  for (let retries = 0; ; ) {
    const grant = await usableGrant(deps, signal);
    deps.metrics?.limiterWaited(grant.waitedMs / 1000);
    // The same deadline, checked again where undici writes the request (after any connect).
    const sendBy = misses < maxSlotMisses ? grant.sendBy : undefined;
    const response = await counted(deps, exchange, sendOnce(deps, exchange, sendBy, signal));
    if (response === slotMissed) {
      deps.metrics?.limiterSlotsMissed('socket', 1);
      misses += 1;
      if (misses === maxSlotMisses) {
        deps.logger.warn(
          { method: exchange.method, path: exchange.logPath, misses },
          'Creative Force request missed its slot at the socket repeatedly; the next one is sent without the hold',
        );
      }
      continue;
    }
    misses = 0;
    if (response.status !== 429) {
      // The consecutive-429 count is about being throttled: any other answer ends the streak.
      await deps.limiter.onSuccess();
      return response;
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    const pausedMs = await deps.limiter.onRateLimited(retryAfterMs);
    deps.logger.warn(
      { method: exchange.method, path: exchange.logPath, status: 429, retryAfterMs, pausedMs, retries },
      'Creative Force rate limited a request; all processes pause',
    );
    if (retries >= deps.maxRateLimitRetries) {
      throw new ConnectorError(
        'CF_RATE_LIMITED',
        `Creative Force ${exchange.method} ${exchange.logPath} answered 429 ${retries + 1} times in a row`,
        { retryAfterMs: pausedMs, details: { method: exchange.method, path: exchange.logPath, status: 429 } },
      );
    }
    retries += 1;
  }
}

/**
 * A slot that can still be used now: one the caller is already past the deadline of (a slot used
 * late could make a 21st request in a second) is given up for the next, and counted.
 */
async function usableGrant(deps: HttpDeps, signal: AbortSignal | undefined): Promise<RateLimitGrant> {
  for (;;) {
    const grant = await deps.limiter.acquire(signal);
    deps.metrics?.limiterSlotsMissed('wake', grant.missedSlots ?? 0);
    if (grant.sendBy === undefined || performance.now() <= grant.sendBy) return grant;
    deps.metrics?.limiterSlotsMissed('send', 1);
  }
}

/** What sendOnce resolves with when the request was not sent (see SlotMissed). */
const slotMissed = Symbol('slot missed');

/**
 * Counts a request by its status, or by how it failed (`timeout`, `network`, `aborted`); one that
 * missed its slot was not sent, and is not counted.
 */
async function counted<R extends HttpResponse | typeof slotMissed>(
  deps: HttpDeps,
  exchange: HttpExchange,
  sending: Promise<R>,
): Promise<R> {
  try {
    const response = await sending;
    if (response !== slotMissed) deps.metrics?.creativeForceRequest(exchange.operation, String(response.status));
    return response;
  } catch (err) {
    const code = isConnectorError(err) ? err.code : undefined;
    const status = code === 'CF_TIMEOUT' ? 'timeout' : code === 'CF_NETWORK' ? 'network' : 'aborted';
    deps.metrics?.creativeForceRequest(exchange.operation, status);
    throw err;
  }
}

async function sendOnce(
  deps: HttpDeps,
  exchange: HttpExchange,
  sendBy: number | undefined,
  callerSignal?: AbortSignal,
): Promise<HttpResponse | typeof slotMissed> {
  const deadline = AbortSignal.timeout(deps.timeoutMs);
  const signal = callerSignal ? AbortSignal.any([deadline, callerSignal]) : deadline;
  try {
    const response = await request(exchange.url, {
      dispatcher: heldTo(deps.dispatcher, sendBy),
      method: exchange.method,
      headers: exchange.headers,
      body: exchange.body ?? null,
      signal,
    });
    // Read every body, error bodies included: they are small, logged, and an unread body would keep
    // the connection out of the pool.
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text };
  } catch (err) {
    if (err instanceof SlotMissed) return slotMissed;
    const failure = classifyTransportError(err, { deadline, callerSignal });
    if (failure.kind === 'aborted') throw failure.reason;
    const where = `${exchange.method} ${exchange.logPath}`;
    const details = { method: exchange.method, path: exchange.logPath };
    if (failure.kind === 'timeout') {
      throw new ConnectorError('CF_TIMEOUT', `Creative Force ${where} did not answer within ${deps.timeoutMs} ms`, {
        cause: err,
        details,
      });
    }
    throw new ConnectorError('CF_NETWORK', `Creative Force ${where} failed: ${failure.reason}`, { cause: err, details });
  }
}

/** What an error body says, in either CF form (business errors or ProblemDetails) or OAuth's. */
export interface ErrorBodyInfo {
  /** One line for the error message, e.g. "ErrorCode-1554 SubmitMappingKeyMismatch". */
  summary: string | undefined;
  /** Code of the first business error, e.g. "ErrorCode-1554" or "GEN-4". */
  cfErrorCode: string | undefined;
  /** OAuth `error` of the token endpoint, e.g. "invalid_client". */
  oauthError: string | undefined;
  /** Structured fields for ConnectorError.details (only those present). */
  details: Record<string, unknown>;
}

export function parseErrorBody(text: string): ErrorBodyInfo {
  const none: ErrorBodyInfo = { summary: undefined, cfErrorCode: undefined, oauthError: undefined, details: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return none;
  }
  const parsed = gatewayErrorBodySchema.safeParse(json);
  if (!parsed.success) return none;
  const body = parsed.data;
  if ('error' in body) {
    const summary = [body.error, body.error_description].filter(Boolean).join(': ');
    return { ...none, summary, oauthError: body.error, details: { oauthError: body.error } };
  }
  if (Array.isArray(body.errors)) {
    const cfErrors = body.errors.map((e) => ({
      code: e.code === undefined ? undefined : String(e.code),
      message: e.message,
    }));
    const summary = cfErrors.map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ');
    const cfErrorCode = cfErrors.find((e) => e.code !== undefined)?.code;
    return { ...none, summary: summary || undefined, cfErrorCode, details: { cfErrorCode, cfErrors } };
  }
  const problem = body as Extract<typeof body, { title?: string }>;
  const fields = Object.entries(problem.errors).map(([field, messages]) => `${field}: ${messages.join(' ')}`);
  const summary = [problem.title, fields.join('; ')].filter(Boolean).join(' ');
  return {
    ...none,
    summary: summary || undefined,
    details: { fieldErrors: problem.errors, title: problem.title, traceId: problem.traceId },
  };
}

/** The error code of a non-2xx, non-429 status. */
function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return 'CF_UNAUTHORIZED';
  if (status === 403) return 'CF_FORBIDDEN';
  if (status === 404) return 'CF_NOT_FOUND';
  if (status >= 500) return 'CF_SERVER_ERROR';
  return 'CF_REJECTED';
}

/** Options of a statusError call. */
export interface StatusErrorOptions {
  /** Values that must not appear in the log or the error (the client secret, the bearer token). */
  secrets: readonly string[];
  /** Overrides the code derived from the status, e.g. CF_AUTH_FAILED for refused credentials. */
  code?: ErrorCode;
  /** The subject of the message; default `Creative Force <method> <path>`. */
  subject?: string;
}

/**
 * Builds the ConnectorError of an error status and logs the body (truncated, secrets redacted) at
 * warn. Creative Force's words (the body's summary) end the message as its `remoteText`, so the
 * studio never sees them; success bodies are never logged raw because they hold pre-signed URLs.
 */
export function statusError(
  logger: Logger,
  exchange: HttpExchange,
  response: HttpResponse,
  options: StatusErrorOptions,
): ConnectorError {
  const text = redact(response.text, options.secrets);
  const info = parseErrorBody(text);
  logger.warn(
    {
      method: exchange.method,
      path: exchange.logPath,
      status: response.status,
      cfErrorCode: info.cfErrorCode,
      body: clip(text, loggedBodyChars),
    },
    'Creative Force error response',
  );
  const subject = options.subject ?? `Creative Force ${exchange.method} ${exchange.logPath}`;
  return new ConnectorError(options.code ?? codeOfStatus(response.status), `${subject} answered ${response.status}`, {
    remoteText: info.summary,
    details: { method: exchange.method, path: exchange.logPath, status: response.status, ...info.details },
  });
}

/** Parses a 2xx JSON body with its schema; a mismatch is CF_BAD_RESPONSE naming the first bad field. */
export function parseResponse<S extends z.ZodType>(
  schema: S,
  exchange: HttpExchange,
  response: HttpResponse,
  /** Our field name → Creative Force's, applied before parsing (see wire-forms.ts). */
  fieldAliases: Readonly<Record<string, string>> = {},
): z.output<S> {
  const where = `Creative Force ${exchange.method} ${exchange.logPath}`;
  const details = { method: exchange.method, path: exchange.logPath, status: response.status };
  let json: unknown;
  try {
    json = JSON.parse(response.text);
  } catch (err) {
    throw new ConnectorError('CF_BAD_RESPONSE', `${where} answered ${response.status} with a body that is not JSON`, {
      cause: err,
      details,
    });
  }
  const check = checkBodyShape(schema, applyFieldAliases(json, fieldAliases));
  if (check.ok) return check.value;
  throw new ConnectorError('CF_BAD_RESPONSE', `${where} answered ${response.status} with an unexpected body: ${check.summary}`, {
    details: { ...details, issues: check.issues },
  });
}
