import { describe, expect, it } from 'vitest';
import { LocalRateLimiter } from '../../src/creative-force/index.ts';

describe('LocalRateLimiter (check without Redis)', () => {
  it('spaces grants 1000/limit ms apart', async () => {
    const limiter = new LocalRateLimiter(20);
    const first = await limiter.acquire();
    const second = await limiter.acquire();
    const third = await limiter.acquire();
    expect(second.grantedAtMs - first.grantedAtMs).toBe(50);
    expect(third.grantedAtMs - second.grantedAtMs).toBe(50);
    expect(third.waitedMs).toBeGreaterThanOrEqual(40);
  });

  it('pauses after a 429: Retry-After (capped at 60 s), else 1 s doubling until a success', async () => {
    const limiter = new LocalRateLimiter(20);
    expect(await limiter.onRateLimited(120)).toBe(120);
    const before = Date.now();
    const grant = await limiter.acquire();
    expect(grant.grantedAtMs - before).toBeGreaterThanOrEqual(110);
    expect(await limiter.onRateLimited(3_600_000)).toBe(60_000);
    expect(await limiter.onRateLimited(undefined)).toBe(4000); // the third 429 in a row
    await limiter.onSuccess();
    expect(await limiter.onRateLimited(undefined)).toBe(1000);
    expect(await limiter.onRateLimited(undefined)).toBe(2000);
  });

  it('rejects with the signal reason while it waits', async () => {
    const limiter = new LocalRateLimiter(20);
    await limiter.onRateLimited(60_000);
    const reason = new Error('stop');
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });
});
