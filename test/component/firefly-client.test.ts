/**
 * FireflyClient and FireflyTokenStore against the real Redis and a loopback Adobe (node:http): IMS
 * under /ims/token/v3, the Workflow Builder API at the root, and presigned results under /out. The
 * server records every request and answers what each test sets.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import { FireflyClient, type FireflyNodeInput } from '../../src/providers/firefly/client.ts';
import {
  defaultFireflyConfig,
  defaultFireflyInputStorageType,
  defaultFireflyScope,
  defaultFireflyStartClockSkewMs,
  type FireflyConfig,
  type FireflyCredentials,
} from '../../src/providers/firefly/config.ts';
import { fireflyRateLimitResetAtMs } from '../../src/providers/firefly/errors.ts';
import { FireflyTokenStore } from '../../src/providers/firefly/token-store.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { loopbackResults } from '../helpers/loopback-results.ts';
import { dropPrefix, redisUrl } from '../helpers/redis.ts';
import { type Recorded, ScriptedServer } from '../helpers/scripted-server.ts';

const imsPath = '/ims/token/v3';
const credentials: FireflyCredentials = {
  clientId: 'a1b2c3d4e5f6client',
  clientSecret: 'p8e-SeCrEt+&=value/42',
  orgId: 'A1B2C3D4567890ABCDEFFEDA51@AdobeOrg',
  userId: 'tech-account-1234@techacct.adobe.com',
};
const workflowId = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const batchId = 'batch-run-workflow_6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f-20260403-750642eb';
const statusPath = `/batch/${batchId}/status`;
const executionsPath = `/batch/${batchId}/executions`;
const cancelPath = `/batch/${batchId}/cancel`;
const day = 86_399_000;

/** A loopback Adobe: IMS answers by default, everything else as each test sets. */
class FakeAdobe extends ScriptedServer {
  #issued = 0;

  constructor() {
    super({ notFound: { status: 404, json: { error: 'Not found', message: 'Workflow or batch not found', status: 'failed' } } });
  }

  override reset(): void {
    super.reset();
    this.#issued = 0;
    this.handlers.set(imsPath, () => ({
      json: { access_token: `ims-${++this.#issued}`, token_type: 'bearer', expires_in: 86399 },
    }));
  }

  tokenRequests(): Recorded[] {
    return this.to(imsPath);
  }

  /** Requests to the Workflow Builder API (not IMS, not results). */
  calls(): Recorded[] {
    return this.requests.filter((r) => r.path.startsWith('/batch'));
  }
}

/** A batch status answer as the current OpenAPI spec shows it, with overrides. */
function statusBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    batchId,
    workflowId: `run-workflow_${workflowId}`,
    status: 'running',
    assets: { total: 3, pending: 1, processing: 1, completed: 1, failed: 0 },
    executions: { total: 3, completed: 1, failed: 0, allExecutionIds: ['e1', 'e2', 'e3'], failedExecutionIds: [] },
    createdAt: '2026-04-03T10:00:00Z',
    updatedAt: '2026-04-03T10:01:00Z',
    completedAt: null,
    links: { cancel: { href: `/batch/${batchId}/cancel` }, executions: { href: `/batch/${batchId}/executions` } },
    ...overrides,
  };
}

/** A BatchExecutionResult, with overrides. */
function execution(index: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    executionId: `exec-${index}`,
    batchId,
    assetIndex: index,
    inputAsset: { index, assetId: `asset-${index}`, inputs: [] },
    status: 'success',
    error: null,
    outputs: [],
    startedAt: '2026-04-03T10:00:00Z',
    completedAt: '2026-04-03T10:00:30Z',
    durationMs: 30000,
    ...overrides,
  };
}

const server = new FakeAdobe();
const dispatcher = new Agent();
const results = loopbackResults();
const redisA = new Redis(redisUrl, { connectionName: 'firefly-test-a' });
const redisB = new Redis(redisUrl, { connectionName: 'firefly-test-b' });
const { logger, lines: logLines } = capturedLogger();
let keyPrefix = '';
let workDir = '';

