/**
 * RedisRateLimiter against the real Redis: several ioredis connections stand in for several
 * processes, and for the learned rate real child processes (test/helpers/limiter-process.ts).
 * Assertions are on grant counts per window and gaps between grants (Redis clock) and on the rate
 * the limiter reports, never on wall-clock speed, except generous upper bounds that only catch a
 * limiter that stalls.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RateLimiterState, type RateLimitGrant, RedisRateLimiter } from '../../src/creative-force/index.ts';
import { ConnectorError } from '../../src/errors.ts';
import type { LimiterCommand, LimiterReply } from '../helpers/limiter-process.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const connections: Redis[] = [];
const prefixes: string[] = [];

function newPrefix(): string {
  const prefix = `{cfc-test-${randomUUID()}}:rl`;
  prefixes.push(prefix);
  return prefix;
}

/** The largest number of grants in any window [t, t + windowMs). */
function maxInWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

beforeAll(() => {
  for (let i = 0; i < 3; i++) connections.push(new Redis(redisUrl, { connectionName: `rate-limiter-test-${i}` }));
});

afterEach(async () => {
  const redis = connections[0] as Redis;
  for (const prefix of prefixes.splice(0)) {
    await redis.del(...new RedisRateLimiter({ redis, limit: 1, keyPrefix: prefix }).keys);
  }
});

afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit()));
});

/** Gaps between consecutive grants, in ms (Redis clock). */
function gaps(grants: readonly RateLimitGrant[]): number[] {
  const sorted = grants.map((g) => g.grantedAtMs).sort((a, b) => a - b);
  return sorted.slice(1).map((t, i) => t - (sorted[i] as number));
}

/** A limiter in a process of its own (a worker or receiver of the service, as far as Redis can tell). */
class LimiterProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (result: unknown) => void>();
  #next = 1;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: LimiterReply) => {
      this.#pending.get(reply.id)?.(reply.result);
      this.#pending.delete(reply.id);
    });
  }

  static async start(options: Record<string, unknown>): Promise<LimiterProcess> {
    const child = fork(resolve('test/helpers/limiter-process.ts'), [JSON.stringify({ redisUrl, ...options })], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((ready, failed) => {
      child.once('message', () => ready());
      child.once('exit', (code) => failed(new Error(`limiter process exited (${code}) before it was ready`)));
    });
    return new LimiterProcess(child);
  }

  state(): Promise<RateLimiterState> {
    return this.#ask({ kind: 'state' }) as Promise<RateLimiterState>;
  }

  acquire(count: number): Promise<RateLimitGrant[]> {
    return this.#ask({ kind: 'acquire', count }) as Promise<RateLimitGrant[]>;
  }

  rateLimited(retryAfterMs: number | undefined): Promise<number> {
    return this.#ask({ kind: 'rateLimited', retryAfterMs }) as Promise<number>;
  }

  async close(): Promise<void> {
    const exited = new Promise((done) => this.#child.once('exit', done));
    this.#child.disconnect();
    await exited;
  }

  #ask(request: LimiterCommand): Promise<unknown> {
    const id = this.#next++;
    return new Promise((done) => {
      this.#pending.set(id, done);
      this.#child.send({ ...request, id });
    });
  }
}

