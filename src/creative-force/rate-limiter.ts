/**
 * The one request limiter of the Creative Force gateway, shared by every process and every Redis
 * connection: CF limits requests per egress IP (20/s, KNOWN), so a per-process limiter would let N
 * processes send N times the limit. CF also asks for a steady flow rather than re-queued 429 bursts,
 * hence the shared pause that every acquire honours after a 429.
 *
 * The algorithm is GCRA without burst: grants are spaced at least 1000/limit ms apart on the Redis
 * clock, and a caller reserves the next free slot and sleeps until it. A sliding-window log was
 * tried first: it lets a whole second's grants go out within a few ms, so a few ms of delay
 * between grant and send (event loop, connection pool) put more than 20 requests into one second
 * at Creative Force's edge (seen with two worker processes: 22). Evenly spaced grants need about
 * two slot intervals (~110 ms at 18/s) of such skew before a second can hold 21, and they are the
 * "steady flow through a request queue" Creative Force asks for. A caller that wakes more than one
 * interval after its slot (a stalled event loop; a Redis outage, after which every caller whose
 * slot passed meanwhile would send at once) reserves afresh instead of sending late.
 *
 * Redis keys (all under one hash tag so a Redis Cluster keeps them in one slot; Lua needs that):
 * - `<prefix>:tat`     the theoretical arrival time of the next free slot (Redis TIME, microseconds)
 * - `<prefix>:pause`   exists while every acquire must wait; its PTTL is the time left
 * - `<prefix>:strikes` consecutive 429 count, with a TTL, deleted by onSuccess()
 */
import type { Redis } from 'ioredis';
import { ConnectorError } from '../errors.ts';
import { sleep } from '../sleep.ts';
import { gatewayRequestsPerSecond } from './contract.ts';
import { defineScript, runScript } from './internal.ts';

/** What the gateway client needs from a limiter; RedisRateLimiter is the production one. */
export interface RateLimiter {
  /** Resolves when this caller may send one request; rejects with the signal's reason on abort. */
  acquire(signal?: AbortSignal): Promise<RateLimitGrant>;
  /** Reports a 429; pauses every caller and resolves with the pause length in ms. */
  onRateLimited(retryAfterMs: number | undefined): Promise<number>;
  /** Reports an answer that was not a 429: the next 429 starts the exponential pause afresh. */
  onSuccess(): Promise<void>;
}

/** One granted slot. */
export interface RateLimitGrant {
  /** When the slot was granted, on the Redis clock, in ms since the epoch (microsecond precision). */
  grantedAtMs: number;
  /** How many times the caller asked Redis before it got the slot (1 = at once). */
  attempts: number;
  /** Local time spent in acquire(), in ms. */
  waitedMs: number;
}

/** Options of RedisRateLimiter; only `redis` and `limit` are required. */
export interface RedisRateLimiterOptions {
  /** Any ioredis connection; the limiter issues short non-blocking commands only. */
  redis: Redis;
  /** Grants allowed in any 1000 ms window, an integer 1..20 (config `rateLimitRps`, default 18). */
  limit: number;
  /** Key prefix; keep a `{hash tag}`. Default `{cfc}:rl`. */
  keyPrefix?: string;
  /** First pause after a 429 without Retry-After; doubles with each consecutive 429. Default 1000. */
  backoffBaseMs?: number;
  /** Cap of the exponential pause. Default 30 000. */
  backoffMaxMs?: number;
  /**
   * Cap of an honoured Retry-After. A bogus huge value would otherwise stall every process of the
   * service; past the cap the job layer's own retry takes over. Default 60 000.
   */
  retryAfterMaxMs?: number;
  /** Lifetime of the consecutive-429 count without a new 429. Default 120 000. */
  strikeTtlMs?: number;
  /**
   * Random extra wait added when acquire() must ask again (after a pause, or when the next free
   * slot is beyond the reservation horizon), so those waiters do not all hit Redis in the same
   * millisecond. Default: one slot interval, ceil(1000 / limit).
   */
  jitterMs?: number;
  /** How far ahead a caller may reserve a slot; beyond it, it sleeps and asks again. Default 5000. */
  reserveHorizonMs?: number;
}

