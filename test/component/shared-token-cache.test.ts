/**
 * SharedTokenCache against the real Redis, with two caches on two Redis connections standing for
 * two processes, and an in-memory fetch that counts its calls.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import {
  type FetchedToken,
  SharedTokenCache,
  type SharedTokenCacheOptions,
  type SharedTokenErrors,
  type TokenFetch,
  type TokenRenewal,
} from '../../src/http/shared-token-cache.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { dropPrefix, redisUrl } from '../helpers/redis.ts';

const redisA = new Redis(redisUrl, { connectionName: 'shared-token-cache-test-a' });
const redisB = new Redis(redisUrl, { connectionName: 'shared-token-cache-test-b' });
const logLines: string[] = [];
const logger = createLogger('debug', { write: (line: string) => logLines.push(line) });

const errors: SharedTokenErrors = {
  waitTimeout: (connectionId, waitTimeoutMs) =>
    new ConnectorError('CF_TIMEOUT', `waited ${waitTimeoutMs} ms for ${connectionId}`, { details: { connectionId } }),
  sharedFailureDetails: (connectionId) => ({ connectionId, layer: 'test' }),
  unreadableFailure: (connectionId) => new ConnectorError('CF_NETWORK', `unreadable failure of ${connectionId}`),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fetch that records its calls and answers `token-<n>` after `delayMs`, or what `answer` returns. */
class FakeIssuer {
  readonly calls: TokenRenewal[] = [];
  /** How many fetches run right now, across every cache. */
  running = 0;
  maxRunning = 0;
  delayMs = 0;
  answer: (n: number) => FetchedToken | Error = (n) => ({ token: `token-${n}`, ttlMs: 3_600_000 });

  readonly fetch: TokenFetch = async (renewal) => {
    this.calls.push(renewal);
    const n = this.calls.length;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await sleep(this.delayMs);
      const result = this.answer(n);
      if (result instanceof Error) throw result;
      return result;
    } finally {
      this.running--;
    }
  };
}

let keyPrefix = '';
let issuer = new FakeIssuer();

function cache(redis: Redis, overrides: Partial<SharedTokenCacheOptions> = {}): SharedTokenCache {
  return new SharedTokenCache({ redis, keyPrefix, lockTtlMs: 5000, logger, errors, pollIntervalMs: 20, ...overrides });
}

beforeEach(() => {
  keyPrefix = `{cfc-test-stc-${randomUUID()}}:token`;
  issuer = new FakeIssuer();
  logLines.length = 0;
});

afterEach(async () => {
  await dropPrefix(keyPrefix);
});

afterAll(async () => {
  await Promise.all([redisA.quit(), redisB.quit()]);
});

