/**
 * CreativeForceClient against a loopback gateway + token endpoint (node:http), the real Redis
 * limiter and the real TokenStore. The full CF simulator lives elsewhere; this server only answers
 * what each test scripts.
 */
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Agent, buildConnector } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config/env.ts';
import {
  type ConnectionCredentials,
  CreativeForceClient,
  defaultGatewayPaths,
  defaultKeptOutputDownload,
  defaultSharedCallCaps,
  defaultStatusBodyFields,
  defaultWireForms,
  type RateLimiter,
  type RateLimitGrant,
  RedisRateLimiter,
  TokenStore,
} from '../../src/creative-force/index.ts';
import { ConnectorError } from '../../src/errors.ts';
import { PrometheusMetrics } from '../../src/observability/metrics.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
  at: number;
}
interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Never answer (the client's deadline must end the call). */
  hang?: boolean;
}
type Handler = (request: Recorded, nth: number) => Answer;

/** Loopback CF: `/connect/token` and `/v1/...`, each answered by a replaceable handler. */
class FakeCreativeForce {
  readonly tokenRequests: Recorded[] = [];
  readonly gatewayRequests: Recorded[] = [];
  tokenHandler: Handler = () => ({ status: 200 });
  gatewayHandler: Handler = () => ({ status: 404 });
  readonly #server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const recorded: Recorded = {
        method: req.method ?? '',
        path: url.pathname,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
        at: Date.now(),
      };
      const isToken = url.pathname === '/connect/token';
      const list = isToken ? this.tokenRequests : this.gatewayRequests;
      list.push(recorded);
      const answer = (isToken ? this.tokenHandler : this.gatewayHandler)(recorded, list.length);
      if (answer.hang) return;
      const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(text);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.tokenRequests.length = 0;
    this.gatewayRequests.length = 0;
    this.tokenHandler = (_req, n) => ({ status: 200, body: { access_token: `token-${n}`, expires_in: 3600 } });
    this.gatewayHandler = () => ({ status: 404 });
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Wraps a limiter and records what the client reported to it. */
class SpyLimiter implements RateLimiter {
  readonly rateLimited: { retryAfterMs: number | undefined; pausedMs: number }[] = [];
  readonly grants: RateLimitGrant[] = [];
  acquires = 0;
  successes = 0;
  readonly #inner: RateLimiter;
  constructor(inner: RateLimiter) {
    this.#inner = inner;
  }
  async acquire(signal?: AbortSignal): Promise<RateLimitGrant> {
    this.acquires++;
    const grant = await this.#inner.acquire(signal);
    this.grants.push(grant);
    return grant;
  }
  async onRateLimited(retryAfterMs: number | undefined): Promise<number> {
    const pausedMs = await this.#inner.onRateLimited(retryAfterMs);
    this.rateLimited.push({ retryAfterMs, pausedMs });
    return pausedMs;
  }
  onSuccess(): Promise<void> {
    this.successes++;
    return this.#inner.onSuccess();
  }
}

const processDetail = {
  taskProcessId: 'tp-1',
  taskId: 'task-1',
  productId: 'p-1',
  outfitId: null,
  jobId: 'job-1',
  clientId: 'client-ws',
  colorReferenceFiles: [],
  inputAssets: [{ assetId: 'a-1', fileName: 'front.jpg', positionTagId: 3, positionName: 'Front', assetAttributeId: 0 }],
  outputAssets: [],
  taskProcessExpectedOutputs: [{ mappingKeyId: 'mk-1', isRequired: true, minQuantity: 1, maxQuantity: 1 }],
};

const fake = new FakeCreativeForce();
const dispatcher = new Agent();
const redisA = new Redis(redisUrl, { connectionName: 'gateway-client-test-a' });
const redisB = new Redis(redisUrl, { connectionName: 'gateway-client-test-b' });
const { logger, lines: logLines } = capturedLogger();
const connection: ConnectionCredentials = { id: 'studio-a', clientId: 'client-a', clientSecret: 'very-secret-value' };
let origin = '';
let prefix = '';

