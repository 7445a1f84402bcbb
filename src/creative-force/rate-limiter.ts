/**
 * The one request limiter of the Creative Force gateway, shared by every process and every Redis
 * connection: CF limits requests per egress IP (20/s, KNOWN), so a per-process limiter would let N
 * processes send N times the limit. CF also asks for a steady flow rather than re-queued 429 bursts,
 * hence the shared pause that every acquire honours after a 429.
 *
 * The algorithm is GCRA: grants are spaced 1000/rate ms apart on the Redis clock, and a caller
 * reserves the next free slot and sleeps until it. A sliding-window log alone was tried first: it
 * lets a whole second's grants go out within a few ms, so a few ms of delay between grant and send
 * (event loop, connection pool) put more than 20 requests into one second at Creative Force's edge
 * (seen with two worker processes: 22). Evenly spaced grants need the slack of 20 slots over one
 * second (20 ms at the default target of 19.6/s) of such skew before a second can hold 21, and
 * they are the "steady flow through a request queue" Creative Force asks for. But a slot that
 * passes with no caller waiting is lost to pure GCRA, and under a burst that happens about once a
 * second: the cycles that one shared bulk-get-assets served all download and convert at once,
 * with nothing asked of the gateway for a slot or two (bench/burst.ts: 19.0-19.2 calls/s where
 * the limiter grants 19.6). So at the target rate a slot may come up to `catchUpSlots` (2)
 * intervals ahead of the even schedule, never sooner than half an interval after the last, and
 * every slot, at any rate, is at least the window (`limit` slots at the target: 1020 ms at 20)
 * after the slot `limit` slots before it, kept in a short log. The window, not the spacing, is
 * then what keeps 21 requests out of one second, with the same 20 ms of slack for skew. Below the
 * target (a 429 was learned: the budget is shared) there is no catching up, only even spacing; nor
 * for a minute after a limiter that keeps no log (the version before, in a rolling deploy) took a
 * slot, since its slots are not in the log (`even-only` below). A
 * caller that wakes later after its slot than that slack or one interval (a stalled event loop; a
 * Redis outage, after which every caller whose slot passed meanwhile would send at once) reserves
 * afresh instead of sending late, so the requests sent, not only the slots granted, stay within 20
 * in any second.
 *
 * The rate is learned, not fixed (AIMD, as TCP does with its window). The limit we are granted is
 * 20/s per IP, but what is left of it for us is not ours to configure: another integration or a
 * second deployment behind the same egress IP spends from the same 20, and CF may count slightly
 * differently than we do. A 429 costs far more than the call it saves (the shared pause, and every
 * request behind it), so a fixed rate is either wasteful (18/s: 0.90 of the limit) or collapses
 * when anything else shares the IP. So the rate, held in Redis and the same for every process:
 * - starts at the ceiling times a small headroom (`limit` x 0.98: 19.6/s at the default 20): the
 *   headroom absorbs the send-time skew between grant and arrival (20 grants then span 1020 ms,
 *   so a second at CF's edge holds 21 only after 20 ms of skew in the wrong direction);
 * - drops multiplicatively on a 429 (x0.85, never under 1/s), once per burst: a 429 answered
 *   while the pause of an earlier one runs was sent before that pause, so it is the same burst.
 *   The rate it happened at is kept as the peak;
 * - recovers additively with each grant, so only on traffic that tells whether the rate is fine,
 *   and never past the target: by 0.5 req/s per second of grants away from the peak, by 0.02 from
 *   0.95 to 1.03 of it. Quick back to just under what was too much, then a slow probe across it
 *   (the plateau of TCP CUBIC): 429s stay rare, and once past the peak (what shared the budget
 *   has gone) the rate climbs quickly again. Computed in the scripts, on the Redis clock: every
 *   process sees one rate.
 * Why these constants: every 429 costs its pause (Retry-After, ~1 s of no traffic at all), so 429s
 * must be rare and the dips shallow. Against a model of the simulator's rule (a rolling 1000 ms
 * window, arrivals 0-20 ms after their grant) with a foreign client taking 5 of the 20, a single
 * recovery speed cannot do both: x0.85 and +0.1/s spends 0.83 of what is left in the first minute
 * (0.84 measured with bench/burst.ts), +0.2-0.5/s brings a 429 every few seconds, +0.05/s takes
 * minutes to climb back once the other client is gone. The plateau spends 0.85 in the first minute
 * and 0.88 after, with a 429 for every 300-150 of our calls; a ceiling set too high (15/s allowed)
 * 0.90 and 0.93. A 429 also invalidates the slots reserved at the old rate (the epoch below):
 * callers reserve afresh, at the new rate, after the pause.
 *
 * Redis keys (all under one hash tag so a Redis Cluster keeps them in one slot; Lua needs that):
 * - `<prefix>:tat`     the theoretical arrival time of the next free slot (Redis TIME, microseconds)
 * - `<prefix>:log`     the last 20 slots granted (a list, newest first), for the window rule: 20
 *                      whatever this process's `limit`, so a process with a higher one finds them
 * - `<prefix>:tat-mark` what this version last wrote to `tat`: a `tat` that differs was written by
 *                      a limiter that keeps no log (an older version, in a rolling deploy), and
 * - `<prefix>:even-only` then exists for a minute: no slots are made up for while it does
 * - `<prefix>:rate`    the learned rate (req/s) while under the ceiling's target; absent: at it.
 *                      It expires after `rateMemoryMs` without traffic (what was learned is stale)
 * - `<prefix>:peak`    the rate of the last 429 burst; expires `rateMemoryMs` after it
 * - `<prefix>:epoch`   incremented by each new 429 burst; a slot reserved in an older epoch is void
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
  /** Reports a 429; lowers the rate, pauses every caller and resolves with the pause length in ms. */
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
  /** Slots reserved and given up in acquire() because the caller woke up too late for them. */
  missedSlots?: number;
  /**
   * The last local moment (performance.now()) at which the slot may still be used: a request sent
   * later could, with the slots granted since, put a 21st request into one second. Whatever the
   * caller does between the grant and the send (a shared call taking its requests, a busy event
   * loop) counts; sendThroughLimiter gives a slot past it up and asks again. Absent: no deadline.
   */
  sendBy?: number;
}

