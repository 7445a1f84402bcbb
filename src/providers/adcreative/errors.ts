/**
 * Turns what goes wrong in an AdCreative.ai exchange into ConnectorErrors with PROVIDER_* codes and
 * `details.provider = 'adcreative'`: error statuses (both documented error bodies, §1.3 and §1.8 of
 * providers.md), transport failures, and 2xx bodies of the wrong shape.
 *
 * Secrets (credentials, tokens) never reach a message, a detail or the log: every text taken from
 * a response passes `redact` first, because validation errors may echo the values they refuse.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConnectorError, type ErrorCode } from '../../errors.ts';
import { checkBodyShape } from '../../http/body-shape.ts';
import { parseRetryAfter } from '../../http/retry-after.ts';
import { classifyTransportError, type TransportSignals } from '../../http/transport-errors.ts';
import { type AdCreativeProblem, problemListSchema, standardErrorBodySchema } from './schemas.ts';

/** `details.provider` of every error raised for AdCreative. */
export const adCreativeProvider = 'adcreative';

/** The request an error is about, as it may appear in messages and logs (no query string). */
export interface AdCreativeExchange {
  method: 'GET' | 'POST';
  path: string;
}

/** An answer whose body was read to the end. */
export interface AdCreativeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** What an error body says, whichever documented shape it has. */
interface AdCreativeErrorInfo {
  /** One line for the error message: the title and every message with its key. */
  summary: string | undefined;
  /** Entries of the background-removal error list, found at the top level or inside a message. */
  problems: AdCreativeProblem[];
  traceId: string | null;
}

/** Problem codes that mean the image itself cannot be worked on, with the message we raise. */
const inputRefusals = new Map([
  ['unknown_foreground', 'AdCreative could not identify the foreground in the image (unknown_foreground)'],
  ['file_too_large', 'AdCreative refused the image as too large (file_too_large)'],
]);

/** How many characters of a raw error body are logged. */
const loggedBodyChars = 4096;
/** How many characters of a body that is not a known error shape go into the message. */
const plainSummaryChars = 300;

/** Replaces every occurrence of the given secrets (those of 4+ characters) with `[Redacted]`. */
function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length >= 4) result = result.split(secret).join('[Redacted]');
  return result;
}

/**
 * Reads an error body: the standard and validation shapes, the background-removal list, and the
 * list preceded by text ("Error while removing background: {...}"), alone or inside a message.
 */
function parseAdCreativeError(text: string): AdCreativeErrorInfo {
  const json = parseEmbeddedJson(text);
  const list = problemListSchema.safeParse(json);
  if (list.success) return { summary: describeProblems(list.data.errors), problems: list.data.errors, traceId: null };
  const standard = standardErrorBodySchema.safeParse(json);
  if (standard.success) {
    const body = standard.data;
    const entries = Object.entries(body.errors ?? {});
    const messages = entries.map(([key, list]) => `${key} ${list.join(' ')}`.trim());
    const problems = entries.flatMap(([, list]) => list.flatMap(problemsInMessage));
    return {
      summary: [body.title, messages.join('; ')].filter(Boolean).join(' ') || undefined,
      problems,
      traceId: body.traceId ?? body.extensions?.traceId ?? null,
    };
  }
  const plain = text.trim();
  const readable = plain !== '' && !plain.startsWith('<');
  return { summary: readable ? plain.slice(0, plainSummaryChars) : undefined, problems: [], traceId: null };
}

/** Options of statusError. */
export interface StatusErrorOptions {
  /** Values that must not appear in the message, details or log. */
  secrets: readonly string[];
  /** Overrides the code derived from the status (not the input refusals); e.g. PROVIDER_AUTH_FAILED for the JWT endpoints. */
  code?: ErrorCode;
}

/**
 * The ConnectorError of a non-2xx answer; logs the raw body (truncated, secrets redacted) at warn.
 *
 * - a background-removal problem `unknown_foreground` / `file_too_large` → PROVIDER_INPUT_REFUSED
 * - 401, 403 → PROVIDER_AUTH_FAILED; 429 → PROVIDER_RATE_LIMITED (retryAfterMs from Retry-After)
 * - 5xx → PROVIDER_SERVER_ERROR
 * - 400 whose messages mention credits → PROVIDER_NO_CREDITS; any other 4xx → PROVIDER_REJECTED
 */
