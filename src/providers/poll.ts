/**
 * Polling of a provider's asynchronous work with backoff and a deadline per attempt. Provider status
 * values are parsed leniently elsewhere; here only "done", "failed" or "not yet" matter.
 */
import { z } from 'zod';
import { ConnectorError } from '../errors.ts';
import { sleep } from '../sleep.ts';

/** The polling options of a recipe, after parsing. */
export interface PollingOptions {
  pollIntervalMs: number;
  deadlineMs: number;
}

/**
 * The option schemas of a recipe that polls, with that recipe's defaults: the first wait between
 * two polls, and how long one attempt waits before giving up (a retry resumes the same work).
 */
export function pollingOptionsShape(defaults: PollingOptions) {
  return {
    pollIntervalMs: z.number().int().min(100).max(60_000).default(defaults.pollIntervalMs),
    deadlineMs: z.number().int().min(1_000).max(3_600_000).default(defaults.deadlineMs),
  };
}

export interface PollOptions {
  /** First wait between two polls; grows by half each time up to `maxIntervalMs`. */
  intervalMs: number;
  maxIntervalMs: number;
  /**
   * When this wait gives up (ms since the epoch). Each attempt of a cycle gets its own window: a
   * retry after a timeout resumes the same paid work and is worth waiting for again; the job's
   * bounded attempts bound the whole.
   */
  deadline: number;
  signal: AbortSignal;
  /** Names the work in the timeout message. */
  what: string;
  provider: string;
}

/** Polls `check` until it returns a value; throws PROVIDER_TIMEOUT (retryable) at the deadline. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  let interval = options.intervalMs;
  for (;;) {
    options.signal.throwIfAborted();
    const result = await check();
    if (result !== undefined) return result;
    const left = options.deadline - Date.now();
    if (left <= 0) {
      throw new ConnectorError('PROVIDER_TIMEOUT', `${options.what} did not finish before its deadline`, {
        details: { provider: options.provider },
      });
    }
    await sleep(Math.min(interval, left), options.signal);
    interval = Math.min(options.maxIntervalMs, Math.ceil(interval * 1.5));
  }
}
