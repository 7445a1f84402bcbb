import crypto, { randomBytes, randomUUID } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Connection, loadConnectionsFile, parseConnections } from '../../src/config/connections.ts';
import { loadEnvConfig } from '../../src/config/env.ts';
import { webhookPayloadSchema } from '../../src/creative-force/schemas.ts';
import { createRecipeRegistry } from '../../src/providers/index.ts';
import { cycleQueueName } from '../../src/queue/cycle-job.ts';
import { CycleQueue } from '../../src/queue/cycle-queue.ts';
import { buildReceiver } from '../../src/receiver/build-receiver.ts';
import { buildService } from '../../src/service.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { dropPrefix, producerRedis, ready, redisUrl, testPrefix } from '../helpers/redis.ts';
import { sign } from '../helpers/sign.ts';
import { startStack } from '../helpers/stack.ts';

const secret = randomBytes(32).toString('base64');
const logger = pino({ level: 'silent' });

const acme = {
  id: 'acme',
  name: 'Acme',
  creativeForce: { clientId: 'c', clientSecret: 's', webhookSecrets: [secret], signatureScheme: 'b64key-sha256-base64' },
  stepIds: [25, 40],
  subfunctions: { '54': { recipe: 'convert', options: { format: 'jpeg' } } },
};

function connectionsFor(entries: unknown[] = [acme]): ReadonlyMap<string, Connection> {
  const list = parseConnections({ connections: entries }, createRecipeRegistry(), {});
  return new Map(list.map((c) => [c.id, c]));
}

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Action: 'ReadyToWork',
    TaskId: randomUUID(),
    TaskProcessId: randomUUID(),
    SubfunctionId: 54,
    SubFunctionName: 'Convert',
    StepId: '25',
    StepStatusId: '2000',
    ...overrides,
  };
}

/** POSTs `body` to the acme connection's webhook, signed with its secret. */
function postSigned(receiver: FastifyInstance, body: string) {
  return receiver.inject({
    method: 'POST',
    url: '/webhooks/creative-force/acme',
    headers: { 'content-type': 'application/json', 'x-cf-signature': sign(body, secret) },
    payload: body,
  });
}

