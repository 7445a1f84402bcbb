/**
 * What ended an undici request before or while its answer arrived, provider-neutral: each client
 * layer maps the kind to its own error code (CF_TIMEOUT / PROVIDER_TIMEOUT, CF_NETWORK /
 * PROVIDER_NETWORK) and rethrows the caller's abort reason as is.
 *
 * Errors are recognised by their stable `code` (undici's `UND_ERR_*`, Node's `ECONNRESET`,
 * `ECONNREFUSED`, …), never by `instanceof`: the process may hold two copies of undici (ours and
 * Node's bundled one behind `fetch`), whose error classes are not the same.
 */

/** A classified transport failure. */
export type TransportFailure =
  /** The caller's signal aborted: throw `reason`, the caller's own. */
  | { kind: 'aborted'; reason: unknown }
  /** The attempt's deadline passed, or undici timed out connecting or waiting for headers or body. */
  | { kind: 'timeout' }
  /** Anything else (refused, reset, DNS, TLS…); `reason` is "<code> <message>" for the error message. */
  | { kind: 'network'; reason: string };

/** The signals of one attempt. */
export interface TransportSignals {
  /** The whole-request deadline of the attempt (AbortSignal.timeout). */
  deadline: AbortSignal;
  /** The caller's signal, combined with the deadline for the request. */
  callerSignal: AbortSignal | undefined;
}

/** undici's codes for its own timeouts: connecting, waiting for the headers, waiting for the body. */
const undiciTimeoutCodes: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The `code` of an error (an Error or any object carrying one), if it has one. */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return err.code === undefined || err.code === null ? undefined : String(err.code);
}

/**
 * Classifies the error of a failed request. The caller's abort wins over everything (its reason is
 * what the caller expects back), then a timeout, then a network failure.
 */
export function classifyTransportError(err: unknown, signals: TransportSignals): TransportFailure {
  const { deadline, callerSignal } = signals;
  if (callerSignal?.aborted) return { kind: 'aborted', reason: callerSignal.reason };
  const code = errorCode(err);
  if (deadline.aborted || (code !== undefined && undiciTimeoutCodes.has(code))) return { kind: 'timeout' };
  return { kind: 'network', reason: describe(err, code) };
}

/** "<code> <message>" of an error, or its text. */
function describe(err: unknown, code: string | undefined): string {
  const message =
    err instanceof Error
      ? err.message
      : typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string'
        ? err.message
        : undefined;
  if (message === undefined) return code ?? String(err);
  return code === undefined ? message : `${code} ${message}`;
}
