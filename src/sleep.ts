/**
 * The one way this service waits: for `ms`, or until `signal` aborts. An abort (before or during
 * the wait) rejects with the signal's own reason, as an aborted request does, so a caller sees its
 * own abort whatever it was waiting on.
 */
import { setTimeout as wait } from 'node:timers/promises';

/** Waits `ms`; rejects with `signal.reason` when the signal aborts first. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  try {
    await wait(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  }
}
