/**
 * A limiter of one process, without Redis: grants at least 1000/limit ms apart, and after a 429 a
 * pause (Retry-After, at most 60 s; without one 1 s, doubling with each consecutive 429, at most
 * 30 s), as RedisRateLimiter does for every process together. It does not learn a rate: its few
 * requests go out one at a time, far under any limit. For `cf-ai-connector check` while
 * Redis is unreachable only: its few token requests go out one at a time, and no worker runs
 * without Redis, so nothing else spends the egress IP's limit meanwhile.
 */
import { sleep } from '../sleep.ts';
import type { RateLimiter, RateLimitGrant } from './rate-limiter.ts';

export class LocalRateLimiter implements RateLimiter {
  readonly #intervalMs: number;
  /** When the next grant may go out (ms since the epoch). */
  #nextAtMs = 0;
  #strikes = 0;

  /** `limit`: grants in any 1000 ms (config `cf.rateLimitRps`). */
  constructor(limit: number) {
    this.#intervalMs = Math.ceil(1000 / limit);
  }

  async acquire(signal?: AbortSignal): Promise<RateLimitGrant> {
    const started = performance.now();
    const now = Date.now();
    const grantedAtMs = Math.max(now, this.#nextAtMs);
    this.#nextAtMs = grantedAtMs + this.#intervalMs;
    if (grantedAtMs > now) await sleep(grantedAtMs - now, signal);
    return { grantedAtMs, attempts: 1, waitedMs: performance.now() - started };
  }

  async onRateLimited(retryAfterMs: number | undefined): Promise<number> {
    this.#strikes += 1;
    const pauseMs =
      retryAfterMs === undefined ? Math.min(1000 * 2 ** (this.#strikes - 1), 30_000) : Math.min(retryAfterMs, 60_000);
    this.#nextAtMs = Math.max(this.#nextAtMs, Date.now() + pauseMs);
    return pauseMs;
  }

  async onSuccess(): Promise<void> {
    this.#strikes = 0;
  }
}
