/**
 * The catalogue of every error this service raises. Code branches on `code`, never on messages.
 * `retryable` says whether running the same work again later may succeed; the worker is the one
 * place that turns it into "retry with backoff" or "fail now". docs/errors.md documents each code.
 */
export const errorCatalogue = {
  CONFIG_INVALID: { retryable: false, meaning: 'An environment variable or the connections file is invalid.' },
  WEBHOOK_SIGNATURE_INVALID: { retryable: false, meaning: 'X-CF-Signature is missing or matches no webhook secret.' },
  WEBHOOK_PAYLOAD_INVALID: { retryable: false, meaning: 'The webhook body is not JSON or not a ReadyToWork shape.' },
  QUEUE_UNAVAILABLE: {
    retryable: true,
    meaning: "Redis did not store a webhook's job (unreachable, too slow, or it answered an error).",
  },
  QUEUE_JOB_REFUSED: {
    retryable: false,
    meaning: "The queue refused a webhook's job before Redis saw it (a bug: the payload is validated first).",
  },
  CF_AUTH_FAILED: { retryable: false, meaning: 'Creative Force refused the client id / secret.' },
  CF_UNAUTHORIZED: { retryable: false, meaning: 'A gateway call was refused with 401 even with a fresh token.' },
  CF_FORBIDDEN: { retryable: false, meaning: 'The registered app user lacks a permission (403).' },
  CF_NOT_FOUND: { retryable: false, meaning: 'The gateway answered 404 for a resource of this task.' },
  CF_REJECTED: { retryable: false, meaning: 'The gateway refused the request as invalid (4xx business error).' },
  CF_RATE_LIMITED: { retryable: true, meaning: 'The gateway kept answering 429 after the limiter paused.' },
  CF_SERVER_ERROR: { retryable: true, meaning: 'The gateway answered 5xx.' },
  CF_TIMEOUT: { retryable: true, meaning: 'A gateway call passed its deadline.' },
  CF_NETWORK: { retryable: true, meaning: 'A gateway call failed at the connection level.' },
  CF_BAD_RESPONSE: { retryable: false, meaning: 'A gateway response did not have the documented shape.' },
  CF_PATH_ID_INVALID: {
    retryable: false,
    meaning: 'An id to put into a gateway path is empty or only dots (it would change the path); nothing was sent.',
  },
  ASSET_DOWNLOAD_FAILED: { retryable: true, meaning: 'A pre-signed S3 download failed (network, 5xx, or timeout).' },
  ASSET_TOO_LARGE: {
    retryable: false,
    meaning: 'An input file is larger than MAX_ASSET_BYTES, or an image has more pixels than the decoder accepts.',
  },
  ASSET_CHECKSUM_MISMATCH: { retryable: true, meaning: 'A downloaded file does not match its MD5 or length.' },
  ASSET_UNREADABLE: { retryable: false, meaning: 'An input file is not a decodable image.' },
  UPLOAD_REFUSED: { retryable: false, meaning: 'Creative Force listed an output file in errorFiles of the pre-signed URL call.' },
  UPLOAD_FAILED: { retryable: true, meaning: 'The S3 PUT of an output file failed.' },
  OUTPUT_CHECK_FAILED: {
    retryable: false,
    meaning: 'A slot cannot be filled because the result check refused what the recipe produced for it.',
  },
  SLOT_UNSUPPORTED: { retryable: false, meaning: 'The recipe cannot produce the content type a slot expects.' },
  SLOT_UNFILLABLE: { retryable: false, meaning: "The recipe produced too few files for a slot's quantity rules." },
  RECIPE_NOT_CONFIGURED: { retryable: false, meaning: 'The subfunction has no recipe, or the recipe options are invalid.' },
  TASK_INPUT_MISSING: { retryable: false, meaning: 'The task process has no input asset to work from.' },
  CYCLE_ABANDONED: {
    retryable: false,
    meaning: 'A cycle failed outside its processor (stalled too often after worker crashes).',
  },
  PROVIDER_AUTH_FAILED: { retryable: false, meaning: "An AI provider refused the connection's credentials." },
  PROVIDER_REJECTED: { retryable: false, meaning: 'An AI provider refused the request as invalid (validation error).' },
  PROVIDER_NO_CREDITS: { retryable: false, meaning: 'The AI provider account has no credits left.' },
  PROVIDER_INPUT_REFUSED: {
    retryable: false,
    meaning: 'The AI provider cannot work on this input (e.g. no foreground found, file too large).',
  },
  PROVIDER_GENERATION_FAILED: { retryable: false, meaning: 'The AI provider reported the generation as failed.' },
  PROVIDER_SERVER_ERROR: { retryable: true, meaning: 'An AI provider answered 5xx.' },
  PROVIDER_RATE_LIMITED: { retryable: true, meaning: 'An AI provider answered 429.' },
  PROVIDER_TIMEOUT: { retryable: true, meaning: 'An AI provider call, or the whole generation, passed its deadline.' },
  PROVIDER_NETWORK: { retryable: true, meaning: 'An AI provider call failed at the connection level.' },
  PROVIDER_BAD_RESPONSE: { retryable: false, meaning: 'An AI provider response did not have the documented shape.' },
  PROVIDER_START_AMBIGUOUS: {
    retryable: false,
    meaning:
      'The answer to a paid start was lost, and the AI provider shows more than one generation that could be the one it started: none is adopted, and none is started again (it would be paid twice).',
  },
  PROVIDER_RESULT_REFUSED: {
    retryable: false,
    meaning:
      'A result URL an AI provider returned was not downloaded: its host is not on the result hosts, it leads to a non-public address, or the result is larger than PROVIDER_RESULT_MAX_BYTES.',
  },
  CHECKPOINT_VERSION_UNKNOWN: {
    retryable: false,
    meaning:
      'A job carries saved progress of a version this release cannot read (retried when newer: a newer worker may take it).',
  },
  CHECKPOINT_INVALID: { retryable: false, meaning: "A job's saved progress does not have the shape of its version." },
  CONNECTION_UNKNOWN: { retryable: false, meaning: 'A queued job names a connection that is no longer configured.' },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** Options of a ConnectorError. */
export interface ConnectorErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
  retryable?: boolean;
  retryAfterMs?: number;
  /**
   * What the remote system said about the failure (an error body's summary, secrets redacted).
   * It ends `message`, for operators; the message shown to the studio leaves it out.
   */
  remoteText?: string;
}

/**
 * An error of this service: a stable `code`, a `retryable` flag and optional structured details.
 * `message` is `ownMessage`, then `: remoteText` when the remote system said something.
 */
export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  /** When the remote system asked us to wait (429 Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  // Private (not enumerable), so that logging `{ err }` does not repeat the message.
  readonly #ownMessage: string;
  readonly #remoteText: string | undefined;

  constructor(code: ErrorCode, message: string, options: ConnectorErrorOptions = {}) {
    const { remoteText } = options;
    super(remoteText ? `${message}: ${remoteText}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.retryable = options.retryable ?? errorCatalogue[code].retryable;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    this.#ownMessage = message;
    this.#remoteText = remoteText || undefined;
  }

  /** The message as this service wrote it, without the remote system's words. */
  get ownMessage(): string {
    return this.#ownMessage;
  }

  /** What the remote system said (see ConnectorErrorOptions.remoteText). */
  get remoteText(): string | undefined {
    return this.#remoteText;
  }
}

export function isConnectorError(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError;
}