describe('SharedTokenCache', () => {
  it('runs one fetch at a time across two Redis connections; every waiter gets the new token', async () => {
    issuer.delayMs = 200;
    const caches = [cache(redisA), cache(redisB)];
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (caches[i % 2] as SharedTokenCache).getToken('studio-a', issuer.fetch)),
    );
    expect(new Set(tokens)).toEqual(new Set(['token-1']));
    expect(issuer.calls).toHaveLength(1);
    expect(issuer.maxRunning).toBe(1);
    // Cached with the TTL the fetch gave; the lock is released.
    const ttl = await redisA.pttl(`${keyPrefix}:studio-a`);
    expect(ttl).toBeGreaterThan(3_590_000);
    expect(await redisA.exists(`${keyPrefix}:studio-a:lock`)).toBe(0);
    // Another connection has its own token.
    expect(await caches[1]?.getToken('studio b/ü', issuer.fetch)).toBe('token-2');
    expect(await redisA.exists(`${keyPrefix}:${encodeURIComponent('studio b/ü')}`)).toBe(1);
  });

  // A first poll of Redis 30-90 s away (a tenth of the longest interval, jittered): these callers
  // finish within the test's 10 s only if the renewal of their own process wakes them.
  const neverPolls = { pollIntervalMs: 600_000 };

  it('wakes the waiters of the renewing process when its renewal ends, not at a poll', { timeout: 10_000 }, async () => {
    issuer.delayMs = 100;
    const a = cache(redisA, neverPolls);
    const tokens = await Promise.all(Array.from({ length: 5 }, () => a.getToken('studio-a', issuer.fetch)));
    expect(tokens).toEqual(Array(5).fill('token-1'));
    expect(issuer.calls).toHaveLength(1);
  });

  it('a renewal its own caller aborts is taken over by a waiter of the same process', { timeout: 10_000 }, async () => {
    // A fetch that stops when its caller's signal aborts (not a ConnectorError: nothing to share).
    let fetches = 0;
    const fetch: TokenFetch = async ({ signal }) => {
      fetches += 1;
      await sleep(200);
      signal?.throwIfAborted();
      return { token: `token-${fetches}`, ttlMs: 3_600_000 };
    };
    const a = cache(redisA, neverPolls);
    const controller = new AbortController();
    const reason = new Error('cycle cancelled');
    const first = a.getToken('studio-a', fetch, controller.signal);
    await sleep(50);
    const second = a.getToken('studio-a', fetch);
    controller.abort(reason);
    await expect(first).rejects.toBe(reason);
    expect(await second).toBe('token-2');
    expect(fetches).toBe(2);
  });

  it("an abort while waiting on the same process's renewal rejects with the signal reason", async () => {
    issuer.delayMs = 300;
    const a = cache(redisA, neverPolls);
    const renewing = a.getToken('studio-a', issuer.fetch);
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const waiting = a.getToken('studio-a', issuer.fetch, controller.signal);
    setTimeout(() => controller.abort(reason), 100);
    await expect(waiting).rejects.toBe(reason);
    expect(await renewing).toBe('token-1');
    expect(issuer.calls).toHaveLength(1);
  });

  it('renews inside the margin, one fetch while the old token keeps being served', async () => {
    // A 4 s lifetime renewed when less than half of it is left.
    issuer.answer = (n) => ({ token: `token-${n}`, ttlMs: 4000 });
    const a = cache(redisA, { refreshFraction: 0.5 });
    const b = cache(redisB, { refreshFraction: 0.5 });
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-1');
    await redisA.pexpire(`${keyPrefix}:studio-a`, 1500);
    issuer.delayMs = 300;
    const renewing = a.getToken('studio-a', issuer.fetch);
    await sleep(100);
    expect(await b.getToken('studio-a', issuer.fetch)).toBe('token-1');
    expect(await renewing).toBe('token-2');
    expect(await b.getToken('studio-a', issuer.fetch)).toBe('token-2');
    expect(issuer.calls).toHaveLength(2);
  });

  it('shares a failure with the callers that waited on it, and a later caller tries again', async () => {
    issuer.delayMs = 200;
    issuer.answer = (n) =>
      n === 1 ? new ConnectorError('CF_AUTH_FAILED', 'credentials refused') : { token: `token-${n}`, ttlMs: 3_600_000 };
    const caches = [cache(redisA), cache(redisB)];
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => (caches[i % 2] as SharedTokenCache).getToken('studio-a', issuer.fetch)),
    );
    expect(issuer.calls).toHaveLength(1);
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason as ConnectorError);
    for (const reason of reasons) {
      expect(reason).toBeInstanceOf(ConnectorError);
      expect(reason).toMatchObject({ code: 'CF_AUTH_FAILED', message: 'credentials refused', retryable: false });
    }
    // The waiters' errors are rebuilt from the marker, with the layer's details.
    const shared = reasons.filter((r) => r.details?.sharedFailure === true);
    expect(shared).toHaveLength(5);
    for (const reason of shared) expect(reason.details).toEqual({ connectionId: 'studio-a', layer: 'test', sharedFailure: true });

    // A caller that starts after the failure does not inherit it.
    expect(await caches[0]?.getToken('studio-a', issuer.fetch)).toBe('token-2');
    expect(await redisA.exists(`${keyPrefix}:studio-a:failure`)).toBe(0);
  });

  it('keeps the current token when an early renewal fails', async () => {
    issuer.answer = (n) => (n === 1 ? { token: 'token-1', ttlMs: 3_600_000 } : new ConnectorError('CF_SERVER_ERROR', 'down'));
    const a = cache(redisA, { keptTokenMessage: 'kept the current token' });
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-1');
    await redisA.pexpire(`${keyPrefix}:studio-a`, 60_000);
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-1');
    // While the failure is on record, the still-valid token is served without asking again.
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-1');
    expect(issuer.calls).toHaveLength(2);
    expect(logLines.join('')).toContain('kept the current token');
  });

  it('invalidate drops the token only while it is still that token', async () => {
    const a = cache(redisA);
    const b = cache(redisB);
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-1');
    await a.invalidate('studio-a', 'token-1');
    expect(await b.getToken('studio-a', issuer.fetch)).toBe('token-2');
    // A caller that still holds token-1 must not throw away token-2.
    await a.invalidate('studio-a', 'token-1');
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-2');
    expect(issuer.calls).toHaveLength(2);
  });

  it('keeps, replaces or deletes the refresh token as the fetch says, and hands it to the next fetch', async () => {
    const refreshKey = `${keyPrefix}:studio-a:refresh`;
    const answers: FetchedToken[] = [
      { token: 'token-1', ttlMs: 3_600_000, refreshToken: { token: 'refresh-1', ttlMs: 60_000 } },
      { token: 'token-2', ttlMs: 3_600_000 },
      { token: 'token-3', ttlMs: 3_600_000, refreshToken: null },
      { token: 'token-4', ttlMs: 3_600_000 },
    ];
    issuer.answer = (n) => answers[n - 1] as FetchedToken;
    const a = cache(redisA);
    const renew = async (expected: string) => {
      await redisA.pexpire(`${keyPrefix}:studio-a`, 1000);
      expect(await a.getToken('studio-a', issuer.fetch)).toBe(expected);
    };
    expect(await a.getToken('studio-a', issuer.fetch)).toBe('token-1');
    expect(await redisA.get(refreshKey)).toBe('refresh-1');
    expect(await redisA.pttl(refreshKey)).toBeGreaterThan(55_000);
    await renew('token-2');
    expect(await redisA.get(refreshKey)).toBe('refresh-1');
    await renew('token-3');
    expect(await redisA.get(refreshKey)).toBeNull();
    await renew('token-4');
    expect(issuer.calls.map((c) => c.refreshToken)).toEqual([null, 'refresh-1', 'refresh-1', null]);
  });

  it('gives up waiting for another renewal with the layer error', async () => {
    // Another process holds the lock and never finishes.
    await redisB.set(`${keyPrefix}:studio-a:lock`, 'someone-else', 'PX', 10_000);
    const err = await cache(redisA, { waitTimeoutMs: 200 })
      .getToken('studio-a', issuer.fetch)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CF_TIMEOUT', message: 'waited 200 ms for studio-a' });
    expect(issuer.calls).toHaveLength(0);
  });

  it('an abort while waiting rejects with the signal reason', async () => {
    await redisB.set(`${keyPrefix}:studio-a:lock`, 'someone-else', 'PX', 10_000);
    const reason = new Error('shutting down');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await expect(cache(redisA).getToken('studio-a', issuer.fetch, controller.signal)).rejects.toBe(reason);
  });

  it('an unreadable failure marker is the layer error', async () => {
    issuer.delayMs = 100;
    await redisB.set(`${keyPrefix}:studio-a:lock`, 'someone-else', 'PX', 10_000);
    const waiting = cache(redisA)
      .getToken('studio-a', issuer.fetch)
      .catch((e: unknown) => e);
    await sleep(60);
    await redisB.set(`${keyPrefix}:studio-a:failure`, 'not json', 'PX', 5000);
    expect(await waiting).toMatchObject({ code: 'CF_NETWORK', message: 'unreadable failure of studio-a' });
  });
});