/** Options of RedisRateLimiter; only `redis` and `limit` are required. */
export interface RedisRateLimiterOptions {
  /** Any ioredis connection; the limiter issues short non-blocking commands only. */
  redis: Redis;
  /**
   * The ceiling: grants per second never exceed it, an integer 1..20 (config `rateLimitRps`,
   * default 20). Adaptive, the rate probes up to `limit` x `headroom`; fixed, it is `limit`.
   */
  limit: number;
  /** Learn the rate (default), or grant at `limit` always (`false`: no headroom, no decrease). */
  adaptive?: boolean;
  /** The steady target as a share of `limit`, for the send-time skew. Default 0.98. */
  headroom?: number;
  /** The rate is multiplied by this on the first 429 of a burst. Default 0.85. */
  decrease?: number;
  /** Rate regained (req/s) per second of grants, away from the rate of the last 429. Default 0.5. */
  recoveryPerSecond?: number;
  /** Rate regained (req/s) per second of grants from 0.95 to 1.03 of the rate of the last 429. Default 0.02. */
  probePerSecond?: number;
  /** The rate never drops below this (req/s). Default 1. */
  minRps?: number;
  /** How long the learned rate is kept without traffic; then it starts at the target again. Default 600 000. */
  rateMemoryMs?: number;
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
   * millisecond. Default: one slot interval at the ceiling, ceil(1000 / limit).
   */
  jitterMs?: number;
  /** How far ahead a caller may reserve a slot; beyond it, it sleeps and asks again. Default 5000. */
  reserveHorizonMs?: number;
  /**
   * At the target rate, how many slots a moment with no caller waiting may be made up for: up to
   * this many grants come early, half an interval apart, never more than `limit` in `limit` slots'
   * time at the target. Default 2; 0 (even spacing only) when not adaptive.
   */
  catchUpSlots?: number;
}

const windowMs = 1000;

/**
 * How long slots are only spaced evenly after `tat` was found written by a limiter that keeps no
 * log (a version before it, during a rolling deploy): its slots are not in the log, so slots made
 * up for could share a window with them. Long past any slot it may have reserved.
 */