function config(overrides: Partial<FireflyConfig> = {}): FireflyConfig {
  return {
    baseUrl: server.origin,
    imsTokenUrl: `${server.origin}${imsPath}`,
    scope: defaultFireflyScope,
    inputStorageType: defaultFireflyInputStorageType,
    requestTimeoutMs: 2000,
    startClockSkewMs: defaultFireflyStartClockSkewMs,
    ...overrides,
  };
}

function client(options: { redis?: Redis; cfg?: FireflyConfig } = {}): FireflyClient {
  const cfg = options.cfg ?? config();
  const tokens = new FireflyTokenStore({
    redis: options.redis ?? redisA,
    config: cfg,
    logger,
    dispatcher,
    keyPrefix,
    pollIntervalMs: 20,
  });
  return new FireflyClient({ connectionId: 'studio-a', credentials, config: cfg, tokens, dispatcher, results, logger });
}

const tokenKey = () => `${keyPrefix}:studio-a`;

/** Awaits a rejection and returns the ConnectorError. */
async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

/** Asserts the four Adobe headers, api-version and Accept on one API request. */
function expectAdobeHeaders(request: Recorded | undefined, token: string): void {
  expect(request?.headers).toMatchObject({
    authorization: `Bearer ${token}`,
    'x-api-key': credentials.clientId,
    'x-gw-ims-org-id': credentials.orgId,
    'x-gw-ims-user-id': credentials.userId,
    'api-version': '1.0',
    accept: 'application/json',
  });
}

beforeAll(async () => {
  await server.start();
  workDir = await mkdtemp(join(tmpdir(), 'firefly-test-'));
});

beforeEach(() => {
  keyPrefix = `{cfc-test-firefly-${randomUUID()}}:firefly-token`;
  server.reset();
  logLines.length = 0;
});

afterEach(async () => {
  await dropPrefix(keyPrefix);
});

afterAll(async () => {
  await server.stop();
  await dispatcher.close();
  await results.dispatcher.close();
  await Promise.all([redisA.quit(), redisB.quit()]);
  await rm(workDir, { recursive: true, force: true });
});

describe('Firefly configuration', () => {
  it('defaults to the documented production endpoints and scope', () => {
    expect(defaultFireflyConfig).toMatchObject({
      baseUrl: 'https://run-workflow.adobe.io',
      imsTokenUrl: 'https://ims-na1.adobelogin.com/ims/token/v3',
      scope: 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis',
    });
  });

  it('refuses a connection with a blank credential field (CONFIG_INVALID)', () => {
    const cfg = config();
    const tokens = new FireflyTokenStore({ redis: redisA, config: cfg, logger, dispatcher, keyPrefix });
    const make = () =>
      new FireflyClient({
        connectionId: 'c',
        credentials: { ...credentials, userId: ' ' },
        config: cfg,
        tokens,
        results,
        logger,
      });
    expect(make).toThrow(ConnectorError);
    expect(make).toThrow(/userId/);
  });
});