describe('webhook receiver', () => {
  const prefix = testPrefix('receiver');
  const redis = producerRedis();
  const queue = new CycleQueue({
    connection: redis,
    prefix,
    attempts: 3,
    backoffMs: 100,
    onError: (err) => logger.warn({ err }),
  });
  const app = buildReceiver({
    logger,
    isReady: async () => (await redis.ping()) === 'PONG',
    webhooks: { connections: connectionsFor(), enqueue: (id, e) => queue.addCycle(id, e) },
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}, connectionId = 'acme') =>
    app.inject({
      method: 'POST',
      url: `/webhooks/creative-force/${connectionId}`,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });
  const signed = (body: string) => post(body, { 'x-cf-signature': sign(body, secret) });
  const queued = async () => {
    const counts = await queue.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };

  beforeAll(async () => {
    await ready(redis);
    await app.ready();
  });
  beforeEach(async () => {
    await queue.queue.obliterate({ force: true });
  });
  afterAll(async () => {
    await app.close();
    await queue.close();
    redis.disconnect();
    await dropPrefix(prefix);
  });

  it('accepts a signed ReadyToWork with 202 and the job id, after the job is in Redis', async () => {
    const body = JSON.stringify(event());
    const res = await signed(body);
    expect(res.statusCode).toBe(202);
    const { jobId, duplicate } = res.json<{ jobId: string; duplicate: boolean }>();
    expect(duplicate).toBe(false);
    const job = await queue.queue.getJob(jobId);
    expect(job?.data).toMatchObject({
      connectionId: 'acme',
      event: { TaskProcessId: JSON.parse(body).TaskProcessId, StepId: 25 },
    });
  });

  it('answers 401 to a wrong or missing signature and queues nothing', async () => {
    const body = JSON.stringify(event());
    const wrong = await post(body, { 'x-cf-signature': sign(body, randomBytes(32).toString('base64')) });
    const missing = await post(body);
    const tampered = await post(body.replace('ReadyToWork', 'ReadyToWorK'), { 'x-cf-signature': sign(body, secret) });
    for (const res of [wrong, missing, tampered]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'invalid signature' });
    }
    expect(await queued()).toBe(0);
  });

  it('answers 401 before parsing: a non-JSON body without signature is not reported as malformed', async () => {
    const res = await post('not json at all');
    expect(res.statusCode).toBe(401);
  });

  it('answers 404 for an unknown connection', async () => {
    const body = JSON.stringify(event());
    const res = await post(body, { 'x-cf-signature': sign(body, secret) }, 'nobody');
    expect(res.statusCode).toBe(404);
    expect(await queued()).toBe(0);
  });

  it('answers 413 to a body over 256 KiB', async () => {
    const body = JSON.stringify(event({ Padding: 'x'.repeat(300 * 1024) }));
    const res = await signed(body);
    expect(res.statusCode).toBe(413);
    expect(await queued()).toBe(0);
  });

  it('answers 400 to signed malformed JSON and to a body missing a field, naming it', async () => {
    const bad = await signed('{"Action": "ReadyToWork",');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'body is not JSON' });
    const { TaskProcessId: _omit, ...rest } = event();
    const missing = await signed(JSON.stringify(rest));
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error: 'not a ReadyToWork payload', field: 'TaskProcessId' });
    expect(await queued()).toBe(0);
  });

  it('answers 400 naming the field to a signed event with a hostile id (a:b, .., 300 or 200 KiB characters), and queues nothing', async () => {
    const hostile: [string, unknown][] = [
      ['TaskProcessId', 'a:b'],
      ['TaskProcessId', '..'],
      ['TaskProcessId', 'x'.repeat(300)],
      ['TaskProcessId', 'x'.repeat(200 * 1024)],
      ['TaskProcessId', `${randomUUID()}:x`],
      ['TaskId', '../status'],
      ['ProductId', '.'],
      ['JobId', 'j'.repeat(300)],
      ['SubfunctionId', '9'.repeat(400)],
      ['StepId', '-25'],
      ['StyleGuideName', 'n'.repeat(1001)],
    ];
    for (const [field, value] of hostile) {
      const res = await signed(JSON.stringify(event({ [field]: value })));
      expect(res.statusCode, `${field} ${String(value).slice(0, 20)}`).toBe(400);
      expect(res.json()).toMatchObject({ error: 'not a ReadyToWork payload', field });
    }
    expect(await queued()).toBe(0);
  });

  it('answers 500, never 503, when the queue refuses the job (BullMQ refuses an id with ":"), and logs it', async () => {
    const { logger: captured, lines } = capturedLogger();
    // The payload schema keeps ':' out of TaskProcessId; this enqueue forces one through to BullMQ.
    const refusing = buildReceiver({
      logger: captured,
      isReady: async () => true,
      webhooks: { connections: connectionsFor(), enqueue: (id, e) => queue.addCycle(id, { ...e, TaskProcessId: 'a:b' }) },
    });
    const res = await postSigned(refusing, JSON.stringify(event()));
    await refusing.close();
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'webhook not queued' });
    const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.level === 50);
    expect(logged).toMatchObject({ err: { code: 'QUEUE_JOB_REFUSED' }, connectionId: 'acme' });
    expect(await queued()).toBe(0);
  });

  it('logs one line per webhook with its ids and signature variant, and never the signature', async () => {
    const { logger: captured, lines } = capturedLogger('info');
    const receiver = buildReceiver({
      logger: captured,
      isReady: async () => true,
      webhooks: { connections: connectionsFor(), enqueue: (id, e) => queue.addCycle(id, e) },
    });
    const e = event();
    const body = JSON.stringify(e);
    const first = await postSigned(receiver, body);
    const again = await postSigned(receiver, body);
    const forged = await receiver.inject({
      method: 'POST',
      url: '/webhooks/creative-force/acme',
      headers: { 'content-type': 'application/json', 'x-cf-signature': sign(body, randomBytes(32).toString('base64')) },
      payload: body,
    });
    await receiver.close();
    expect([first.statusCode, again.statusCode, forged.statusCode]).toEqual([202, 202, 401]);
    const { jobId } = first.json<{ jobId: string }>();
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toEqual([
      expect.objectContaining({
        msg: 'webhook accepted',
        level: 30,
        connectionId: 'acme',
        taskProcessId: e.TaskProcessId,
        signatureVariant: 'b64key-sha256-base64',
        jobId,
        duplicate: false,
      }),
      expect.objectContaining({ msg: 'webhook duplicate of a queued cycle', jobId, duplicate: true }),
      expect.objectContaining({ msg: 'webhook refused: signature', level: 40, connectionId: 'acme', reason: 'mismatch' }),
    ]);
    expect(lines.join('')).not.toContain(sign(body, secret));
  });

  it('answers 200 ignored to another action, a foreign StepId and a subfunction without recipe', async () => {
    const cases = [
      [event({ Action: 'Cancelled' }), 'action Cancelled is not handled'],
      [event({ StepId: '27' }), "step 27 is not one of this connection's steps"],
      [event({ SubfunctionId: 99 }), 'subfunction 99 has no recipe'],
    ] as const;
    for (const [e, reason] of cases) {
      const res = await signed(JSON.stringify(e));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ignored: reason });
    }
    expect(await queued()).toBe(0);
  });

  it('starts one cycle when the same event arrives 5 times at once', async () => {
    const body = JSON.stringify(event());
    const answers = await Promise.all(Array.from({ length: 5 }, () => signed(body)));
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202, 202, 202]);
    const ids = new Set(answers.map((a) => a.json<{ jobId: string }>().jobId));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.json<{ duplicate: boolean }>().duplicate)).toHaveLength(4);
    expect(await queued()).toBe(1);
  });

  it('starts a new cycle for a rework: the same TaskProcessId after the earlier cycle ended', async () => {
    const body = JSON.stringify(event());
    const first = (await signed(body)).json<{ jobId: string }>().jobId;
    const worker = new Worker(cycleQueueName, async () => 'done', {
      connection: { url: redisUrl, maxRetriesPerRequest: null },
      prefix,
    });
    await new Promise<void>((resolve) => worker.on('completed', () => resolve()));
    await worker.close();
    const again = await signed(body);
    expect(again.statusCode).toBe(202);
    const second = again.json<{ jobId: string; duplicate: boolean }>();
    expect(second.duplicate).toBe(false);
    expect(second.jobId).not.toBe(first);
  });

  it('serves health and readiness', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  describe('webhook secrets per subfunction', () => {
    const newSecret = () => randomBytes(32).toString('base64');
    const [own54, own55, rotated55, shared] = [newSecret(), newSecret(), newSecret(), newSecret()];
    const convert = { recipe: 'convert', options: { format: 'jpeg' } };
    const app = buildReceiver({
      logger,
      isReady: async () => true,
      webhooks: {
        connections: connectionsFor([
          // Each subfunction with its own secret (55 in a rotation), no connection-level secret.
          {
            id: 'split',
            name: 'Split',
            creativeForce: { clientId: 'c', clientSecret: 's', signatureScheme: 'auto' },
            subfunctions: {
              '54': { ...convert, webhookSecrets: [own54] },
              '55': { ...convert, webhookSecrets: [own55, rotated55] },
            },
          },
          // A connection-level secret for every subfunction, and 54 with one of its own.
          {
            id: 'mixed',
            name: 'Mixed',
            creativeForce: { clientId: 'c', clientSecret: 's', webhookSecrets: [shared] },
            subfunctions: { '54': { ...convert, webhookSecrets: [own54] }, '55': convert },
          },
        ]),
        enqueue: (id, e) => queue.addCycle(id, e),
      },
    });
    const post = (connectionId: string, body: string, signature: string) =>
      app.inject({
        method: 'POST',
        url: `/webhooks/creative-force/${connectionId}`,
        headers: { 'content-type': 'application/json', 'x-cf-signature': signature },
        payload: body,
      });
    const signedFor = (connectionId: string, subfunctionId: unknown, key: string) => {
      const body = JSON.stringify(event({ SubfunctionId: subfunctionId }));
      return post(connectionId, body, sign(body, key));
    };

    beforeAll(() => app.ready());
    afterAll(() => app.close());

    it("accepts each subfunction's events with its own secrets, and refuses another subfunction's secret with 401", async () => {
      expect((await signedFor('split', 54, own54)).statusCode).toBe(202);
      expect((await signedFor('split', '55', own55)).statusCode).toBe(202);
      expect((await signedFor('split', 55, rotated55)).statusCode).toBe(202);
      for (const [subfunction, key] of [
        [54, own55],
        [55, own54],
        [54, shared],
      ] as const) {
        const res = await signedFor('split', subfunction, key);
        expect(res.statusCode, `${subfunction}`).toBe(401);
        expect(res.json()).toEqual({ error: 'invalid signature' });
      }
    });

    it('answers 401, the same way, to a body naming no subfunction with secrets, not JSON, or without SubfunctionId', async () => {
      const { SubfunctionId: _omit, ...withoutSubfunction } = event();
      const bodies = [
        JSON.stringify(event({ SubfunctionId: 99 })),
        JSON.stringify(event({ SubfunctionId: 'x'.repeat(1000) })),
        JSON.stringify(withoutSubfunction),
        'not json at all',
        '[54]',
      ];
      for (const body of bodies) {
        const res = await post('split', body, sign(body, own54));
        expect(res.statusCode, body.slice(0, 30)).toBe(401);
        expect(res.json()).toEqual({ error: 'invalid signature' });
      }
    });

    it("a connection-level secret still applies to every subfunction, next to a subfunction's own", async () => {
      expect((await signedFor('mixed', 54, shared)).statusCode).toBe(202);
      expect((await signedFor('mixed', 54, own54)).statusCode).toBe(202);
      expect((await signedFor('mixed', 55, shared)).statusCode).toBe(202);
      expect((await signedFor('mixed', 99, shared)).json()).toEqual({ ignored: 'subfunction 99 has no recipe' });
      expect((await signedFor('mixed', 55, own54)).statusCode).toBe(401);
    });

    it('costs the same HMACs whichever subfunction an unauthenticated body names, and none for a header of no signature length', async () => {
      const hmacs = vi.spyOn(crypto, 'createHmac');
      syncBuiltinESMExports();
      try {
        const wrong = sign('something else', own54);
        const counts: number[] = [];
        for (const body of [54, 55, 99].map((id) => JSON.stringify(event({ SubfunctionId: id }))).concat('not json')) {
          hmacs.mockClear();
          expect((await post('split', body, wrong)).statusCode).toBe(401);
          counts.push(hmacs.mock.calls.length);
        }
        // auto: one HMAC per key form for each of the 2 keys (55's list is the longest).
        expect(counts).toEqual([4, 4, 4, 4]);
        hmacs.mockClear();
        expect((await post('split', JSON.stringify(event()), 'not-a-signature')).statusCode).toBe(401);
        expect(hmacs).not.toHaveBeenCalled();
      } finally {
        hmacs.mockRestore();
        syncBuiltinESMExports();
      }
    });
  });
});