const evenOnlyMs = 60_000;

/**
 * The learned rate now: the stored one, or the target when none is stored, never above the target
 * (a process with a lower ceiling caps it for its own grants). Shared by the scripts below.
 * KEYS[3]: rate. ARGV[1]: target req/s.
 */
const currentRate = `
local target = tonumber(ARGV[1])
local rate = tonumber(redis.call('GET', KEYS[3]) or target)
if rate > target then rate = target end
`;

/**
 * Reserves the next free slot unless a pause is active or the slot lies beyond the horizon, and
 * regains `step / rate` req/s of rate per grant (so `step` per second of full use): the probe step
 * from 0.95 to 1.03 of the rate of the last 429 (the peak), the recovery step elsewhere.
 * Returns {1, slot time in us, us to wait until the slot, epoch, interval in us} or
 * {0, ms to wait before asking again}. Below the target, slots are 1e6/rate us apart, so no window
 * of 1000 ms holds more than `rate` of them. At the target, a slot may come up to ARGV[8] intervals
 * ahead of that schedule (making up for a moment when no caller was waiting), half an interval
 * after the last at the least; whatever the rate, a slot is at least ARGV[7] us after the slot
 * `limit` slots before it (the log), so no ARGV[7] us hold more than `limit` slots.
 * Nothing is made up for while `even-only` exists, which a `tat` not written by this version (its
 * mark differs) sets, for ARGV[9] ms.
 * KEYS: tat, pause, rate, epoch, peak, log, tat-mark, even-only. ARGV: target req/s, recovery
 * req/s per s, horizon us, rate memory ms, probe req/s per s, limit, window us, catch-up slots,
 * even-only ms.
 */
const acquireScript = defineScript(`
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, pause} end
${currentRate}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = math.ceil(1000000 / rate)
local tatText = redis.call('GET', KEYS[1])
local tat = tonumber(tatText or '0')
if tatText and tatText ~= redis.call('GET', KEYS[7]) then
  redis.call('SET', KEYS[8], '1', 'PX', ARGV[9])
end
local slot = tat
if rate >= target and redis.call('EXISTS', KEYS[8]) == 0 then
  local last = tonumber(redis.call('LINDEX', KEYS[6], 0) or '0')
  slot = math.max(tat - tonumber(ARGV[8]) * interval, last + math.ceil(interval / 2))
end
if slot < now then slot = now end
local limit = tonumber(ARGV[6])
local window = tonumber(ARGV[7])
if redis.call('LLEN', KEYS[6]) >= limit then
  local oldest = tonumber(redis.call('LINDEX', KEYS[6], limit - 1))
  if slot < oldest + window then slot = oldest + window end
end
local wait = slot - now
if wait > tonumber(ARGV[3]) then return {0, math.ceil((wait - tonumber(ARGV[3])) / 1000)} end
local nextTat = string.format('%.0f', math.max(tat, slot) + interval)
local tatTtl = math.ceil((tonumber(nextTat) - now) / 1000) + 1000
redis.call('SET', KEYS[1], nextTat, 'PX', tatTtl)
redis.call('SET', KEYS[7], nextTat, 'PX', tatTtl + 1000)
redis.call('LPUSH', KEYS[6], string.format('%.0f', slot))
redis.call('LTRIM', KEYS[6], 0, ${gatewayRequestsPerSecond - 1})
redis.call('PEXPIRE', KEYS[6], math.ceil((wait + window) / 1000) + 1000)
local peak = tonumber(redis.call('GET', KEYS[5]) or '0')
local step = tonumber(ARGV[2])
if rate > peak * 0.95 and rate < peak * 1.03 then step = tonumber(ARGV[5]) end
local regained = rate + step / rate
if regained >= target then
  redis.call('DEL', KEYS[3], KEYS[5])
else
  redis.call('SET', KEYS[3], string.format('%.6f', regained), 'PX', ARGV[4])
end
return {1, string.format('%.0f', slot), wait, redis.call('GET', KEYS[4]) or '0', interval}
`);

/**
 * What a caller back from sleeping until its slot checks before it sends: the pause left (ms), the
 * Redis clock (us, as a string), to tell how late after its slot it is, and the epoch.
 * KEYS: pause, epoch.
 */