describe('Firefly tokens', () => {
  it('asks IMS once (client credentials, scope verbatim) and shares the token between clients on two Redis connections', async () => {
    server.on(statusPath, () => ({ json: statusBody() }));
    const a = client({ redis: redisA });
    const b = client({ redis: redisB });
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).batchStatus(batchId)));
    await b.batchStatus(batchId);

    expect(server.tokenRequests()).toHaveLength(1);
    const [ims] = server.tokenRequests();
    expect(ims?.method).toBe('POST');
    expect(ims?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(ims?.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(ims?.body.toString()))).toEqual({
      grant_type: 'client_credentials',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      scope: 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis',
    });
    expect(server.calls()).toHaveLength(11);
    for (const call of server.calls()) expectAdobeHeaders(call, 'ims-1');
    // Cached for expires_in (24 h), less the time the request took.
    const ttl = await redisA.pttl(tokenKey());
    expect(ttl).toBeGreaterThan(day - 10_000);
    expect(ttl).toBeLessThanOrEqual(day);
  });

  it('renews before the 24 hours are over (less than 5 minutes left)', async () => {
    server.on(statusPath, () => ({ json: statusBody() }));
    const c = client();
    await c.batchStatus(batchId);
    await redisA.pexpire(tokenKey(), 6 * 60_000);
    await c.batchStatus(batchId);
    expect(server.tokenRequests()).toHaveLength(1);
    await redisA.pexpire(tokenKey(), 4 * 60_000);
    await c.batchStatus(batchId);
    expect(server.tokenRequests()).toHaveLength(2);
    expect(server.calls().map((r) => r.headers.authorization)).toEqual(['Bearer ims-1', 'Bearer ims-1', 'Bearer ims-2']);
  });

  it('after a 401 renews the token once and retries with it', async () => {
    server.on(statusPath, (_request, n) =>
      n === 1
        ? { status: 401, json: { error: 'Unauthorized', message: 'Missing or invalid authentication', status: 'failed' } }
        : { json: statusBody() },
    );
    const result = await client().batchStatus(batchId);
    expect(result.status).toBe('running');
    expect(server.calls().map((r) => r.headers.authorization)).toEqual(['Bearer ims-1', 'Bearer ims-2']);
    expectAdobeHeaders(server.calls()[1], 'ims-2');
    expect(server.tokenRequests()).toHaveLength(2);
    expect(await redisA.hget(tokenKey(), 'token')).toBe('ims-2');
  });

  it('a second 401 is PROVIDER_AUTH_FAILED after exactly one retry', async () => {
    server.on(statusPath, () => ({
      status: 401,
      json: { error: 'Unauthorized', message: 'Missing or invalid authentication', status: 'failed' },
    }));
    const err = await failure(client().batchStatus(batchId));
    expect(err).toMatchObject({
      code: 'PROVIDER_AUTH_FAILED',
      retryable: false,
      details: { provider: 'firefly', status: 401, method: 'GET', path: statusPath },
    });
    expect(err.message).toContain('Missing or invalid authentication');
    expect(server.calls()).toHaveLength(2);
    expect(server.tokenRequests()).toHaveLength(2);
  });

  it('a refused IMS request (invalid_client) is PROVIDER_AUTH_FAILED; the client secret is never logged', async () => {
    server.on(imsPath, () => ({
      status: 400,
      json: { error: 'invalid_client', error_description: `invalid client_secret ${credentials.clientSecret}` },
    }));
    const err = await failure(client().batchStatus(batchId));
    expect(err).toMatchObject({ code: 'PROVIDER_AUTH_FAILED', retryable: false, details: { provider: 'firefly', status: 400 } });
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain(credentials.clientSecret);
    expect(server.calls()).toHaveLength(0);
    const log = logLines.join('');
    expect(log).toContain('[Redacted]');
    expect(log).not.toContain(credentials.clientSecret);
  });
});

