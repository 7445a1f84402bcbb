/**
 * Turns what goes wrong in a Sartiq exchange into ConnectorErrors with PROVIDER_* codes and
 * `details.provider = 'sartiq'`: FastAPI error statuses (Sartiq's "Authentication" page), failures of the
 * storage PUT and of result downloads, transport failures, and 2xx bodies of the wrong shape.
 *
 * Secrets (password, tokens) never reach a message, a detail or the log: every text taken from a
 * response passes `redact` first, because FastAPI validation errors echo the `input` they refuse.
 * Storage URLs appear as origin + path only (a presigned URL carries its signature in the query).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { ConnectorError, ErrorCode } from '../../errors.ts';
import {
  clip,
  type ProviderTransportContext,
  plainSummary,
  providerErrors,
  providerStatusError,
  type StatusErrorOptions as SharedStatusErrorOptions,
  type StatusErrorSpec,
} from '../../http/provider-errors.ts';
import { fastApiErrorSchema } from './schemas.ts';

export { redact } from '../../http/provider-errors.ts';

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

/** How many characters of an error summary go into the message. */
const summaryChars = 500;

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
    if (typeof detail === 'string') return { summary: clip(detail.trim(), summaryChars) || undefined, fields: [] };
    if (Array.isArray(detail)) {
      const fields = detail.map((issue) => ({ field: issue.loc.map(String).join('.') || '(root)', message: issue.msg }));
      return { summary: clip(fields.map((f) => `${f.field}: ${f.message}`).join('; '), summaryChars) || undefined, fields };
    }
    if (detail !== undefined && detail !== null) {
      return { summary: clip(JSON.stringify(detail), summaryChars) || undefined, fields: [] };
    }
  }
  return { summary: plainSummary(text, summaryChars), fields: [] };
}

/** Options of statusError. */
export type StatusErrorOptions = Omit<SharedStatusErrorOptions, 'service'>;

const identity = { provider: sartiqProvider, label: 'Sartiq' };

/**
 * How Sartiq's error answers read:
 *
 * - 401, 403 → PROVIDER_AUTH_FAILED (a 401 reaches here only after the one retry with a new token)
 * - 402, and 400 whose detail mentions credits → PROVIDER_NO_CREDITS
 * - 408 → PROVIDER_TIMEOUT; 429 → PROVIDER_RATE_LIMITED (retryAfterMs from Retry-After)
 * - 5xx → PROVIDER_SERVER_ERROR
 * - any other 4xx (404, 409, 422 validation, …) → PROVIDER_REJECTED
 */
const statusSpec: StatusErrorSpec<SartiqErrorInfo> = {
  parse: parseSartiqError,
  codeOf: codeOfStatus,
  details: (info) => (info.fields.length > 0 ? { fields: info.fields } : {}),
};

/** The ConnectorError of a non-2xx API answer; logs the raw body (truncated, secrets redacted) at warn. */
export function statusError(
  logger: Logger,
  exchange: SartiqExchange,
  response: SartiqResponse,
  options: StatusErrorOptions,
): ConnectorError {
  return providerStatusError(identity, statusSpec, logger, exchange, response, options);
}

function codeOfStatus(status: number, info: SartiqErrorInfo): ErrorCode {
  const { summary } = info;
  if (status === 401 || status === 403) return 'PROVIDER_AUTH_FAILED';
  if (status === 402 || (status === 400 && summary !== undefined && /\bcredits?\b/i.test(summary))) {
    return 'PROVIDER_NO_CREDITS';
  }
  if (status === 408) return 'PROVIDER_TIMEOUT';
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status >= 500) return 'PROVIDER_SERVER_ERROR';
  return 'PROVIDER_REJECTED';
}

/** Where a transport failure happened, and the signals that may have ended it. */
export type TransportContext = ProviderTransportContext;

/**
 * The errors bound to Sartiq (see src/http/provider-errors.ts): `badResponse`, `readJson`,
 * `parseShape`, `transportError`, and `storageError` for a non-2xx answer of Sartiq's storage, the
 * PUT to a presigned `upload_url` (Cloudflare R2) or the GET of a result URL (CDN):
 *
 * - 429 → PROVIDER_RATE_LIMITED; 5xx → PROVIDER_SERVER_ERROR
 * - PUT: 413 or `EntityTooLarge` → PROVIDER_INPUT_REFUSED; any other 4xx → PROVIDER_REJECTED (a URL
 *   issued moments ago was refused: a request the storage will not take as sent)
 * - GET of a result: any other status → PROVIDER_SERVER_ERROR (retryable): Sartiq announced a result
 *   its storage does not serve (not propagated yet, or gone); a later attempt may get it, and the
 *   job layer bounds the attempts.
 */
export const sartiqErrors = providerErrors(identity, {
  subject: 'Sartiq storage',
  codeOf: (exchange, status, s3) => {
    if (exchange.method === 'PUT' && status >= 400 && status < 500) {
      return status === 413 || s3.code === 'EntityTooLarge' ? 'PROVIDER_INPUT_REFUSED' : 'PROVIDER_REJECTED';
    }
    return 'PROVIDER_SERVER_ERROR';
  },
});
export const { badResponse, readJson, parseShape, transportError, storageError } = sartiqErrors;