describe('webhook receiver without Redis', () => {
  it('answers 503 so Creative Force retries, readiness fails, and the queue reports its errors', async () => {
    const redis = producerRedis('redis://127.0.0.1:1');
    const queueErrors: Error[] = [];
    const queue = new CycleQueue({
      connection: redis,
      prefix: testPrefix('down'),
      attempts: 1,
      backoffMs: 100,
      onError: (err) => queueErrors.push(err),
    });
    const app = buildReceiver({
      logger,
      isReady: async () => (await redis.ping()) === 'PONG',
      webhooks: { connections: connectionsFor(), enqueue: (id, e) => queue.addCycle(id, e) },
    });
    const res = await postSigned(app, JSON.stringify(event()));
    expect(res.statusCode).toBe(503);
    await expect(queue.addCycle('acme', webhookPayloadSchema.parse(event()))).rejects.toMatchObject({
      code: 'QUEUE_UNAVAILABLE',
    });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await vi.waitFor(() => expect(queueErrors[0]?.message).toMatch(/ECONNREFUSED/));
    await app.close();
    await queue.close().catch(() => {});
    redis.disconnect();
  });
});

describe('serve mode on connections loaded for the receiver', () => {
  it('accepts signed webhooks without the Creative Force client credentials in its environment', async () => {
    const stack = await startStack('serve-scope');
    try {
      const { T_CF_ID: _id, T_CF_SECRET: _secret, ...receiverEnv } = stack.env;
      const recipes = createRecipeRegistry();
      const file = receiverEnv.CONNECTIONS_FILE ?? '';
      await expect(loadConnectionsFile(file, recipes, receiverEnv)).rejects.toThrow(/T_CF_ID/);
      const connections = await loadConnectionsFile(file, recipes, receiverEnv, { scope: 'receiver' });
      const service = await buildService({ config: loadEnvConfig(receiverEnv), connections, recipes, mode: 'serve', logger });
      try {
        const port = await service.start();
        const task = stack.sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
        expect((await stack.sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret)).status).toBe(202);
        expect(await service.queue.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
      } finally {
        await service.stop();
      }
    } finally {
      await stack.close();
    }
  });
});
