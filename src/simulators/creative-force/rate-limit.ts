/**
 * The gateway's KNOWN rate limit (20 requests per second per IP) as a sliding window over request
 * arrivals, and the arrival log benchmarks read. Every arrival counts, refused ones included: a
 * client that keeps hammering after a 429 stays limited, which is what CF warns about.
 */

/** Per-IP sliding-window limiter over arrival times (ms). */
export class SlidingWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #arrivals = new Map<string, number[]>();

  constructor(limit: number, windowMs = 1000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /**
   * Records an arrival at `at` and says whether it is allowed: refused when `limit` requests of the
   * same IP already arrived within the last `windowMs` (strictly after `at - windowMs`).
   */
  arrive(clientIp: string, at: number): boolean {
    let times = this.#arrivals.get(clientIp);
    if (!times) {
      times = [];
      this.#arrivals.set(clientIp, times);
    }
    const cutoff = at - this.#windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= cutoff) drop++;
    if (drop > 0) times.splice(0, drop);
    const allowed = times.length < this.#limit;
    times.push(at);
    return allowed;
  }
}

/** The largest number of timestamps within any window of `windowMs` (t_last - t_first < windowMs). */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
