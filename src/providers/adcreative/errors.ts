/**
 * Turns what goes wrong in an AdCreative.ai exchange into ConnectorErrors with PROVIDER_* codes and
 * `details.provider = 'adcreative'`: error statuses (the documented error bodies of the "Error
 * Handling" and "Product Photoshoot API" pages), transport failures, and 2xx bodies of the wrong shape.
 *
 * Secrets (credentials, tokens) never reach a message, a detail or the log: every text taken from
 * a response passes `redact` first, because validation errors may echo the values they refuse.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { ConnectorError, ErrorCode } from '../../errors.ts';
import {
  type ProviderTransportContext,
  plainSummary,
  providerErrors,
  providerStatusError,
  type StatusErrorOptions as SharedStatusErrorOptions,
  type StatusErrorSpec,
} from '../../http/provider-errors.ts';
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

/** How many characters of a body that is not a known error shape go into the message. */
const plainSummaryChars = 300;

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
  return { summary: plainSummary(text, plainSummaryChars, false), problems: [], traceId: null };
}

/** Options of statusError (`code` does not override the input refusals). */
export type StatusErrorOptions = Omit<SharedStatusErrorOptions, 'service'>;

const identity = { provider: adCreativeProvider, label: 'AdCreative' };

/**
 * How AdCreative's error answers read:
 *
 * - a background-removal problem `unknown_foreground` / `file_too_large` → PROVIDER_INPUT_REFUSED
 * - 401, 403 → PROVIDER_AUTH_FAILED; 429 → PROVIDER_RATE_LIMITED (retryAfterMs from Retry-After)
 * - 5xx → PROVIDER_SERVER_ERROR
 * - 400 whose messages mention credits → PROVIDER_NO_CREDITS; any other 4xx → PROVIDER_REJECTED
 */
const statusSpec: StatusErrorSpec<AdCreativeErrorInfo> = {
  parse: parseAdCreativeError,
  codeOf: (status, info) => codeOfStatus(status, info.summary),
  logFields: (info) => ({ traceId: info.traceId }),
  details: (info) => ({
    traceId: info.traceId,
    problemCodes: info.problems.flatMap((problem) => (problem.code === null ? [] : [problem.code])),
  }),
  refusal: (info) => {
    for (const problem of info.problems) {
      const refusal = problem.code === null ? undefined : inputRefusals.get(problem.code);
      if (refusal !== undefined) {
        return { code: 'PROVIDER_INPUT_REFUSED', message: `${refusal}${problem.detail ? `: ${problem.detail}` : ''}` };
      }
    }
    return undefined;
  },
};

/** The ConnectorError of a non-2xx answer; logs the raw body (truncated, secrets redacted) at warn. */
export function statusError(
  logger: Logger,
  exchange: AdCreativeExchange,
  response: AdCreativeResponse,
  options: StatusErrorOptions,
): ConnectorError {
  return providerStatusError(identity, statusSpec, logger, exchange, response, options);
}

function codeOfStatus(status: number, summary: string | undefined): ErrorCode {
  if (status === 401 || status === 403) return 'PROVIDER_AUTH_FAILED';
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status >= 500) return 'PROVIDER_SERVER_ERROR';
  if (status === 400 && summary !== undefined && /credits/i.test(summary)) return 'PROVIDER_NO_CREDITS';
  return 'PROVIDER_REJECTED';
}

/** Where a transport failure happened, and the signals that may have ended it. */
export type TransportContext = ProviderTransportContext;

/**
 * The errors bound to AdCreative (see src/http/provider-errors.ts): `badResponse` (a 2xx answer
 * that is not what the contract promises), `readJson`, `parseShape` and `transportError` (the
 * caller's abort reason, PROVIDER_TIMEOUT or PROVIDER_NETWORK).
 */
export const { badResponse, readJson, parseShape, transportError } = providerErrors(identity);

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