const windowMs = 1000;

/**
 * Reserves the next free slot unless a pause is active or the slot lies beyond the horizon.
 * Returns {1, slot time in us, us to wait until the slot} or {0, ms to wait before asking again}.
 * Slots are `interval` apart, so no window of 1000 ms holds more than `limit` of them.
 * KEYS: tat, pause. ARGV: interval in us, horizon in us.
 */
const acquireScript = defineScript(`
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, pause} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local wait = slot - now
if wait > tonumber(ARGV[2]) then return {0, math.ceil((wait - tonumber(ARGV[2])) / 1000)} end
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.ceil((wait + interval) / 1000) + 1000)
return {1, string.format('%.0f', slot), wait}
`);

/**
 * What a caller back from sleeping until its slot checks before it sends: the pause left (ms) and
 * the Redis clock (us, as a string), to tell how late after its slot it is.
 * KEYS: pause.
 */
const checkScript = defineScript(`
local t = redis.call('TIME')
return {redis.call('PTTL', KEYS[1]), string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))}
`);

/**
 * Extends the pause to at least ARGV[1] ms (never shortens a longer one). Returns the pause left.
 * KEYS: pause. ARGV: ms.
 */
const pauseScript = defineScript(`
local left = redis.call('PTTL', KEYS[1])
local ms = tonumber(ARGV[1])
if left < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
  return ms
end
return left
`);

/**
 * Records a 429 and pauses. A 429 that arrives while a pause is already active was sent before
 * that pause began (the same burst), so it does not count as a new strike: otherwise ten requests
 * in flight would escalate the pause ten times at once.
 * KEYS: pause, strikes. ARGV: retryAfterMs or '', base ms, max ms, strike TTL ms.
 * Returns {pause left in ms, strikes}.
 */
const rateLimitedScript = defineScript(`
local left = redis.call('PTTL', KEYS[1])
local strikes
if left > 0 then
  strikes = tonumber(redis.call('GET', KEYS[2]) or '1')
else
  strikes = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
local ms
if ARGV[1] ~= '' then
  ms = tonumber(ARGV[1])
else
  ms = math.min(tonumber(ARGV[2]) * 2 ^ math.min(strikes - 1, 30), tonumber(ARGV[3]))
end
if left < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
  left = ms
end
return {left, strikes}
`);

/** The spaced-slot (GCRA) limiter on Redis described at the top of this file. */
export class RedisRateLimiter implements RateLimiter {
  readonly limit: number;
  readonly #redis: Redis;
  readonly #keys: { tat: string; pause: string; strikes: string };
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #retryAfterMaxMs: number;
  readonly #strikeTtlMs: number;
  readonly #jitterMs: number;
  readonly #intervalUs: number;
  readonly #horizonUs: number;

  constructor(options: RedisRateLimiterOptions) {
    const { limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > gatewayRequestsPerSecond) {
      throw new ConnectorError('CONFIG_INVALID', `rate limit must be an integer 1..${gatewayRequestsPerSecond}, got ${limit}`);
    }
    const prefix = options.keyPrefix ?? '{cfc}:rl';
    this.limit = limit;
    this.#redis = options.redis;
    this.#keys = { tat: `${prefix}:tat`, pause: `${prefix}:pause`, strikes: `${prefix}:strikes` };
    this.#intervalUs = Math.ceil((windowMs * 1000) / limit);
    this.#horizonUs = (options.reserveHorizonMs ?? 5_000) * 1000;
    this.#backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.#retryAfterMaxMs = options.retryAfterMaxMs ?? 60_000;
    this.#strikeTtlMs = options.strikeTtlMs ?? 120_000;
    this.#jitterMs = options.jitterMs ?? Math.ceil(windowMs / limit);
  }