describe('RedisRateLimiter', () => {
  it('never grants more than the limit in any 1000 ms window across connections', async () => {
    const keyPrefix = newPrefix();
    const limit = 20;
    // One limiter per connection, as separate processes would have.
    const limiters = connections.map((redis) => new RedisRateLimiter({ redis, limit, keyPrefix }));
    const grants = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (limiters[i % limiters.length] as RedisRateLimiter).acquire()),
    );
    const times = grants.map((g) => g.grantedAtMs);

    expect(maxInWindow(times)).toBeLessThanOrEqual(limit);
    // 100 grants at 20 per window need at least 4 further windows after the first burst...
    const span = Math.max(...times) - Math.min(...times);
    expect(span).toBeGreaterThanOrEqual(4000);
    // ...and a working limiter does not take much longer (generous bound for a loaded machine).
    expect(span).toBeLessThan(12_000);
    // The first window is used in full: the limiter is not needlessly slow either.
    expect(maxInWindow(times)).toBe(limit);
    // A steady flow, never a burst: at the target of 19.6/s slots are 51.02 ms apart, or half
    // that where slots are made up for (the next test), and any 21 grants span the window of 20
    // slots at the target (1020.4 ms): 20 ms of slack for the skew of sending.
    const sorted = [...times].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(25.51);
    for (let i = 0; i + limit < sorted.length; i++) {
      expect((sorted[i + limit] as number) - (sorted[i] as number)).toBeGreaterThanOrEqual(1020.408);
    }
  });

  it('at the target, makes up for slots no caller was waiting for, within the window', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 20, keyPrefix });
    // A steady caller, then a moment of three slots with nobody waiting, then a crowd.
    const steady: RateLimitGrant[] = [];
    for (let i = 0; i < 25; i++) steady.push(await limiter.acquire());
    await new Promise((r) => setTimeout(r, 160));
    const crowd = await Promise.all(Array.from({ length: 25 }, () => limiter.acquire()));
    const after = gaps(crowd);
    // The crowd's first five grants come half an interval apart (at 0, 0.5, 1, 1.5 and 2
    // intervals, where even spacing has three): two slots made up for, no more; then 51.02 ms,
    // until the window holds the crowd back behind the steady caller's own made-up slots.
    expect(after.slice(0, 4).map((g) => Math.round(g))).toEqual([26, 26, 26, 26]);
    for (const gap of after.slice(4, 14)) expect(gap).toBeGreaterThanOrEqual(51.01);
    // Whatever was made up for, no 1020.4 ms (20 slots at the target) hold more than 20 grants.
    const all = [...steady, ...crowd].map((g) => g.grantedAtMs).sort((a, b) => a - b);
    for (let i = 0; i + 20 < all.length; i++)
      expect((all[i + 20] as number) - (all[i] as number)).toBeGreaterThanOrEqual(1020.408);
    expect(maxInWindow(all)).toBeLessThanOrEqual(20);
  });

  it('spaces slots evenly for a minute after a limiter that keeps no log (an older version) reserved one', async () => {
    const keyPrefix = newPrefix();
    const redis = connections[0] as Redis;
    const limiter = new RedisRateLimiter({ redis, limit: 20, keyPrefix });
    await limiter.acquire();
    // What a version before the log does with a slot: `tat` moved on, nothing logged.
    const [seconds, micros] = await redis.time();
    const nowUs = Number(seconds) * 1e6 + Number(micros);
    await redis.set(`${keyPrefix}:tat`, String(nowUs + 51_021), 'PX', 2000);
    await new Promise((r) => setTimeout(r, 160));
    const crowd = await Promise.all(Array.from({ length: 8 }, () => limiter.acquire()));
    for (const gap of gaps(crowd)) expect(gap).toBeGreaterThanOrEqual(51.01);
    const evenFor = await redis.pttl(`${keyPrefix}:even-only`);
    expect(evenFor).toBeGreaterThan(55_000);
    expect(evenFor).toBeLessThanOrEqual(60_000);
    // Once the minute is over (here: the key dropped), slots are made up for again.
    await redis.del(`${keyPrefix}:even-only`);
    await new Promise((r) => setTimeout(r, 160));
    const later = await Promise.all(Array.from({ length: 4 }, () => limiter.acquire()));
    expect(gaps(later).map((g) => Math.round(g))).toEqual([26, 26, 26]);
  });

  it('makes callers beyond the reservation horizon ask again', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 20, keyPrefix, reserveHorizonMs: 200 });
    const grants = await Promise.all(Array.from({ length: 12 }, () => limiter.acquire()));
    expect(grants.some((g) => g.attempts > 1)).toBe(true);
    expect(maxInWindow(grants.map((g) => g.grantedAtMs))).toBeLessThanOrEqual(20);
  });

  it('keeps the window across separate bursts (sliding, not fixed)', async () => {
    const keyPrefix = newPrefix();
    const [a, b] = connections.map((redis) => new RedisRateLimiter({ redis, limit: 5, keyPrefix })) as [
      RedisRateLimiter,
      RedisRateLimiter,
    ];
    const first = await Promise.all(Array.from({ length: 5 }, () => a.acquire()));
    const second = await Promise.all(Array.from({ length: 5 }, () => b.acquire()));
    const firstTimes = first.map((g) => g.grantedAtMs);
    const secondTimes = second.map((g) => g.grantedAtMs);
    expect(maxInWindow([...firstTimes, ...secondTimes])).toBeLessThanOrEqual(5);
    expect(Math.min(...secondTimes)).toBeGreaterThanOrEqual(Math.min(...firstTimes) + 1000);
  });

  it('pause() holds every acquire on every connection until it ends', async () => {
    const keyPrefix = newPrefix();
    const [a, b] = connections.map((redis) => new RedisRateLimiter({ redis, limit: 18, keyPrefix })) as [
      RedisRateLimiter,
      RedisRateLimiter,
    ];
    const before = await redisNowMs(connections[0] as Redis);
    expect(await a.pause(600)).toBe(600);
    // A shorter pause never shortens the current one.
    expect(await b.pause(10)).toBeGreaterThan(10);
    const grants = await Promise.all([a.acquire(), b.acquire(), b.acquire()]);
    for (const grant of grants) expect(grant.grantedAtMs - before).toBeGreaterThanOrEqual(590);
  });

  it('onRateLimited pauses exponentially, does not escalate within one pause, and onSuccess resets', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({
      redis: connections[0] as Redis,
      limit: 18,
      keyPrefix,
      backoffBaseMs: 100,
      backoffMaxMs: 300,
    });
    expect(await limiter.onRateLimited(undefined)).toBe(100);
    // A second 429 of the same burst, answered while the pause runs, is not a new strike.
    expect(await limiter.onRateLimited(undefined)).toBeLessThanOrEqual(100);
    await limiter.acquire();
    expect(await limiter.onRateLimited(undefined)).toBe(200);
    await limiter.acquire();
    expect(await limiter.onRateLimited(undefined)).toBe(300);
    await limiter.acquire();
    expect(await limiter.onRateLimited(undefined)).toBe(300);
    await limiter.acquire();
    await limiter.onSuccess();
    expect(await limiter.onRateLimited(undefined)).toBe(100);
  });

  it('onRateLimited honours Retry-After, capped, and shares the pause', async () => {
    const keyPrefix = newPrefix();
    const [a, b] = connections.map((redis) => new RedisRateLimiter({ redis, limit: 18, keyPrefix, retryAfterMaxMs: 800 })) as [
      RedisRateLimiter,
      RedisRateLimiter,
    ];
    const before = await redisNowMs(connections[0] as Redis);
    expect(await a.onRateLimited(500)).toBe(500);
    const grant = await b.acquire();
    expect(grant.grantedAtMs - before).toBeGreaterThanOrEqual(490);
    expect(await a.onRateLimited(3_600_000)).toBe(800);
  });

  it('acquire rejects with the caller’s abort reason while waiting', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 18, keyPrefix });
    await limiter.pause(5000);
    const controller = new AbortController();
    const pending = limiter.acquire(controller.signal);
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
  });

  it('reserves afresh when it comes back from its slot late, so a stalled caller never sends on top of later slots', async () => {
    const keyPrefix = newPrefix();
    const redis = connections[0] as Redis;
    const limiter = new RedisRateLimiter({ redis, limit: 20, keyPrefix });
    await limiter.acquire(); // the next free slot is now 50 ms ahead
    const tatBefore = await redis.get(`${keyPrefix}:tat`);
    const pending = limiter.acquire(); // reserves that slot and sleeps until it
    while ((await redis.get(`${keyPrefix}:tat`)) === tatBefore) await new Promise((r) => setTimeout(r, 1));
    // The event loop stalls past the slot (a CPU-starved process; or Redis unreachable for the
    // pause check): the caller wakes about 200 ms late.
    const stallUntil = performance.now() + 200;
    while (performance.now() < stallUntil) {}
    const late = await pending;
    const returnedAt = await redisNowMs(redis);
    expect(returnedAt - late.grantedAtMs).toBeLessThan(50 + 30);
    expect(late.attempts).toBeGreaterThan(1);
    // Not on top of it either: at least half an interval (a slot made up for) after it.
    const next = await limiter.acquire();
    expect(next.grantedAtMs - late.grantedAtMs).toBeGreaterThanOrEqual(25.5);
  });

  it('one 429 reported in one process lowers the rate every process grants at', async () => {
    const keyPrefix = newPrefix();
    const processes = await Promise.all([
      LimiterProcess.start({ keyPrefix, limit: 20 }),
      LimiterProcess.start({ keyPrefix, limit: 20 }),
    ]);
    const [first, second] = processes as [LimiterProcess, LimiterProcess];
    const here = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 20, keyPrefix });
    try {
      // Out of the box: the ceiling less the headroom for send-time skew.
      for (const p of processes) expect(await p.state()).toMatchObject({ limit: 20, targetRps: 19.6, rateRps: 19.6 });
      expect(await first.rateLimited(20)).toBe(20);
      const lowered = 19.6 * 0.85;
      for (const state of [await first.state(), await second.state(), await here.state()]) {
        expect(state.rateRps).toBeCloseTo(lowered, 3);
        expect(state.targetRps).toBe(19.6);
      }
      // The other process grants at the lowered rate: ~60 ms apart instead of ~51.
      const grants = await second.acquire(6);
      for (const gap of gaps(grants)) expect(gap).toBeGreaterThanOrEqual(1000 / (lowered + 0.5) - 0.01);
    } finally {
      await Promise.all(processes.map((p) => p.close()));
    }
  });

  it('recovers additively with each grant, slower near the rate of the last 429, up to the target and never past it', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({
      redis: connections[0] as Redis,
      limit: 10,
      keyPrefix,
      decrease: 0.5,
      recoveryPerSecond: 2,
      probePerSecond: 0.5,
      // Even spacing at the target too, so the gaps below follow the rate alone.
      catchUpSlots: 0,
    });
    await limiter.onRateLimited(1); // at 9.8: the peak
    while ((await limiter.state()).pausedForMs > 0) await new Promise((r) => setTimeout(r, 1));
    let expected = 4.9;
    expect((await limiter.state()).rateRps).toBeCloseTo(expected, 4);
    const grants: RateLimitGrant[] = [];
    const steps: number[] = [];
    for (let i = 0; i < 30; i++) {
      const grant = await limiter.acquire();
      grants.push(grant);
      // Each slot reserved regains step / rate: `step` req/s per second of grants at the current
      // rate, the recovery step up to 0.95 of the peak, the probe step from there. (A caller that
      // wakes late reserves again: one more attempt, one more slot.)
      for (let attempt = 0; attempt < grant.attempts; attempt++) {
        const step = expected > 9.8 * 0.95 ? 0.5 : 2;
        steps.push(step);
        expected = Math.min(9.8, expected + step / expected);
      }
      expect((await limiter.state()).rateRps).toBeCloseTo(expected, 4);
    }
    expect(expected).toBe(9.8);
    expect(steps).toContain(0.5);
    // Spacing follows the rate: wide after the 429, ~102 ms at the target, never under 100 ms.
    const spacing = gaps(grants);
    expect(spacing[0]).toBeGreaterThanOrEqual(1000 / 4.9 - 0.01);
    expect(Math.min(...spacing)).toBeGreaterThanOrEqual(1000 / 9.8 - 0.01);
    expect(maxInWindow(grants.map((g) => g.grantedAtMs))).toBeLessThanOrEqual(10);
  });

  it('lowers the rate once per burst of 429s, again on the next burst, never under the floor', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 20, keyPrefix, minRps: 5 });
    await limiter.onRateLimited(100);
    // Answered during the pause: sent before it, the same burst.
    await limiter.onRateLimited(100);
    expect((await limiter.state()).rateRps).toBeCloseTo(19.6 * 0.85, 4);
    await limiter.acquire(); // after the pause; the grant regains a little
    const before = (await limiter.state()).rateRps;
    await limiter.onRateLimited(1);
    expect((await limiter.state()).rateRps).toBeCloseTo(before * 0.85, 4);
    for (let i = 0; i < 20; i++) {
      await limiter.acquire();
      await limiter.onRateLimited(1);
    }
    expect((await limiter.state()).rateRps).toBe(5);
  });

  it('voids the slots reserved at the old rate: after a 429 callers reserve afresh, at the new rate, after the pause', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 20, keyPrefix });
    // Ten callers reserve slots ~51 ms apart; the 429 comes once the first has its grant.
    const pending = Array.from({ length: 10 }, () => limiter.acquire());
    await pending[0];
    const at429 = await redisNowMs(connections[0] as Redis);
    const pauseMs = await limiter.onRateLimited(200);
    const grants = await Promise.all(pending);
    const after = grants.filter((g) => g.grantedAtMs > at429);
    // Nothing granted in the pause; what was reserved at the old rate went out before the 429.
    for (const grant of after) expect(grant.grantedAtMs).toBeGreaterThanOrEqual(at429 + pauseMs - 1);
    const lowered = 19.6 * 0.85;
    for (const gap of gaps(after)) expect(gap).toBeGreaterThanOrEqual(1000 / (lowered + 0.5) - 0.01);
    expect(after.length).toBeGreaterThan(0);
  });

  it('grants at the ceiling and only pauses after a 429 when not adaptive', async () => {
    const keyPrefix = newPrefix();
    const limiter = new RedisRateLimiter({ redis: connections[0] as Redis, limit: 18, keyPrefix, adaptive: false });
    expect(await limiter.state()).toMatchObject({ limit: 18, targetRps: 18, rateRps: 18 });
    expect(await limiter.onRateLimited(10)).toBe(10);
    expect((await limiter.state()).rateRps).toBe(18);
    const grants = await Promise.all(Array.from({ length: 4 }, () => limiter.acquire()));
    expect(Math.min(...gaps(grants))).toBeGreaterThanOrEqual(1000 / 18 - 0.01);
  });

  it('rejects a limit outside 1..20', () => {
    for (const limit of [0, 21, 2.5]) {
      expect(() => new RedisRateLimiter({ redis: connections[0] as Redis, limit })).toThrow(ConnectorError);
    }
  });
});