const checkScript = defineScript(`
local t = redis.call('TIME')
return {redis.call('PTTL', KEYS[1]), string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])), redis.call('GET', KEYS[2]) or '0'}
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
 * that pause began (the same burst), so it neither counts as a new strike nor lowers the rate
 * again: otherwise ten requests in flight would escalate the pause and the rate ten times at once.
 * A new burst records the rate it happened at (the peak), lowers the rate, voids every slot
 * reserved so far (epoch) and moves the next free slot to the pause's end.
 * KEYS: pause, strikes, rate, epoch, tat, peak, tat-mark. ARGV: target req/s, retryAfterMs or '', base ms, max ms,
 * strike TTL ms, decrease factor, min req/s, rate memory ms.
 * Returns {pause left in ms, strikes, rate now (string)}.
 */
const rateLimitedScript = defineScript(`
${currentRate}
local left = redis.call('PTTL', KEYS[1])
local strikes
local fresh = left <= 0
if fresh then
  strikes = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('SET', KEYS[6], string.format('%.6f', rate), 'PX', ARGV[8])
  rate = math.max(tonumber(ARGV[7]), rate * tonumber(ARGV[6]))
  if rate < target then redis.call('SET', KEYS[3], string.format('%.6f', rate), 'PX', ARGV[8]) end
  redis.call('INCR', KEYS[4])
else
  strikes = tonumber(redis.call('GET', KEYS[2]) or '1')
end
local ms
if ARGV[2] ~= '' then
  ms = tonumber(ARGV[2])
else
  ms = math.min(tonumber(ARGV[3]) * 2 ^ math.min(strikes - 1, 30), tonumber(ARGV[4]))
end
if left < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
  left = ms
end
if fresh then
  local t = redis.call('TIME')
  local resume = tonumber(t[1]) * 1000000 + tonumber(t[2]) + left * 1000
  redis.call('SET', KEYS[5], string.format('%.0f', resume), 'PX', left + 1000)
  redis.call('SET', KEYS[7], string.format('%.0f', resume), 'PX', left + 2000)
end
return {left, strikes, string.format('%.6f', rate)}
`);

/** The spaced-slot (GCRA) limiter on Redis with the learned rate described at the top of this file. */
export class RedisRateLimiter implements RateLimiter {
  /** The ceiling (req/s). */
  readonly limit: number;
  /** The rate the limiter probes up to: `limit` x headroom when adaptive, else `limit`. */
  readonly targetRps: number;
  readonly #redis: Redis;
  readonly #keys: {
    tat: string;
    pause: string;
    strikes: string;
    rate: string;
    epoch: string;
    peak: string;
    log: string;
    mark: string;
    evenOnly: string;
  };
  readonly #decrease: number;
  readonly #recovery: number;
  readonly #probe: number;
  readonly #minRps: number;
  readonly #rateMemoryMs: number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #retryAfterMaxMs: number;
  readonly #strikeTtlMs: number;
  readonly #jitterMs: number;
  readonly #horizonUs: number;
  /** How late after its slot a caller may still send (see acquire()). */
  readonly #maxLateUs: number;
  /** No span this long (us) holds more than `limit` slots: `limit` slots at the target rate. */
  readonly #windowUs: number;
  readonly #catchUpSlots: number;

  constructor(options: RedisRateLimiterOptions) {
    const { limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > gatewayRequestsPerSecond) {
      throw new ConnectorError('CONFIG_INVALID', `rate limit must be an integer 1..${gatewayRequestsPerSecond}, got ${limit}`);
    }
    const adaptive = options.adaptive ?? true;
    const headroom = adaptive ? (options.headroom ?? 0.98) : 1;
    const decrease = adaptive ? (options.decrease ?? 0.85) : 1;
    if (!(headroom > 0 && headroom <= 1) || !(decrease > 0 && decrease <= 1)) {
      throw new ConnectorError(
        'CONFIG_INVALID',
        `rate limiter headroom and decrease must be in (0, 1], got ${headroom}, ${decrease}`,
      );
    }
    const prefix = options.keyPrefix ?? '{cfc}:rl';
    this.limit = limit;
    this.targetRps = limit * headroom;
    this.#redis = options.redis;
    this.#keys = {
      tat: `${prefix}:tat`,
      pause: `${prefix}:pause`,
      strikes: `${prefix}:strikes`,
      rate: `${prefix}:rate`,
      epoch: `${prefix}:epoch`,
      peak: `${prefix}:peak`,
      log: `${prefix}:log`,
      mark: `${prefix}:tat-mark`,
      evenOnly: `${prefix}:even-only`,
    };
    this.#decrease = decrease;
    this.#recovery = adaptive ? (options.recoveryPerSecond ?? 0.5) : 0;
    this.#probe = adaptive ? (options.probePerSecond ?? 0.02) : 0;
    this.#minRps = Math.min(options.minRps ?? 1, this.targetRps);
    this.#rateMemoryMs = options.rateMemoryMs ?? 600_000;
    this.#horizonUs = (options.reserveHorizonMs ?? 5_000) * 1000;
    this.#windowUs = Math.ceil((limit * 1e6) / this.targetRps);
    this.#catchUpSlots = adaptive ? (options.catchUpSlots ?? 2) : 0;
    // A send later than its slot by less than what the shortest span of 21 slots has over one
    // second can never make 21 sends in any second, whatever the others' delays. Evenly spaced at
    // the target, 21 slots span 20 intervals (1020 ms at 19.6/s: 20 ms of slack; at 18/s more than
    // a whole interval). With slots made up for, each `limit` of the 20 gaps span the window at
    // least and the rest half an interval each: at a ceiling of 20 the same 1020 ms, at 19 1047.
    const spanUs =
      this.#catchUpSlots > 0
        ? Math.floor(gatewayRequestsPerSecond / limit) * this.#windowUs +
          (gatewayRequestsPerSecond % limit) * Math.ceil(Math.ceil(1e6 / this.targetRps) / 2)
        : (gatewayRequestsPerSecond * 1e6) / this.targetRps;
    this.#maxLateUs = Math.max(1000, spanUs - 1e6);
    this.#backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.#retryAfterMaxMs = options.retryAfterMaxMs ?? 60_000;
    this.#strikeTtlMs = options.strikeTtlMs ?? 120_000;
    this.#jitterMs = options.jitterMs ?? Math.ceil(windowMs / limit);
  }

  /** Every key the limiter keeps in Redis (for tests and benchmarks that clean up). */
  get keys(): readonly string[] {
    return Object.values(this.#keys);
  }

  async acquire(signal?: AbortSignal): Promise<RateLimitGrant> {
    const started = performance.now();
    const { tat, pause, rate, epoch, peak, log, mark, evenOnly } = this.#keys;
    let missedSlots = 0;
    for (let attempts = 1; ; attempts++) {
      signal?.throwIfAborted();
      // Redis ran the script after this moment, so the slot (at or after Redis's now) is no
      // earlier than it on the local clock: a deadline counted from here is conservative.
      let askedAt = performance.now();
      const [granted, value, waitUs, slotEpoch, intervalUs] = (await runScript(
        this.#redis,
        acquireScript,
        [tat, pause, rate, epoch, peak, log, mark, evenOnly],
        [
          this.targetRps,
          this.#recovery,
          this.#horizonUs,
          this.#rateMemoryMs,
          this.#probe,
          this.limit,
          this.#windowUs,
          this.#catchUpSlots,
          evenOnlyMs,
        ],
      )) as [number, number | string, number | undefined, string | undefined, number | undefined];
      if (granted !== 1) {
        await sleep(Number(value) + Math.random() * this.#jitterMs, signal);
        continue;
      }
      // Too late past its slot (this process's event loop stalled, or Redis was unreachable and
      // every caller whose slot passed meanwhile resumes the moment it is back), sending could put
      // a 21st request into a second with the slots granted since. Too late is more than one
      // interval, and more than the slack the slots' spacing leaves over one second (#maxLateUs,
      // see the constructor), so the requests sent, not only the slots granted, stay within CF's
      // 20 in any second. A slot left unused is conservative, never a burst.
      const maxLateUs = Math.min(Number(intervalUs), this.#maxLateUs);
      let lateUs = 0;
      // An abort while sleeping wastes the reserved slot: conservative, never a burst.
      if (waitUs && waitUs > 0) {
        await sleep(waitUs / 1000, signal);
        askedAt = performance.now();
        const [pauseMs, nowUs, epochNow] = (await runScript(this.#redis, checkScript, [pause, epoch], [])) as [
          number,
          string,
          string,
        ];
        // A 429 may have paused everyone while this caller slept, and voided the slots reserved
        // at the old rate: honour it, reserve afresh.
        if (pauseMs > 0 || epochNow !== slotEpoch) continue;
        // Already too late (see maxLateUs): reserve afresh.
        lateUs = Number(nowUs) - Number(value);
        if (lateUs > maxLateUs) {
          missedSlots += 1;
          continue;
        }
        // Woken before the slot (a timer rounds its delay down to whole ms): wait for it, never
        // send early. The deadline below still counts from the slot.
        if (lateUs < 0) await sleep(-lateUs / 1000, signal);
      }
      return {
        grantedAtMs: Number(value) / 1000,
        attempts,
        waitedMs: performance.now() - started,
        missedSlots,
        sendBy: askedAt + (maxLateUs - lateUs) / 1000,
      };
    }
  }

  /** Makes every acquire, in every process, wait at least `ms` from now. Resolves with the pause left. */
  async pause(ms: number): Promise<number> {
    const length = Math.max(1, Math.ceil(ms));
    return Number(await runScript(this.#redis, pauseScript, [this.#keys.pause], [length]));
  }

  /**
   * Reports a 429: lowers the shared rate (once per burst, see the top of this file) and pauses
   * every caller: for Retry-After when CF sent one (capped by retryAfterMaxMs), else exponentially
   * (base, 2x base, 4x base ... capped by backoffMaxMs) by consecutive 429s.
   */
  async onRateLimited(retryAfterMs: number | undefined): Promise<number> {
    const retryAfter = retryAfterMs === undefined ? '' : Math.max(1, Math.min(Math.ceil(retryAfterMs), this.#retryAfterMaxMs));
    const { pause, strikes, rate, epoch, tat, peak, mark } = this.#keys;
    const [left] = (await runScript(
      this.#redis,
      rateLimitedScript,
      [pause, strikes, rate, epoch, tat, peak, mark],
      [
        this.targetRps,
        retryAfter,
        this.#backoffBaseMs,
        this.#backoffMaxMs,
        this.#strikeTtlMs,
        this.#decrease,
        this.#minRps,
        this.#rateMemoryMs,
      ],
    )) as [number, number, string];
    return left;
  }

  async onSuccess(): Promise<void> {
    await this.#redis.del(this.#keys.strikes);
  }

  /** What the limiter holds in Redis now, for the operations view and metrics; reads only. */
  async state(): Promise<RateLimiterState> {
    const { tat, pause, strikes, rate } = this.#keys;
    const replies = await this.#redis.multi().time().get(tat).pttl(pause).get(strikes).get(rate).exec();
    const [time, tatUs, pauseMs, strikeCount, learned] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    }) as [[string, string], string | null, number, string | null, string | null];
    const nowUs = Number(time[0]) * 1_000_000 + Number(time[1]);
    return {
      limit: this.limit,
      targetRps: this.targetRps,
      rateRps: Math.min(this.targetRps, Number(learned ?? this.targetRps)),
      reservedAheadMs: Math.max(0, (Number(tatUs ?? 0) - nowUs) / 1000),
      pausedForMs: Math.max(0, pauseMs),
      consecutive429s: Number(strikeCount ?? 0),
    };
  }
}

/** The limiter's state at one moment (RedisRateLimiter.state()). */
export interface RateLimiterState {
  /** The ceiling: grants per second at most (CF_RATE_LIMIT_RPS). */
  limit: number;
  /** What the rate probes up to: the ceiling less the headroom for send-time skew (the ceiling when fixed). */
  targetRps: number;
  /** The rate granted now, all processes together, as learned from Creative Force's 429s. */
  rateRps: number;
  /** How far ahead of now the next free slot lies: callers already hold slots up to then (0: idle). */
  reservedAheadMs: number;
  /** The pause after a 429 still to run (0: none). */
  pausedForMs: number;
  /** 429s in a row without a success in between (they double the pause). */
  consecutive429s: number;
}