  async acquire(signal?: AbortSignal): Promise<RateLimitGrant> {
    const started = performance.now();
    for (let attempts = 1; ; attempts++) {
      signal?.throwIfAborted();
      const [granted, value, waitUs] = (await runScript(
        this.#redis,
        acquireScript,
        [this.#keys.tat, this.#keys.pause],
        [this.#intervalUs, this.#horizonUs],
      )) as [number, number | string, number | undefined];
      if (granted !== 1) {
        await sleep(Number(value) + Math.random() * this.#jitterMs, signal);
        continue;
      }
      // An abort while sleeping wastes the reserved slot: conservative, never a burst.
      if (waitUs && waitUs > 0) {
        await sleep(waitUs / 1000, signal);
        const [pauseMs, nowUs] = (await runScript(this.#redis, checkScript, [this.#keys.pause], [])) as [number, string];
        // A 429 may have paused everyone while this caller slept: honour it, reserve afresh.
        if (pauseMs > 0) continue;
        // More than one interval past its slot (this process's event loop stalled, or Redis was
        // unreachable and every caller whose slot passed meanwhile resumes the moment it is back),
        // sending now would land on top of the slots granted since: reserve afresh. The slot left
        // unused is conservative, never a burst.
        if (Number(nowUs) - Number(value) > this.#intervalUs) continue;
      }
      return { grantedAtMs: Number(value) / 1000, attempts, waitedMs: performance.now() - started };
    }
  }

  /** Makes every acquire, in every process, wait at least `ms` from now. Resolves with the pause left. */
  async pause(ms: number): Promise<number> {
    const length = Math.max(1, Math.ceil(ms));
    return Number(await runScript(this.#redis, pauseScript, [this.#keys.pause], [length]));
  }

  /**
   * Pauses every caller after a 429: for Retry-After when CF sent one (capped by retryAfterMaxMs),
   * else exponentially (base, 2x base, 4x base ... capped by backoffMaxMs) by consecutive 429s.
   */
  async onRateLimited(retryAfterMs: number | undefined): Promise<number> {
    const retryAfter = retryAfterMs === undefined ? '' : Math.max(1, Math.min(Math.ceil(retryAfterMs), this.#retryAfterMaxMs));
    const [left] = (await runScript(
      this.#redis,
      rateLimitedScript,
      [this.#keys.pause, this.#keys.strikes],
      [retryAfter, this.#backoffBaseMs, this.#backoffMaxMs, this.#strikeTtlMs],
    )) as [number, number];
    return left;
  }

  async onSuccess(): Promise<void> {
    await this.#redis.del(this.#keys.strikes);
  }

  /** What the limiter holds in Redis now, for the operations view; reads only. */
  async state(): Promise<RateLimiterState> {
    const replies = await this.#redis.multi().time().get(this.#keys.tat).pttl(this.#keys.pause).get(this.#keys.strikes).exec();
    const [time, tat, pause, strikes] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    }) as [[string, string], string | null, number, string | null];
    const nowUs = Number(time[0]) * 1_000_000 + Number(time[1]);
    return {
      limit: this.limit,
      reservedAheadMs: Math.max(0, (Number(tat ?? 0) - nowUs) / 1000),
      pausedForMs: Math.max(0, pause),
      consecutive429s: Number(strikes ?? 0),
    };
  }
}

/** The limiter's state at one moment (RedisRateLimiter.state()). */
export interface RateLimiterState {
  /** Grants per second at most (RATE_LIMIT_RPS). */
  limit: number;
  /** How far ahead of now the next free slot lies: callers already hold slots up to then (0: idle). */
  reservedAheadMs: number;
  /** The pause after a 429 still to run (0: none). */
  pausedForMs: number;
  /** 429s in a row without a success in between (they double the pause). */
  consecutive429s: number;
}