function cfConfig(overrides: Partial<AppConfig['cf']> = {}): AppConfig['cf'] {
  return {
    apiBaseUrl: `${origin}/v1`,
    tokenUrl: `${origin}/connect/token`,
    rateLimitRps: 20,
    rateLimitAdaptive: true,
    requestTimeoutMs: 2000,
    failedStatus: 'Failed',
    sharedCalls: false,
    caps: { ...defaultSharedCallCaps },
    statusBodyFields: { ...defaultStatusBodyFields },
    wireForms: defaultWireForms,
    keptOutputDownload: defaultKeptOutputDownload,
    paths: { ...defaultGatewayPaths },
    ...overrides,
  };
}

/** Metrics that count what the client reports; the Redis-read series are fixed stand-ins. */
function gatewayMetrics(): PrometheusMetrics {
  return new PrometheusMetrics({
    sources: { queue: async () => '', deadLetters: async () => 0, limiterRate: async () => ({ rateRps: 19.6, limit: 20 }) },
    logger,
  });
}

/** A client with its own limiter and token store on the given Redis connection (a "process"). */
function setup(
  options: {
    redis?: Redis;
    config?: Partial<AppConfig['cf']>;
    refreshFraction?: number;
    maxRateLimitRetries?: number;
    connection?: ConnectionCredentials;
    dispatcher?: Agent;
    metrics?: PrometheusMetrics;
  } = {},
) {
  const through = options.dispatcher ?? dispatcher;
  const redis = options.redis ?? redisA;
  const config = cfConfig(options.config);
  const limiter = new SpyLimiter(
    new RedisRateLimiter({ redis, limit: config.rateLimitRps, keyPrefix: `${prefix}:rl`, backoffBaseMs: 100, backoffMaxMs: 400 }),
  );
  const tokens = new TokenStore({
    redis,
    limiter,
    tokenUrl: config.tokenUrl,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
    dispatcher: through,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    keyPrefix: `${prefix}:token`,
    pollIntervalMs: 20,
    refreshFraction: options.refreshFraction ?? 0.1,
  });
  const client = new CreativeForceClient({
    connection: options.connection ?? connection,
    config,
    limiter,
    tokens,
    dispatcher: through,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    logger,
    maxRateLimitRetries: options.maxRateLimitRetries ?? 5,
  });
  return { client, limiter, tokens };
}

beforeAll(async () => {
  origin = await fake.start();
});

beforeEach(() => {
  prefix = `{cfc-test-${randomUUID()}}`;
  fake.reset();
  logLines.length = 0;
});

afterEach(async () => {
  const keys = await redisA.keys(`${prefix}*`);
  if (keys.length > 0) await redisA.del(...keys);
});

afterAll(async () => {
  await fake.stop();
  await dispatcher.close();
  await Promise.all([redisA.quit(), redisB.quit()]);
});

/**
 * An Agent whose every connection takes 150 ms to open; with `dropUnused`, one that carried
 * nothing when it opened is closed at once (undici writes a request it may send in that same
 * call, so nothing written means nothing sent on it).
 */
