/**
 * RedisRateLimiter against the real Redis: several ioredis connections stand in for several
 * processes. Assertions are on grant counts per window (Redis clock), never on wall-clock speed,
 * except generous upper bounds that only catch a limiter that stalls.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimiter } from '../../src/creative-force/index.ts';
import { ConnectorError } from '../../src/errors.ts';

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
    await redis.del(`${prefix}:tat`, `${prefix}:pause`, `${prefix}:strikes`);
  }
});

afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit()));
});

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
    // Grants are spaced evenly (a steady flow), never a burst: 1000 / 20 = 50 ms apart.
    const sorted = [...times].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(49.99);
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
    const next = await limiter.acquire();
    expect(next.grantedAtMs - late.grantedAtMs).toBeGreaterThanOrEqual(49.9);
  });

  it('rejects a limit outside 1..20', () => {
    for (const limit of [0, 21, 2.5]) {
      expect(() => new RedisRateLimiter({ redis: connections[0] as Redis, limit })).toThrow(ConnectorError);
    }
  });
});
