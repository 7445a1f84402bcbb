/**
 * TokenStore against the real Redis and a loopback OAuth token endpoint (node:http).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ConnectionCredentials,
  type RateLimiter,
  type RateLimitGrant,
  RedisRateLimiter,
  TokenStore,
  type TokenStoreOptions,
} from '../../src/creative-force/index.ts';
import { ConnectorError } from '../../src/errors.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface TokenRequest {
  headers: Record<string, string | string[] | undefined>;
  form: URLSearchParams;
}
interface TokenAnswer {
  status: number;
  body: unknown;
  delayMs?: number;
}

/** A loopback token endpoint: records requests, answers with `answer` (default: a fresh token). */
class TokenServer {
  readonly requests: TokenRequest[] = [];
  answer: (n: number) => TokenAnswer = (n) => ({
    status: 200,
    body: { access_token: `token-${n}`, expires_in: 3600, token_type: 'Bearer', scope: 'cfgateway' },
  });
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({ headers: req.headers, form: new URLSearchParams(Buffer.concat(chunks).toString()) });
      const answer = this.answer(this.requests.length);
      setTimeout(() => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      }, answer.delayMs ?? 0);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/connect/token`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** Counts acquires; never waits. */
class CountingLimiter implements RateLimiter {
  acquires = 0;
  async acquire(): Promise<RateLimitGrant> {
    this.acquires++;
    return { grantedAtMs: Date.now(), attempts: 1, waitedMs: 0 };
  }
  async onRateLimited(): Promise<number> {
    return 0;
  }
  async onSuccess(): Promise<void> {}
}

const connection: ConnectionCredentials = { id: 'studio-a', clientId: 'client-a', clientSecret: 'very-secret-value' };
const server = new TokenServer();
const dispatcher = new Agent();
const redisA = new Redis(redisUrl, { connectionName: 'token-store-test-a' });
const redisB = new Redis(redisUrl, { connectionName: 'token-store-test-b' });
const { logger, lines: logLines } = capturedLogger();
let tokenUrl = '';
let keyPrefix = '';

function store(redis: Redis, overrides: Partial<TokenStoreOptions> = {}): TokenStore {
  return new TokenStore({
    redis,
    limiter: new CountingLimiter(),
    tokenUrl,
    requestTimeoutMs: 2000,
    logger,
    dispatcher,
    keyPrefix,
    ...overrides,
  });
}

beforeAll(async () => {
  tokenUrl = await server.start();
});

beforeEach(() => {
  keyPrefix = `{cfc-test-${randomUUID()}}:token`;
  server.requests.length = 0;
  server.answer = (n) => ({ status: 200, body: { access_token: `token-${n}`, expires_in: 3600 } });
  logLines.length = 0;
});

afterEach(async () => {
  const keys = await redisA.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redisA.del(...keys);
});

afterAll(async () => {
  await server.stop();
  await dispatcher.close();
  await Promise.all([redisA.quit(), redisB.quit()]);
});

describe('TokenStore', () => {
  it('requests a token with the client credentials form, through the limiter', async () => {
    const limiter = new CountingLimiter();
    const token = await store(redisA, { limiter }).getToken(connection);
    expect(token).toBe('token-1');
    expect(limiter.acquires).toBe(1);
    const [request] = server.requests;
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-a',
      client_secret: 'very-secret-value',
      scope: 'cfgateway',
    });
  });

  it('shares the cached token between stores on different Redis connections', async () => {
    const a = store(redisA);
    const b = store(redisB);
    expect(await a.getToken(connection)).toBe('token-1');
    expect(await b.getToken(connection)).toBe('token-1');
    expect(await a.getToken(connection)).toBe('token-1');
    expect(server.requests).toHaveLength(1);
    // Another connection has its own token.
    expect(await b.getToken({ ...connection, id: 'studio-b' })).toBe('token-2');
  });

  it('makes one token request for many concurrent callers in several stores', async () => {
    server.answer = (n) => ({ status: 200, body: { access_token: `token-${n}`, expires_in: 3600 }, delayMs: 300 });
    const stores = [store(redisA, { pollIntervalMs: 20 }), store(redisB, { pollIntervalMs: 20 })];
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => (stores[i % 2] as TokenStore).getToken(connection)));
    expect(new Set(tokens)).toEqual(new Set(['token-1']));
    expect(server.requests).toHaveLength(1);
  });

  it('refreshes before expiry, and keeps serving the old token while another caller refreshes', async () => {
    // A 4 s token refreshed when less than half of its life is left.
    server.answer = (n) => ({ status: 200, body: { access_token: `token-${n}`, expires_in: 4 }, delayMs: n === 2 ? 300 : 0 });
    const a = store(redisA, { refreshFraction: 0.5 });
    const b = store(redisB, { refreshFraction: 0.5 });
    expect(await a.getToken(connection)).toBe('token-1');
    expect(await b.getToken(connection)).toBe('token-1');
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const refreshing = a.getToken(connection);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The refresh is in flight: the old token has not expired and stays usable meanwhile.
    expect(await b.getToken(connection)).toBe('token-1');
    expect(await refreshing).toBe('token-2');
    expect(await b.getToken(connection)).toBe('token-2');
    expect(server.requests).toHaveLength(2);
  });

  it('invalidate drops the cached token only while it is still that token', async () => {
    const a = store(redisA);
    const b = store(redisB);
    expect(await a.getToken(connection)).toBe('token-1');
    await a.invalidate(connection.id, 'token-1');
    expect(await b.getToken(connection)).toBe('token-2');
    // A caller that still holds token-1 must not throw away token-2.
    await a.invalidate(connection.id, 'token-1');
    expect(await a.getToken(connection)).toBe('token-2');
    expect(server.requests).toHaveLength(2);
  });

  it('invalid_client is CF_AUTH_FAILED naming the connection, shared by the callers that waited', async () => {
    server.answer = () => ({ status: 400, body: { error: 'invalid_client' }, delayMs: 200 });
    const stores = [store(redisA, { pollIntervalMs: 20 }), store(redisB, { pollIntervalMs: 20 })];
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => (stores[i % 2] as TokenStore).getToken(connection)),
    );
    expect(server.requests).toHaveLength(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const err = (result as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err).toMatchObject({ code: 'CF_AUTH_FAILED', retryable: false });
      expect((err as Error).message).toContain('studio-a');
      expect((err as Error).message).toContain('invalid_client');
    }
    // The raw error body is logged; the secret never is.
    expect(logLines.join('')).toContain('invalid_client');
    expect(logLines.join('')).not.toContain('very-secret-value');
  });

  it('redacts the client secret an error body echoes, from the log and from the error, also for the callers that waited', async () => {
    const echo = `client_id=client-a&client_secret=${connection.clientSecret}&scope=cfgateway`;
    server.answer = () => ({
      status: 400,
      body: { error: 'invalid_request', error_description: `bad form: ${echo}` },
      delayMs: 200,
    });
    const stores = [store(redisA, { pollIntervalMs: 20 }), store(redisB, { pollIntervalMs: 20 })];
    const results = await Promise.allSettled([0, 1, 2].map((i) => (stores[i % 2] as TokenStore).getToken(connection)));
    expect(server.requests).toHaveLength(1);
    for (const result of results) {
      const err = (result as PromiseRejectedResult).reason as ConnectorError;
      expect(err).toMatchObject({
        code: 'CF_REJECTED',
        ownMessage: 'Creative Force token request of connection studio-a answered 400',
      });
      expect(err.remoteText).toBe('invalid_request: bad form: client_id=client-a&client_secret=[Redacted]&scope=cfgateway');
      expect(err.message).not.toContain(connection.clientSecret);
    }
    expect(logLines.join('')).toContain('client_secret=[Redacted]');
    expect(logLines.join('')).not.toContain(connection.clientSecret);
  });

  it('a later caller retries after a failure instead of inheriting it', async () => {
    server.answer = (n) =>
      n === 1 ? { status: 503, body: 'down' } : { status: 200, body: { access_token: `token-${n}`, expires_in: 3600 } };
    const a = store(redisA);
    await expect(a.getToken(connection)).rejects.toMatchObject({ code: 'CF_SERVER_ERROR', retryable: true });
    expect(await a.getToken(connection)).toBe('token-2');
  });

  it('a malformed token response is CF_BAD_RESPONSE naming the field', async () => {
    server.answer = () => ({ status: 200, body: { access_token: 'x', expires_in: 'soon' } });
    await expect(store(redisA).getToken(connection)).rejects.toMatchObject({
      code: 'CF_BAD_RESPONSE',
      message: expect.stringContaining('expires_in'),
    });
  });

  it('passes token requests through the shared Redis limiter', async () => {
    const limiter = new RedisRateLimiter({ redis: redisA, limit: 18, keyPrefix: `${keyPrefix}:rl` });
    const before = Date.now();
    await limiter.pause(400);
    expect(await store(redisB, { limiter }).getToken(connection)).toBe('token-1');
    expect(Date.now() - before).toBeGreaterThanOrEqual(350);
    await redisA.del(`${keyPrefix}:rl:log`, `${keyPrefix}:rl:pause`, `${keyPrefix}:rl:strikes`);
  });

  it('never logs the token', async () => {
    await store(redisA).getToken(connection);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain('token-1');
  });
});