function slowAgent({ dropUnused = false } = {}): { agent: Agent; opened: () => number } {
  const connect = buildConnector({});
  let opened = 0;
  const agent = new Agent({
    connect: (options, callback) =>
      connect(options, (err, socket) => {
        opened += 1;
        setTimeout(() => {
          if (err || !socket) return callback(err ?? new Error('no socket'), null);
          callback(null, socket);
          if (dropUnused && socket.bytesWritten === 0) socket.destroy();
        }, 150);
      }),
  });
  return { agent, opened: () => opened };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

describe('CreativeForceClient', () => {
  it('gets the process detail with a bearer token, through the limiter, parsed by its schema', async () => {
    fake.gatewayHandler = () => ({ status: 200, body: processDetail });
    const metrics = gatewayMetrics();
    const { client, limiter } = setup({ metrics });
    const detail = await client.getProcessDetail('tp-1');
    expect(detail.taskProcessExpectedOutputs[0]?.mappingKeyId).toBe('mk-1');
    expect(detail.inputAssets[0]?.positionTagId).toBe('3');
    expect(fake.gatewayRequests).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/v1/cloud-automation/task-processes/tp-1',
        authorization: 'Bearer token-1',
      }),
    ]);
    // One acquire for the token request, one for the gateway call, and one more for each slot
    // given up unused (a loaded machine can stall past a slot's deadline of about 20 ms; the
    // opening of this file's first connection is where it happened in CI).
    const families = parsePrometheusText(await metrics.render());
    const missed = (at: string) => sampleValue(families, 'cf_ai_connector_creative_force_limiter_slots_missed_total', { at });
    expect(limiter.acquires).toBe(2 + missed('send') + missed('socket'));
  });

  it('shares one token between two clients on different Redis connections, even when called concurrently', async () => {
    fake.tokenHandler = (_req, n) => ({ status: 200, body: { access_token: `token-${n}`, expires_in: 3600 } });
    fake.gatewayHandler = () => ({ status: 200, body: processDetail });
    const a = setup({ redis: redisA }).client;
    const b = setup({ redis: redisB }).client;
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).getProcessDetail(`tp-${i}`)));
    expect(fake.tokenRequests).toHaveLength(1);
    expect(new Set(fake.gatewayRequests.map((r) => r.authorization))).toEqual(new Set(['Bearer token-1']));
  });

  it('refreshes the token before it expires', async () => {
    fake.tokenHandler = (_req, n) => ({ status: 200, body: { access_token: `token-${n}`, expires_in: 2 } });
    fake.gatewayHandler = () => ({ status: 200, body: { id: 'job-1' } });
    const { client } = setup({ refreshFraction: 0.5 });
    await client.getJob('job-1');
    await client.getJob('job-1');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await client.getJob('job-1');
    expect(fake.tokenRequests).toHaveLength(2);
    expect(fake.gatewayRequests.map((r) => r.authorization)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
  });

  it('401: drops the token, fetches a fresh one and retries once', async () => {
    fake.gatewayHandler = (req) =>
      req.authorization === 'Bearer token-1' ? { status: 401 } : { status: 200, body: { productId: 'p-1' } };
    const { client } = setup();
    expect(await client.getProduct('p-1')).toEqual({ productId: 'p-1' });
    expect(fake.tokenRequests).toHaveLength(2);
    expect(fake.gatewayRequests.map((r) => r.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('401 twice is CF_UNAUTHORIZED', async () => {
    fake.gatewayHandler = () => ({ status: 401, body: 'Unauthorized' });
    const err = await rejection(setup().client.getProduct('p-1'));
    expect(err.code).toBe('CF_UNAUTHORIZED');
    expect(err.retryable).toBe(false);
    expect(fake.gatewayRequests).toHaveLength(2);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('429 with Retry-After pauses the limiter for that long, then succeeds', async () => {
    fake.gatewayHandler = (_req, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200, body: { jobId: 'job-1' } };
    const { client, limiter } = setup();
    expect(await client.getJob('job-1')).toEqual({ jobId: 'job-1' });
    expect(limiter.rateLimited).toEqual([{ retryAfterMs: 1000, pausedMs: 1000 }]);
    expect(fake.gatewayRequests).toHaveLength(2);
    const [first, second] = fake.gatewayRequests as [Recorded, Recorded];
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
  });

  it('429 with an HTTP-date Retry-After pauses until that date', async () => {
    const at = new Date(Date.now() + 2000).toUTCString();
    fake.gatewayHandler = (_req, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': at } } : { status: 200, body: { jobId: 'job-1' } };
    const { client, limiter } = setup();
    expect(await client.getJob('job-1')).toEqual({ jobId: 'job-1' });
    const [reported] = limiter.rateLimited;
    // HTTP dates have 1 s resolution: the wait is between 1 and 2 s from the 429.
    expect(reported?.retryAfterMs).toBeGreaterThan(0);
    expect(reported?.retryAfterMs).toBeLessThanOrEqual(2000);
    expect(fake.gatewayRequests).toHaveLength(2);
  });

  it('429 without Retry-After pauses exponentially, then succeeds', async () => {
    fake.gatewayHandler = (_req, n) => (n <= 3 ? { status: 429 } : { status: 200, body: { jobId: 'job-1' } });
    const { client, limiter } = setup();
    expect(await client.getJob('job-1')).toEqual({ jobId: 'job-1' });
    expect(limiter.rateLimited.map((r) => r.retryAfterMs)).toEqual([undefined, undefined, undefined]);
    expect(limiter.rateLimited.map((r) => r.pausedMs)).toEqual([100, 200, 400]);
    expect(fake.gatewayRequests).toHaveLength(4);
  });

  it('429 that does not stop is CF_RATE_LIMITED (retryable) after the retries', async () => {
    fake.gatewayHandler = () => ({ status: 429 });
    const err = await rejection(setup({ maxRateLimitRetries: 2 }).client.getJob('job-1'));
    expect(err.code).toBe('CF_RATE_LIMITED');
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(fake.gatewayRequests).toHaveLength(3);
    expect(err.message).toMatch(/answered 429 3 times in a row/);
  });

  it('5xx is CF_SERVER_ERROR and is not retried, even for submit', async () => {
    fake.gatewayHandler = () => ({ status: 503, body: { errors: [{ code: 'GEN-1', message: 'Unavailable' }] } });
    const err = await rejection(setup().client.submitOutput('tp-1', { submitAssets: [{ mappingKeyId: 'mk-1', assets: [] }] }));
    expect(err.code).toBe('CF_SERVER_ERROR');
    expect(err.retryable).toBe(true);
    expect(fake.gatewayRequests).toHaveLength(1);
  });

  it('a call past its deadline is CF_TIMEOUT', async () => {
    fake.gatewayHandler = () => ({ status: 200, hang: true });
    const err = await rejection(setup({ config: { requestTimeoutMs: 300 } }).client.getProcessDetail('tp-1'));
    expect(err.code).toBe('CF_TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(fake.gatewayRequests).toHaveLength(1);
  });

  it("the caller's abort rejects with the caller's reason", async () => {
    fake.gatewayHandler = () => ({ status: 200, hang: true });
    const { client } = setup();
    const controller = new AbortController();
    const reason = new Error('worker shutting down');
    const pending = client.getProcessDetail('tp-1', controller.signal);
    setTimeout(() => controller.abort(reason), 200);
    await expect(pending).rejects.toBe(reason);
  });

  it('a request whose connection opens after its slot is not sent then: it goes out on a later slot, over that connection', async () => {
    fake.gatewayHandler = () => ({ status: 200, body: processDetail });
    // Each connection takes 150 ms to open, far past a slot's deadline (about 20 ms at the
    // ceiling of 20/s), as a TLS handshake to a distant gateway can.
    const { agent: slow, opened } = slowAgent();
    // When each request's headers went out (undici writes them right after onRequestStart).
    const sentAt: number[] = [];
    const onSent = () => void sentAt.push(performance.now());
    subscribe('undici:client:sendHeaders', onSent);
    const metrics = gatewayMetrics();
    try {
      const { client, limiter } = setup({ dispatcher: slow, metrics });
      await client.getProcessDetail('tp-1');
      // Ops see the slot given up at the socket.
      const families = parsePrometheusText(await metrics.render());
      expect(sampleValue(families, 'cf_ai_connector_creative_force_limiter_slots_missed_total', { at: 'socket' })).toBe(1);
      // The token request missed its first slot while its connection opened and was sent on a
      // second; the gateway call then found that connection open and sent on its first.
      expect({ token: fake.tokenRequests.length, gateway: fake.gatewayRequests.length, opened: opened() }).toEqual({
        token: 1,
        gateway: 1,
        opened: 1,
      });
      expect(limiter.acquires).toBe(3);
      // Each request left within its slot's deadline: the slot missed, then the two used.
      const [, tokenGrant, gatewayGrant] = limiter.grants;
      expect(sentAt).toHaveLength(2);
      expect(sentAt[0]).toBeLessThanOrEqual(tokenGrant?.sendBy ?? Number.NEGATIVE_INFINITY);
      expect(sentAt[1]).toBeLessThanOrEqual(gatewayGrant?.sendBy ?? Number.NEGATIVE_INFINITY);
    } finally {
      unsubscribe('undici:client:sendHeaders', onSent);
      await slow.close();
    }
  });

  it('a request that misses its slot at the socket 3 times in a row is sent on the next without the hold, and the misses are logged', async () => {
    fake.gatewayHandler = () => ({ status: 200, body: processDetail });
    // Every connection takes 150 ms to open, and one that carried nothing when it opened is
    // closed at once (as by a server quick to drop idle connections): no try finds one ready
    // until one is sent without the hold.
    const { agent: slow } = slowAgent({ dropUnused: true });
    try {
      const { client, limiter } = setup({ dispatcher: slow });
      await client.getProcessDetail('tp-1');
      expect({ token: fake.tokenRequests.length, gateway: fake.gatewayRequests.length }).toEqual({ token: 1, gateway: 1 });
      // The token request: 3 slots missed, then the one it was sent on without the hold. The
      // gateway call then found the connection that carried it open.
      expect(limiter.acquires).toBe(5);
      expect(logLines.filter((line) => line.includes('missed its slot at the socket repeatedly'))).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('a refused connection is CF_NETWORK', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { client, tokens } = setup({ config: { apiBaseUrl: `http://127.0.0.1:${port}/v1` } });
    await tokens.getToken(connection);
    const err = await rejection(client.getJob('job-1'));
    expect(err.code).toBe('CF_NETWORK');
    expect(err.retryable).toBe(true);
  });

  it('a 2xx body that breaks the schema is CF_BAD_RESPONSE naming the field', async () => {
    const { taskProcessExpectedOutputs: _missing, ...incomplete } = processDetail;
    fake.gatewayHandler = () => ({ status: 200, body: incomplete });
    const err = await rejection(setup().client.getProcessDetail('tp-1'));
    expect(err.code).toBe('CF_BAD_RESPONSE');
    expect(err.message).toContain('taskProcessExpectedOutputs');
    expect(err.details).toMatchObject({ issues: [expect.objectContaining({ field: 'taskProcessExpectedOutputs' })] });

    fake.gatewayHandler = () => ({ status: 200, body: '<html>gateway</html>' });
    expect((await rejection(setup().client.getProcessDetail('tp-1'))).code).toBe('CF_BAD_RESPONSE');
  });

  it('a business error keeps the CF error code in the message and details, and logs the raw body', async () => {
    const body = { errors: [{ code: 'ErrorCode-1554', message: 'SubmitMappingKeyMismatch' }] };
    fake.gatewayHandler = () => ({ status: 400, body });
    const err = await rejection(setup().client.submitOutput('tp-1', { submitAssets: [] }));
    expect(err.code).toBe('CF_REJECTED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('ErrorCode-1554 SubmitMappingKeyMismatch');
    expect(err.details).toMatchObject({
      cfErrorCode: 'ErrorCode-1554',
      status: 400,
      method: 'POST',
      path: '/cloud-automation/task-processes/tp-1/submit-output',
    });
    const warning = logLines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'Creative Force error response');
    expect(warning).toMatchObject({ level: 40, status: 400, body: JSON.stringify(body), connectionId: 'studio-a' });
  });

  it('a ProblemDetails body is summarised with its fields', async () => {
    fake.gatewayHandler = () => ({
      status: 400,
      body: {
        title: 'One or more validation errors occurred.',
        status: 400,
        traceId: '00-abc',
        errors: { 'files[0].fileName': ['The fileName field is required.'] },
      },
    });
    const err = await rejection(
      setup().client.getPresignedUploadUrls('client-ws', [{ fileName: '', localId: 'l-1', fileLength: 3 }]),
    );
    expect(err.code).toBe('CF_REJECTED');
    expect(err.message).toContain('files[0].fileName: The fileName field is required.');
    expect(err.details).toMatchObject({
      traceId: '00-abc',
      fieldErrors: { 'files[0].fileName': ['The fileName field is required.'] },
    });
  });

  it('maps 403 and 404', async () => {
    fake.gatewayHandler = (_req, n) => ({ status: n === 1 ? 403 : 404 });
    const { client } = setup();
    expect((await rejection(client.getAnnotations('task-1'))).code).toBe('CF_FORBIDDEN');
    expect((await rejection(client.getAnnotations('task-1'))).code).toBe('CF_NOT_FOUND');
  });

  it('bulkGetFiles sends 250 ids in 3 batches of at most 100 and keeps the order', async () => {
    fake.gatewayHandler = (req) => ({
      status: 200,
      body: (JSON.parse(req.body) as string[]).map((fileId) => ({
        fileId,
        fileName: `${fileId}.png`,
        fileUrl: `https://s3.example.com/${fileId}?X-Amz-Signature=abc`,
        fileLength: 10,
        md5: null,
      })),
    });
    const ids = Array.from({ length: 250 }, (_, i) => `f-${i}`);
    const files = await setup().client.bulkGetFiles(ids);
    expect(fake.gatewayRequests.map((r) => (JSON.parse(r.body) as string[]).length)).toEqual([100, 100, 50]);
    expect(files.map((f) => f.fileId)).toEqual(ids);
    expect(await setup().client.bulkGetFiles([])).toEqual([]);
    expect(fake.gatewayRequests).toHaveLength(3);
  });

  it('sends the documented bodies for status update, pre-signed URLs and assets', async () => {
    fake.gatewayHandler = (req) => {
      if (req.path.endsWith('/status')) return { status: 204 };
      if (req.path.endsWith('/get-presigned-url')) return { status: 200, body: { headers: [], files: [], errorFiles: [] } };
      return { status: 200, body: { items: [{ assetId: 'a-1', fileName: 'a.jpg', fileUrl: 'https://s3.example.com/a' }] } };
    };
    const { client } = setup();
    await client.updateProcessStatus('tp-1', 'no input asset');
    const presign = await client.getPresignedUploadUrls('client-ws', [{ fileName: 'out.png', localId: 'l-1', fileLength: 3 }]);
    expect(presign).toEqual([{ headers: {}, files: [], errorFiles: [] }]);
    expect(await client.bulkGetAssets(['a-1'])).toEqual([
      { assetId: 'a-1', fileName: 'a.jpg', fileUrl: 'https://s3.example.com/a', fileLength: null },
    ]);
    const [status, presigned, assets] = fake.gatewayRequests as [Recorded, Recorded, Recorded];
    expect(status).toMatchObject({ method: 'PUT', path: '/v1/cloud-automation/task-processes/tp-1/status' });
    expect(JSON.parse(status.body)).toEqual({ status: 'Failed', message: 'no input asset' });
    expect(status.contentType).toBe('application/json');
    expect(JSON.parse(presigned.body)).toEqual({
      clientId: 'client-ws',
      physicalFileTypeId: 2,
      files: [{ fileName: 'out.png', localId: 'l-1', fileLength: 3 }],
    });
    expect(JSON.parse(assets.body)).toEqual(['a-1']);
  });

  it('sends the Update Process Status body with the configured field names and status', async () => {
    fake.gatewayHandler = () => ({ status: 204 });
    const { client } = setup({ config: { failedStatus: 'Error', statusBodyFields: { status: 'state', message: 'comment' } } });
    await client.updateProcessStatus('tp-1', 'no input asset');
    expect(JSON.parse(fake.gatewayRequests[0]?.body ?? '')).toEqual({ state: 'Error', comment: 'no input asset' });
  });

  it('keeps every id inside its path segment: empty and dot-only ids are refused before any request, others encoded', async () => {
    fake.gatewayHandler = () => ({ status: 200, body: {} });
    const { client } = setup();
    const refused = [
      () => client.getProcessDetail('..'),
      () => client.getProcessDetail('.'),
      () => client.updateProcessStatus('..', 'failed'),
      () => client.submitOutput('..', { submitAssets: [] }),
      () => client.getAnnotations('...'),
      () => client.getProduct('..'),
      () => client.getJob(''),
      () => client.getOutfitProducts('..'),
    ];
    for (const call of refused) expect((await rejection(call())).code).toBe('CF_PATH_ID_INVALID');
    expect(fake.tokenRequests).toEqual([]);
    expect(fake.gatewayRequests).toEqual([]);
    // URL parsing would resolve these as dot segments if they were not encoded.
    await client.getProduct('%2E%2E');
    await client.getJob('a/../b');
    await client.getProduct('.hidden');
    expect(fake.gatewayRequests.map((r) => r.path)).toEqual([
      '/v1/products/%252E%252E',
      '/v1/jobs/a%2F..%2Fb',
      '/v1/products/.hidden',
    ]);
  });

  it('redacts the client secret and the bearer token from an error body echoing them, in the log and in the error', async () => {
    const special = { id: 'studio-b', clientId: 'client-b', clientSecret: 'p@ss+w/rd=very&secret' };
    fake.gatewayHandler = (req) => ({
      status: 400,
      body: {
        errors: [
          {
            code: 'GEN-4',
            message: `raw ${special.clientSecret} encoded ${encodeURIComponent(special.clientSecret)} form ${new URLSearchParams({ s: special.clientSecret }).toString().slice(2)} ${req.authorization}`,
          },
        ],
      },
    });
    const err = await rejection(setup({ connection: special }).client.getJob('job-1'));
    expect(err.code).toBe('CF_REJECTED');
    expect(err.ownMessage).toBe('Creative Force GET /jobs/job-1 answered 400');
    expect(err.remoteText).toContain('GEN-4 raw [Redacted] encoded [Redacted] form [Redacted] Bearer [Redacted]');
    const logs = logLines.join('');
    expect(logs).toContain('Creative Force error response');
    for (const text of [logs, err.message, JSON.stringify(err.details)]) {
      expect(text).not.toContain('p@ss');
      expect(text).not.toContain('p%40ss');
      expect(text).not.toContain('token-1');
    }
  });

  it('invalid credentials are CF_AUTH_FAILED and no gateway call is made', async () => {
    fake.tokenHandler = () => ({ status: 400, body: { error: 'invalid_client' } });
    const err = await rejection(setup().client.getProcessDetail('tp-1'));
    expect(err.code).toBe('CF_AUTH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('studio-a');
    expect(fake.gatewayRequests).toHaveLength(0);
  });

  it('never logs tokens or secrets', async () => {
    fake.gatewayHandler = (req) => (req.authorization === 'Bearer token-1' ? { status: 401 } : { status: 500, body: 'boom' });
    await rejection(setup().client.getJob('job-1'));
    const logs = logLines.join('');
    expect(logs).toContain('boom');
    expect(logs).not.toContain('token-1');
    expect(logs).not.toContain('token-2');
    expect(logs).not.toContain('very-secret-value');
  });
});
