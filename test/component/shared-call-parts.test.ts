/**
 * What each cycle of a shared call gets (src/creative-force/shared-calls.ts), with real gateway
 * clients on real Redis against the simulator: two clients with a SharedCalls each stand for two
 * worker processes. The limiter (2 requests/s, its first slot taken) makes the first caller wait
 * for its slot about half a second, so the others queue behind it meanwhile.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config/env.ts';
import {
  CreativeForceClient,
  defaultKeptOutputDownload,
  defaultSharedCallCaps,
  RedisRateLimiter,
  SharedCalls,
  TokenStore,
} from '../../src/creative-force/index.ts';
import { ConnectorError } from '../../src/errors.ts';
import { CreativeForceSimulator } from '../../src/simulators/index.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';

const logger = pino({ level: 'silent' });
const dispatcher = new Agent();
const redis = new Redis(redisUrl);
let sim: CreativeForceSimulator;
let limiter: RedisRateLimiter;
let clients: CreativeForceClient[];
let shared: SharedCalls[];
let prefix = '';

function sentTo(path: string): number {
  return sim.callLog().filter((c) => c.path.endsWith(path)).length;
}

beforeAll(async () => {
  sim = await CreativeForceSimulator.start();
});
afterAll(async () => {
  await sim.close();
  await dispatcher.close();
  redis.disconnect();
});

beforeEach(async () => {
  await dropPrefix(prefix);
  prefix = testPrefix(`shared-parts-${randomUUID().slice(0, 6)}`);
  const app = { clientId: `${prefix}-client`, clientSecret: randomBytes(12).toString('hex') };
  sim.addApp(app);
  const config: AppConfig['cf'] = {
    apiBaseUrl: sim.apiBaseUrl,
    tokenUrl: sim.tokenUrl,
    rateLimitRps: 2,
    rateLimitAdaptive: true,
    requestTimeoutMs: 10_000,
    failedStatus: 'Failed',
    sharedCalls: true,
    caps: { ...defaultSharedCallCaps },
    statusBodyFields: { ...sim.statusBodyFields },
    wireForms: sim.wireForms,
    keptOutputDownload: defaultKeptOutputDownload,
    paths: { ...sim.paths },
  };
  limiter = new RedisRateLimiter({ redis, limit: 2, keyPrefix: `${prefix}:rl` });
  const tokens = new TokenStore({
    redis,
    limiter,
    tokenUrl: sim.tokenUrl,
    requestTimeoutMs: 10_000,
    logger,
    dispatcher,
    keyPrefix: `${prefix}:token`,
  });
  await tokens.getToken({ id: 'acme', ...app });
  shared = [0, 1].map(() => new SharedCalls({ redis, keyPrefix: `${prefix}:share`, caps: config.caps, logger }));
  clients = shared.map(
    (s) =>
      new CreativeForceClient({ connection: { id: 'acme', ...app }, config, limiter, tokens, dispatcher, logger, shared: s }),
  );
  await limiter.acquire();
  sim.resetCallLog();
});

describe('a shared call', () => {
  it('gives each cycle the URLs of its own assets only, from one request', async () => {
    const task = (n: number) =>
      sim.addTask({
        inputs: Array.from({ length: n }, (_, i) => ({ fileName: `in-${i}.jpg`, body: Buffer.from(`input ${n} ${i}`) })),
        slots: [{ mappingKeyId: 'A' }],
      });
    const seeded = [task(1), task(2), task(3)];
    const asked = seeded.map((t) =>
      (sim.processDetail(t.taskProcessId).inputAssets as { assetId: string }[]).map((a) => a.assetId),
    );
    const answers = await Promise.all(asked.map((ids, i) => (clients[i % 2] as CreativeForceClient).bulkGetAssets(ids)));
    expect(sentTo('/assets/bulk-get-assets')).toBe(1);
    expect(answers.map((urls) => urls.map((u) => u.assetId))).toEqual(asked);
  });

  it('gives each cycle its own files and errorFiles under its own localIds, and the batch headers', async () => {
    const workspace = sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'A' }] }).clientId;
    const files = [
      [{ fileName: 'a.png', localId: 'A#0', fileLength: 10 }],
      [
        { fileName: 'b.png', localId: 'A#0', fileLength: 10 },
        { fileName: 'b.exe', localId: 'A#1', fileLength: 10 },
      ],
    ];
    const answers = await Promise.all(
      files.map((f, i) => (clients[i] as CreativeForceClient).getPresignedUploadUrls(workspace, f)),
    );
    const calls = sim.presignCalls().filter((c) => c.clientId === workspace);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.localIds).toEqual(['0~A#0', '1~A#0', '1~A#1']);
    const [first, second] = answers.map((batches) => batches[0]);
    expect(first?.files.map((f) => f.localId)).toEqual(['A#0']);
    expect(first?.errorFiles).toEqual([]);
    expect(second?.files.map((f) => f.localId)).toEqual(['A#0']);
    expect(second?.errorFiles).toEqual([{ localId: 'A#1', fileName: 'b.exe', errorCode: 'InvalidFileExtension' }]);
    expect(first?.headers).toEqual(second?.headers);
    expect(Object.keys(first?.headers ?? {}).length).toBeGreaterThan(0);
    // Nobody got another cycle's URL.
    expect(first?.files[0]?.tempAssetId).not.toBe(second?.files[0]?.tempAssetId);
  });

  it('sends a lone cycle\u2019s request exactly as it would alone', async () => {
    const workspace = sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'A' }] }).clientId;
    const before = sim.presignCalls().length;
    const [batch] = await (clients[0] as CreativeForceClient).getPresignedUploadUrls(workspace, [
      { fileName: 'a.png', localId: 'A#0', fileLength: 10 },
    ]);
    expect(
      sim
        .presignCalls()
        .slice(before)
        .map((c) => c.localIds),
    ).toEqual([['A#0']]);
    expect(batch?.files.map((f) => f.localId)).toEqual(['A#0']);
  });

  it('fails every cycle with the 5xx of the shared request, as its own retryable error', async () => {
    sim.failNext({ method: 'POST', pathIncludes: 'bulk-get-assets' }, { status: 503, body: {} });
    const results = await Promise.allSettled(
      ['x-1', 'x-2', 'x-3'].map((id, i) => (clients[i % 2] as CreativeForceClient).bulkGetAssets([id])),
    );
    expect(sentTo('/assets/bulk-get-assets')).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const err = (result as PromiseRejectedResult).reason as ConnectorError;
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err.code).toBe('CF_SERVER_ERROR');
      expect(err.retryable).toBe(true);
    }
  });

  it('sends each cycle to a call of its own when the shared request is refused (one entry may be why)', async () => {
    sim.failNext(
      { method: 'POST', pathIncludes: 'bulk-get-assets' },
      { status: 400, body: { errors: [{ code: 'X', message: 'bad id' }] } },
    );
    const results = await Promise.all(
      ['x-1', 'x-2', 'x-3'].map((id, i) => (clients[i % 2] as CreativeForceClient).bulkGetAssets([id])),
    );
    // One shared request refused, then one of its own per cycle (unknown ids: empty answers).
    expect(sentTo('/assets/bulk-get-assets')).toBe(4);
    expect(results).toEqual([[], [], []]);
  });

  it('never sends more ids than the cap: a task with more makes one request per cap', async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `many-${i}`);
    expect(await (clients[0] as CreativeForceClient).bulkGetAssets(ids)).toEqual([]);
    const sent = sim.callLog().filter((c) => c.path.endsWith('/assets/bulk-get-assets'));
    // The simulator refuses more than its cap (100): both answered 200.
    expect(sent.map((c) => c.status)).toEqual([200, 200]);
  });
});
