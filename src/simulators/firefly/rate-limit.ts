/**
 * The documented rate limit (the OpenAPI spec): per organization and user, with
 * `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (Unix seconds) headers and
 * 429 above it. Adobe publishes neither the numbers nor the window kind; this is a fixed window that
 * opens at the first call after the previous one ended. Refused calls do not use the budget.
 */
import type { FireflyRateLimit } from './types.ts';

/** Where a caller stands in its window. */
export interface RateLimitState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When the window ends, epoch milliseconds. */
  resetAt: number;
}

interface Window {
  start: number;
  used: number;
}

/** Fixed windows per key (`org` + `user`). */
export class FixedWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();

  constructor({ limit, windowMs }: FireflyRateLimit) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('rateLimit.limit must be a positive integer');
    if (!Number.isFinite(windowMs) || windowMs <= 0) throw new Error('rateLimit.windowMs must be a positive number');
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Counts a call of `key` at `now` when the budget allows it. */
  consume(key: string, now: number): RateLimitState {
    const window = this.#current(key, now);
    const allowed = window.used < this.#limit;
    if (allowed) window.used++;
    return this.#state(window, allowed);
  }

  /** The state of `key` at `now` without counting a call (for answers given before the caller is known). */
  peek(key: string, now: number): RateLimitState {
    const window = this.#windows.get(key);
    if (!window || now >= window.start + this.#windowMs) {
      return { allowed: true, limit: this.#limit, remaining: this.#limit, resetAt: now + this.#windowMs };
    }
    return this.#state(window, window.used < this.#limit);
  }

  #current(key: string, now: number): Window {
    let window = this.#windows.get(key);
    if (!window || now >= window.start + this.#windowMs) {
      window = { start: now, used: 0 };
      this.#windows.set(key, window);
    }
    return window;
  }

  #state(window: Window, allowed: boolean): RateLimitState {
    return {
      allowed,
      limit: this.#limit,
      remaining: Math.max(0, this.#limit - window.used),
      resetAt: window.start + this.#windowMs,
    };
  }
}

/** The `x-ratelimit-*` headers of a state; the reset is rounded up to whole Unix seconds. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'x-ratelimit-limit': String(state.limit),
    'x-ratelimit-remaining': String(state.remaining),
    'x-ratelimit-reset': String(resetSeconds(state)),
  };
}

/** The window end as Unix seconds, rounded up (a client waiting until then is never early). */
export function resetSeconds(state: RateLimitState): number {
  return Math.ceil(state.resetAt / 1000);
}

/** The limiter key of an (org, user) pair. */
export function callerKey(orgId: string, userId: string): string {
  return `${orgId}\n${userId}`;
}