describe('Firefly batch calls', () => {
  it('executeBatch posts exactly { workflow: { workflowId, inputs } } and returns the batch id and links', async () => {
    server.on('/batch/execute', () => ({
      status: 202,
      json: {
        batchId,
        workflowId: `run-workflow_${workflowId}`,
        status: 'pending',
        assets: { total: 2, pending: 2, processing: 0, completed: 0, failed: 0 },
        createdAt: '2026-04-03T10:00:00Z',
        links: {
          result: { href: `/batch/${batchId}/status?format=preview` },
          status: { href: `/batch/${batchId}/status` },
          cancel: { href: `/batch/${batchId}/cancel` },
          executions: { href: `/batch/${batchId}/executions` },
        },
      },
    }));
    const runs: FireflyNodeInput[][] = [
      [
        {
          node_id: 'node_1775258981781_301b7cc7v_0_j5iaha',
          content: [{ presignedUrl: 'https://bucket.s3.amazonaws.com/in/a.jpg?X-Amz-Signature=s1', storageType: 'AWS' }],
        },
        { node_id: 'node_prompt', content: 'white studio background' },
      ],
      [
        {
          node_id: 'node_1775258981781_301b7cc7v_0_j5iaha',
          content: [{ presignedUrl: 'https://bucket.s3.amazonaws.com/in/b.jpg?X-Amz-Signature=s2', storageType: 'AWS' }],
        },
      ],
    ];
    const started = await client().executeBatch(workflowId, runs);
    expect(started).toEqual({
      batchId,
      links: {
        result: `/batch/${batchId}/status?format=preview`,
        status: `/batch/${batchId}/status`,
        cancel: `/batch/${batchId}/cancel`,
        executions: `/batch/${batchId}/executions`,
      },
    });
    const [call] = server.to('/batch/execute');
    expect(call?.method).toBe('POST');
    expect(call?.headers['content-type']).toBe('application/json');
    expectAdobeHeaders(call, 'ims-1');
    expect(JSON.parse(call?.body.toString() ?? '')).toStrictEqual({ workflow: { workflowId, inputs: runs } });
    expect(logLines.join('')).not.toContain('X-Amz-Signature=s1');
  });

  it('executeBatch refuses an empty batch or an empty run without calling Firefly', async () => {
    const c = client();
    expect((await failure(c.executeBatch(workflowId, []))).code).toBe('PROVIDER_REJECTED');
    expect((await failure(c.executeBatch(workflowId, [[{ node_id: 'n', content: 'x' }], []]))).message).toContain('run 1');
    expect(server.requests).toHaveLength(0);
  });

  it('executeBatch without a batchId in the 202 is PROVIDER_BAD_RESPONSE', async () => {
    server.on('/batch/execute', () => ({ status: 202, json: { status: 'pending' } }));
    const err = await failure(client().executeBatch(workflowId, [[{ node_id: 'n', content: 'x' }]]));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_RESPONSE', details: { provider: 'firefly', status: 202 } });
    expect(err.message).toContain('batchId');
  });

  it('batchStatus compares statuses case-insensitively; unknown values are not terminal', async () => {
    const cases: [string, boolean][] = [
      ['pending', false],
      ['RUNNING', false],
      ['completed', true],
      ['Completed', true],
      ['FAILED', true],
      ['cancelled', true],
      ['Canceled', true],
      ['paused', false],
      ['something-new', false],
    ];
    let current = '';
    server.on(statusPath, () => ({ json: statusBody({ status: current }) }));
    const c = client();
    for (const [status, terminal] of cases) {
      current = status;
      const result = await c.batchStatus(batchId);
      expect({ status: result.status, terminal: result.terminal }).toEqual({ status, terminal });
    }
    current = 'completed';
    expect(await c.batchStatus(batchId)).toEqual({
      batchId,
      status: 'completed',
      assets: { total: 3, pending: 1, processing: 1, completed: 1, failed: 0 },
      terminal: true,
    });
  });

  it('batchStatus fills in missing counts and batch id; a status without `status` is PROVIDER_BAD_RESPONSE', async () => {
    server.on(statusPath, (_request, n) =>
      n === 1 ? { json: { status: 'running', assets: { total: '2' } } } : { json: statusBody({ status: null }) },
    );
    const c = client();
    expect(await c.batchStatus(batchId)).toEqual({
      batchId,
      status: 'running',
      assets: { total: 2, pending: 0, processing: 0, completed: 0, failed: 0 },
      terminal: false,
    });
    const err = await failure(c.batchStatus(batchId));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_RESPONSE', retryable: false });
    expect(err.message).toContain('status');
  });

  it('a 2xx body that is not JSON is PROVIDER_BAD_RESPONSE', async () => {
    server.on(statusPath, () => ({ raw: '<html>gateway</html>' }));
    const err = await failure(client().batchStatus(batchId));
    expect(err.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(err.message).toContain('not JSON');
  });

  it('executions follows pagination (limit 500, offset) and parses outputs of every accepted shape', async () => {
    const page1 = [
      // content.presignedUrl, content as an array of refs
      execution(0, {
        outputs: [
          {
            node_id: 'node_out_a',
            content: [{ presignedUrl: 'https://out.example/a0.png?sig=1', storageType: 'AWS', mimeType: 'image/png' }],
          },
        ],
      }),
      // content.presignedUrl, content as one object
      execution(1, { outputs: [{ nodeId: 'node_out_b', content: { presignedUrl: 'https://out.example/b1.jpg?sig=2' } }] }),
    ];
    const page2 = [
      // presignedUrl on the entry itself, with mimeType and name; provenance is skipped
      execution(2, {
        outputs: [
          {
            name: 'result.png',
            presignedUrl: 'https://out.example/c2.png?sig=3',
            mimeType: 'image/png',
            acpFolderUrl: 'https://acp.example/folder',
            provenance: { presignedUrl: 'https://provenance.example/should-not-appear' },
          },
        ],
      }),
      // nested outputs[].outputs[]
      execution(3, {
        outputs: [
          {
            outputs: [
              { node_id: 'node_n1', status: 'success', content: { presignedUrl: 'https://out.example/d3-1.png?sig=4' } },
              { node_id: 'node_n2', status: 'success', content: { presignedUrl: 'https://out.example/d3-2.png?sig=5' } },
              { node_id: 'node_n3', status: 'failed', error: 'node failed' },
            ],
          },
        ],
      }),
    ];
    const page3 = [
      execution(4, { status: 'FAILED', error: { code: 'E42', message: 'input not reachable' }, outputs: null }),
      // inputAsset.index stands in for a missing assetIndex; error as a string; outputs an object
      execution(5, {
        assetIndex: undefined,
        status: 'failed',
        error: 'timed out',
        outputs: { result: { presignedUrl: 'https://out.example/f5.png' } },
      }),
    ];
    const pages = [page1, page2, page3];
    server.on(executionsPath, (req, n) => {
      const executions = pages[n - 1] ?? [];
      return {
        json: {
          batchId,
          total: 6,
          executions,
          pagination: {
            limit: Number(req.query.get('limit')),
            offset: Number(req.query.get('offset')),
            count: 2,
            hasMore: n < 3,
          },
        },
      };
    });

    const result = await client().executions(batchId);
    const calls = server.to(executionsPath);
    expect(calls.map((r) => [r.query.get('limit'), r.query.get('offset')])).toEqual([
      ['500', '0'],
      ['500', '2'],
      ['500', '4'],
    ]);
    for (const call of calls) expectAdobeHeaders(call, 'ims-1');
    expect(result).toEqual([
      {
        executionId: 'exec-0',
        assetIndex: 0,
        status: 'success',
        error: null,
        inputs: [],
        outputs: [{ nodeId: 'node_out_a', url: 'https://out.example/a0.png?sig=1', mimeType: 'image/png' }],
      },
      {
        executionId: 'exec-1',
        assetIndex: 1,
        status: 'success',
        error: null,
        inputs: [],
        outputs: [{ nodeId: 'node_out_b', url: 'https://out.example/b1.jpg?sig=2', mimeType: null }],
      },
      {
        executionId: 'exec-2',
        assetIndex: 2,
        status: 'success',
        error: null,
        inputs: [],
        outputs: [{ nodeId: null, url: 'https://out.example/c2.png?sig=3', mimeType: 'image/png' }],
      },
      {
        executionId: 'exec-3',
        assetIndex: 3,
        status: 'success',
        error: null,
        inputs: [],
        outputs: [
          { nodeId: 'node_n1', url: 'https://out.example/d3-1.png?sig=4', mimeType: null },
          { nodeId: 'node_n2', url: 'https://out.example/d3-2.png?sig=5', mimeType: null },
          { nodeId: 'node_n3', url: null, mimeType: null },
        ],
      },
      { executionId: 'exec-4', assetIndex: 4, status: 'FAILED', error: 'input not reachable', inputs: [], outputs: [] },
      {
        executionId: 'exec-5',
        assetIndex: 5,
        status: 'failed',
        error: 'timed out',
        inputs: [],
        outputs: [{ nodeId: null, url: 'https://out.example/f5.png', mimeType: null }],
      },
    ]);
  });

  it('listBatches asks for the batches created since, page by page, and reads their workflow, date and counts', async () => {
    const since = Date.parse('2026-04-15T13:00:00.000Z');
    const item = (n: number) => ({
      batchId: `batch-${n}`,
      workflowId: `run-workflow_${workflowId}`,
      jobName: 'Product catalog resize',
      status: 'running',
      assets: { total: 2, pending: 2, processing: 0, completed: 0, failed: 0 },
      executions: { total: 2, completed: 0, failed: 0, allExecutionIds: [], failedExecutionIds: [] },
      endpoint: 'batch',
      createdAt: '2026-04-15T13:05:00.000Z',
      updatedAt: '2026-04-15T13:07:12.340Z',
      completedAt: null,
    });
    server.on('/batches', (req, n) => ({
      json: {
        orgId: credentials.orgId,
        batches: n === 1 ? Array.from({ length: 100 }, (_, i) => item(i)) : [item(100)],
        pagination: { limit: 100, offset: Number(req.query.get('offset')), count: n === 1 ? 100 : 1, hasMore: n === 1 },
        filters: { createdAfter: req.query.get('createdAfter') },
      },
    }));
    const batches = await client().listBatches(since);
    expect(batches).toHaveLength(101);
    expect(batches[0]).toEqual({
      batchId: 'batch-0',
      workflowId: `run-workflow_${workflowId}`,
      createdAt: Date.parse('2026-04-15T13:05:00.000Z'),
      assets: { total: 2, pending: 2, processing: 0, completed: 0, failed: 0 },
    });
    const calls = server.to('/batches');
    expect(calls.map((c) => Object.fromEntries(c.query))).toEqual([
      { createdAfter: '2026-04-15T13:00:00.000Z', limit: '100', offset: '0' },
      { createdAfter: '2026-04-15T13:00:00.000Z', limit: '100', offset: '100' },
    ]);
    for (const call of calls) expectAdobeHeaders(call, 'ims-1');
  });

  it('executions: a page claiming more but holding nothing is PROVIDER_BAD_RESPONSE; an execution without an index too', async () => {
    server.on(executionsPath, (_request, n) =>
      n === 1
        ? { json: { executions: [], pagination: { limit: 500, offset: 0, count: 0, hasMore: true } } }
        : { json: { executions: [execution(0, { assetIndex: null, inputAsset: null })] } },
    );
    const c = client();
    const endless = await failure(c.executions(batchId));
    expect(endless.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(endless.message).toContain('hasMore');
    const unindexed = await failure(c.executions(batchId));
    expect(unindexed.code).toBe('PROVIDER_BAD_RESPONSE');
    expect(unindexed.message).toContain('assetIndex');
  });

  it('cancelBatch posts to the cancel path with the four headers', async () => {
    server.on(cancelPath, () => ({
      json: {
        batchId,
        status: 'cancelled',
        message: 'Batch cancelled',
        previousStatus: 'running',
        assets: { total: 3, pending: 0, processing: 1, completed: 2, failed: 0 },
      },
    }));
    expect(await client().cancelBatch(batchId)).toEqual({
      batchId,
      status: 'cancelled',
      previousStatus: 'running',
      message: 'Batch cancelled',
    });
    const [call] = server.to(cancelPath);
    expect(call?.method).toBe('POST');
    expectAdobeHeaders(call, 'ims-1');
  });
});

describe('Firefly error mapping', () => {
  it('429 with x-ratelimit-reset is PROVIDER_RATE_LIMITED with retryAfterMs until the reset, not retried', async () => {
    const resetS = Math.floor(Date.now() / 1000) + 40;
    server.on(statusPath, () => ({
      status: 429,
      json: { error: 'Rate limit exceeded', message: 'Too many requests', status: 'failed' },
      headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetS) },
    }));
    const err = await failure(client().batchStatus(batchId));
    const expected = resetS * 1000 - Date.now();
    expect(err).toMatchObject({
      code: 'PROVIDER_RATE_LIMITED',
      retryable: true,
      details: {
        provider: 'firefly',
        status: 429,
        rateLimitResetAtMs: resetS * 1000,
        rateLimitLimit: 100,
        rateLimitRemaining: 0,
      },
    });
    expect(err.retryAfterMs).toBeGreaterThan(expected - 2000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(expected + 2000);
    expect(fireflyRateLimitResetAtMs(err)).toBe(resetS * 1000);
    expect(err.message).toContain('Rate limit exceeded');
    expect(server.calls()).toHaveLength(1);
  });

  it('429 with a reset in the past waits 0; without x-ratelimit-reset Retry-After counts', async () => {
    const pastReset: Record<string, string> = { 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) - 5) };
    const retryAfterOnly: Record<string, string> = { 'retry-after': '7' };
    server.on(statusPath, (_request, n) => ({
      status: 429,
      json: { error: 'Rate limit exceeded', status: 'failed' },
      headers: n === 1 ? pastReset : retryAfterOnly,
    }));
    const c = client();
    const past = await failure(c.batchStatus(batchId));
    expect(past).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', retryAfterMs: 0 });
    const retryAfter = await failure(c.batchStatus(batchId));
    expect(retryAfter).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', retryAfterMs: 7000 });
    expect(server.calls()).toHaveLength(2);
  });

  it('400 is PROVIDER_REJECTED with Firefly error and message', async () => {
    server.on('/batch/execute', () => ({
      status: 400,
      json: { error: 'Invalid request', message: 'Request body is not valid JSON', status: 'failed' },
    }));
    const err = await failure(client().executeBatch(workflowId, [[{ node_id: 'n', content: 'x' }]]));
    expect(err).toMatchObject({
      code: 'PROVIDER_REJECTED',
      retryable: false,
      details: {
        provider: 'firefly',
        status: 400,
        method: 'POST',
        path: '/batch/execute',
        fireflyError: 'Invalid request',
        fireflyMessage: 'Request body is not valid JSON',
      },
    });
    expect(err.message).toContain('Invalid request');
    expect(err.message).toContain('Request body is not valid JSON');
    expect(server.calls()).toHaveLength(1);
  });

  it('403 is PROVIDER_AUTH_FAILED without a token renewal', async () => {
    server.on(statusPath, () => ({
      status: 403,
      json: {
        error: 'Forbidden',
        message: 'The caller is not a member of the organization identified by x-gw-ims-org-id',
        status: 'failed',
      },
    }));
    const err = await failure(client().batchStatus(batchId));
    expect(err).toMatchObject({ code: 'PROVIDER_AUTH_FAILED', retryable: false, details: { provider: 'firefly', status: 403 } });
    expect(err.message).toContain('not a member of the organization');
    expect(server.calls()).toHaveLength(1);
    expect(server.tokenRequests()).toHaveLength(1);
  });

  it('404 is PROVIDER_REJECTED', async () => {
    const err = await failure(client().batchStatus('batch-unknown'));
    expect(err).toMatchObject({ code: 'PROVIDER_REJECTED', details: { provider: 'firefly', status: 404 } });
    expect(err.message).toContain('Workflow or batch not found');
  });

  it('503 and 500 are PROVIDER_SERVER_ERROR (retryable), not retried inside the client', async () => {
    server.on(statusPath, (_request, n) =>
      n === 1
        ? {
            status: 503,
            json: { error: 'Service unavailable', message: 'Organization membership could not be verified', status: 'error' },
            headers: { 'retry-after': '3' },
          }
        : { status: 500, json: { error: 'Internal server error', status: 'error' } },
    );
    const c = client();
    const unavailable = await failure(c.batchStatus(batchId));
    expect(unavailable).toMatchObject({ code: 'PROVIDER_SERVER_ERROR', retryable: true, retryAfterMs: 3000 });
    expect(unavailable.message).toContain('membership could not be verified');
    const internal = await failure(c.batchStatus(batchId));
    expect(internal).toMatchObject({ code: 'PROVIDER_SERVER_ERROR', retryable: true, details: { status: 500 } });
    expect(server.calls()).toHaveLength(2);
  });

  it('a call past its deadline is PROVIDER_TIMEOUT; a caller abort rethrows its reason', async () => {
    server.on(statusPath, () => ({ json: statusBody(), delayMs: 600 }));
    const c = client({ cfg: config({ requestTimeoutMs: 200 }) });
    await c.batchStatus(batchId).catch(() => undefined); // token fetched and cached
    const err = await failure(c.batchStatus(batchId));
    expect(err).toMatchObject({ code: 'PROVIDER_TIMEOUT', retryable: true, details: { provider: 'firefly' } });
    const reason = new Error('shutting down');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 50);
    await expect(client().batchStatus(batchId, controller.signal)).rejects.toBe(reason);
  });
});

