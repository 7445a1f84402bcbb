/**
 * What ended an undici request before or while its answer arrived, provider-neutral: each client
 * layer maps the kind to its own error code (CF_TIMEOUT / PROVIDER_TIMEOUT, CF_NETWORK /
 * PROVIDER_NETWORK) and rethrows the caller's abort reason as is.
 */
import { errors as undiciErrors } from 'undici';

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

/**
 * Classifies the error of a failed request. The caller's abort wins over everything (its reason is
 * what the caller expects back), then a timeout, then a network failure.
 */
export function classifyTransportError(err: unknown, signals: TransportSignals): TransportFailure {
  const { deadline, callerSignal } = signals;
  if (callerSignal?.aborted) return { kind: 'aborted', reason: callerSignal.reason };
  if (
    deadline.aborted ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  ) {
    return { kind: 'timeout' };
  }
  const reason = err instanceof Error ? `${'code' in err ? `${String(err.code)} ` : ''}${err.message}` : String(err);
  return { kind: 'network', reason };
}