export function statusError(
  logger: Logger,
  exchange: AdCreativeExchange,
  response: AdCreativeResponse,
  options: StatusErrorOptions,
): ConnectorError {
  const { status } = response;
  const body = redact(response.text, options.secrets);
  const info = parseAdCreativeError(body);
  logger.warn(
    {
      provider: adCreativeProvider,
      method: exchange.method,
      path: exchange.path,
      status,
      traceId: info.traceId,
      body: body.length > loggedBodyChars ? `${body.slice(0, loggedBodyChars)}…` : body,
    },
    'AdCreative error response',
  );
  const problemCodes = info.problems.flatMap((problem) => (problem.code === null ? [] : [problem.code]));
  const details = {
    provider: adCreativeProvider,
    method: exchange.method,
    path: exchange.path,
    status,
    traceId: info.traceId,
    problemCodes,
  };
  for (const problem of info.problems) {
    const refusal = problem.code === null ? undefined : inputRefusals.get(problem.code);
    if (refusal === undefined) continue;
    const message = `${refusal}${problem.detail ? `: ${problem.detail}` : ''}`;
    return new ConnectorError('PROVIDER_INPUT_REFUSED', message, { details });
  }
  const code = options.code ?? codeOfStatus(status, info.summary);
  const message = `AdCreative ${exchange.method} ${exchange.path} answered ${status}${info.summary ? `: ${info.summary}` : ''}`;
  const retryAfterMs = status === 429 ? parseRetryAfter(response.headers['retry-after']) : undefined;
  return new ConnectorError(code, message, { details, retryAfterMs });
}

function codeOfStatus(status: number, summary: string | undefined): ErrorCode {
  if (status === 401 || status === 403) return 'PROVIDER_AUTH_FAILED';
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status >= 500) return 'PROVIDER_SERVER_ERROR';
  if (status === 400 && summary !== undefined && /credits/i.test(summary)) return 'PROVIDER_NO_CREDITS';
  return 'PROVIDER_REJECTED';
}

/** Where a transport failure happened, and the signals that may have ended it. */
export interface TransportContext extends TransportSignals {
  exchange: AdCreativeExchange;
  timeoutMs: number;
}

/**
 * What to throw when a request failed before or while its answer arrived: the caller's abort
 * reason, PROVIDER_TIMEOUT (deadline or undici timeouts) or PROVIDER_NETWORK.
 */
export function transportError(err: unknown, context: TransportContext): unknown {
  const { exchange, timeoutMs } = context;
  const failure = classifyTransportError(err, context);
  if (failure.kind === 'aborted') return failure.reason;
  const where = `${exchange.method} ${exchange.path}`;
  const details = { provider: adCreativeProvider, method: exchange.method, path: exchange.path };
  if (failure.kind === 'timeout') {
    return new ConnectorError('PROVIDER_TIMEOUT', `AdCreative ${where} did not complete within ${timeoutMs} ms`, {
      cause: err,
      details,
    });
  }
  return new ConnectorError('PROVIDER_NETWORK', `AdCreative ${where} failed: ${failure.reason}`, { cause: err, details });
}

/** PROVIDER_BAD_RESPONSE for a 2xx answer that is not what the contract promises. */
export function badResponse(
  exchange: AdCreativeExchange,
  status: number,
  what: string,
  extra: Record<string, unknown> = {},
): ConnectorError {
  return new ConnectorError(
    'PROVIDER_BAD_RESPONSE',
    `AdCreative ${exchange.method} ${exchange.path} answered ${status} ${what}`,
    {
      details: { provider: adCreativeProvider, method: exchange.method, path: exchange.path, status, ...extra },
    },
  );
}

/** Parses a 2xx JSON body; PROVIDER_BAD_RESPONSE when it is not JSON. */
export function readJson(exchange: AdCreativeExchange, status: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badResponse(exchange, status, 'with a body that is not JSON');
  }
}

/** Checks a value from a 2xx body against its schema; PROVIDER_BAD_RESPONSE names the first bad field. */
export function parseShape<S extends z.ZodType>(
  schema: S,
  exchange: AdCreativeExchange,
  status: number,
  value: unknown,
): z.output<S> {
  const check = checkBodyShape(schema, value);
  if (check.ok) return check.value;
  throw badResponse(exchange, status, `with an unexpected body: ${check.summary}`, { issues: check.issues });
}

/** The JSON of a body, or of its part from the first `{` / `[` on (a body may be prefixed by text). */
function parseEmbeddedJson(text: string): unknown {
  const start = text.search(/[[{]/);
  if (start === -1) return undefined;
  try {
    return JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
}

/** The background-removal problems embedded in a message of a standard error body. */
function problemsInMessage(message: string): AdCreativeProblem[] {
  const list = problemListSchema.safeParse(parseEmbeddedJson(message));
  return list.success ? list.data.errors : [];
}

function describeProblems(problems: AdCreativeProblem[]): string | undefined {
  const parts = problems.map((p) => [p.title, p.code && `(${p.code})`, p.detail].filter(Boolean).join(' '));
  return parts.join('; ') || undefined;
}