describe('Firefly downloads', () => {
  it('streams a result to the destination without any auth header', async () => {
    const bytes = randomBytes(300_000);
    server.on('/out/result.png', () => ({ raw: bytes, headers: { 'content-type': 'image/png' } }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const dest = join(dir, 'result.png');
    const result = await client().download(`${server.origin}/out/result.png?X-Amz-Signature=zz9`, dest);
    expect(result).toEqual({ path: dest, bytes: bytes.length, contentType: 'image/png' });
    expect((await readFile(dest)).equals(bytes)).toBe(true);
    const [download] = server.to('/out/result.png');
    expect(download?.query.get('X-Amz-Signature')).toBe('zz9');
    for (const header of ['authorization', 'x-api-key', 'x-gw-ims-org-id', 'x-gw-ims-user-id', 'api-version']) {
      expect(download?.headers[header]).toBeUndefined();
    }
    expect(server.tokenRequests()).toHaveLength(0);
    expect(await readdir(dir)).toEqual(['result.png']);
  });

  it('a generic Content-Type is replaced by the type of the URL extension', async () => {
    server.on('/out/result.jpg', () => ({ raw: 'jpeg-bytes', headers: { 'content-type': 'application/octet-stream' } }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const result = await client().download(`${server.origin}/out/result.jpg`, join(dir, 'r.jpg'));
    expect(result.contentType).toBe('image/jpeg');
  });

  it('an expired URL is PROVIDER_SERVER_ERROR (retryable), leaves no file and no signature in the message', async () => {
    server.on('/out/expired.png', () => ({
      status: 403,
      raw: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
      headers: { 'content-type': 'application/xml' },
    }));
    const dir = await mkdtemp(join(workDir, 'download-'));
    const err = await failure(client().download(`${server.origin}/out/expired.png?X-Amz-Signature=sig-1`, join(dir, 'e.png')));
    expect(err).toMatchObject({ code: 'PROVIDER_SERVER_ERROR', retryable: true, details: { s3Code: 'AccessDenied' } });
    expect(err.message).toContain('Request has expired');
    expect(err.message).not.toContain('sig-1');
    expect(await readdir(dir)).toEqual([]);
  });
});
