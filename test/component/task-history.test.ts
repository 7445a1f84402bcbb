/** The task history store on real Redis: indexes, paging, statuses, retention, counters. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type WebhookPayload, webhookPayloadSchema } from '../../src/creative-force/schemas.ts';
import { taskFacts } from '../../src/history/cycle-recorder.ts';
import { type HistorySettings, type TaskFacts, TaskHistory } from '../../src/history/task-history.ts';
import type { CycleJobData } from '../../src/queue/cycle-job.ts';
import { queuedHistory } from '../helpers/queued-history.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';

const redis = new Redis(redisUrl);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(p);
  await redis.quit();
});

function newPrefix(): string {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  return prefix;
}

function store(now: () => number = Date.now, settings: Partial<HistorySettings> = {}) {
  return new TaskHistory({ redis, prefix: newPrefix(), retentionDays: 30, usageRetentionDays: 400, now, ...settings });
}

const facts = (over: Partial<TaskFacts> = {}): TaskFacts => ({
  taskProcessId: randomUUID(),
  taskId: randomUUID(),
  productId: randomUUID(),
  productCode: 'SKU-1',
  jobId: null,
  jobCode: null,
  subfunctionId: 54,
  subfunctionName: null,
  stepId: 25,
  recipe: 'convert',
  ...over,
});

/** A ReadyToWork event as the receiver validates it. */
const payload = (over: Record<string, unknown> = {}) => ({
  Action: 'ReadyToWork',
  TaskId: randomUUID(),
  TaskProcessId: randomUUID(),
  SubfunctionId: 54,
  StepId: '25',
  StepStatusId: '2000',
  ...over,
});

describe('the task history', () => {
  it('pages newest first with a cursor, without a cycle twice, even with equal times', async () => {
    const history = store();
    const at = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = `acme.cycle-${i}`;
      ids.push(id);
      await history.received({ connectionId: 'acme', cycleJobId: id, facts: facts(), at: at - (i < 4 ? 0 : i) * 1000 });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const { cycles, nextCursor } = await history.list('acme', { limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...cycles.map((c) => c.cycleJobId));
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen.slice(4)).toEqual(['acme.cycle-4', 'acme.cycle-5', 'acme.cycle-6']);
  });

  it('moves a cycle between status indexes, keeps a submission over a later skip, and finds it by its ids and product code', async () => {
    const history = store();
    const f = facts({ productCode: 'Sku-42' });
    await history.received({ connectionId: 'acme', cycleJobId: 'acme.c1', facts: f });
    expect((await history.list('acme', { status: 'queued' })).cycles).toHaveLength(1);
    await history.attemptStarted('acme.c1', 1);
    await history.attemptFailed('acme.c1', {
      attempt: 1,
      code: 'CF_SERVER_ERROR',
      retryable: true,
      message: 'm',
      willRetry: true,
    });
    expect((await history.list('acme', { status: 'retrying' })).cycles.map((c) => c.errorCode)).toEqual(['CF_SERVER_ERROR']);
    await history.attemptStarted('acme.c1', 2);
    await history.submitted('acme.c1', { slots: [], assets: 1, refused: 0 });
    await history.skipped('acme.c1', "an earlier attempt's Submit Output was accepted");
    expect((await history.summary('acme.c1'))?.status).toBe('submitted');
    for (const status of ['queued', 'running', 'retrying', 'skipped'] as const) {
      expect((await history.list('acme', { status })).cycles, status).toEqual([]);
    }
    for (const q of [f.taskProcessId, f.taskId.toUpperCase(), 'SKU-42']) {
      expect(
        (await history.list('acme', { q })).cycles.map((c) => c.cycleJobId),
        q,
      ).toEqual(['acme.c1']);
    }
    expect((await history.list('other', { q: f.taskId })).cycles).toEqual([]);
  });

  it('records a cycle once: a second record (a later attempt, a second worker) changes nothing', async () => {
    const history = store();
    const at = Date.now();
    const f = facts();
    await history.received({
      connectionId: 'acme',
      cycleJobId: 'acme.c1',
      facts: f,
      signatureVariant: 'b64key-sha256-base64',
      at,
    });
    await history.attemptStarted('acme.c1', 1);
    await history.received({ connectionId: 'acme', cycleJobId: 'acme.c1', facts: facts(), at: at + 10 });
    const [cycle] = await history.taskProcess('acme', f.taskProcessId);
    expect(cycle?.summary).toMatchObject({ status: 'running', receivedAt: new Date(at).toISOString(), taskId: f.taskId });
    expect(cycle?.events.map((e) => e.type)).toEqual(['received', 'attempt']);
    expect(cycle?.events[0]).toEqual({
      at: new Date(at).toISOString(),
      type: 'received',
      signatureVariant: 'b64key-sha256-base64',
    });
    const [today] = await history.usage('acme', at, at);
    expect(today?.counters).toEqual({ received: 1 });
  });

  it("writes the connection's last webhook at once, then at most once an interval with the latest values", async () => {
    let now = Date.parse('2026-11-01T12:00:00Z');
    const errors: unknown[] = [];
    const history = store(() => now, { onError: (err) => errors.push(err) });
    const first = new Date(now).toISOString();
    history.webhookSeen('acme', 'b64key-sha256-base64');
    for (let i = 0; i < 50; i++) {
      now += 5;
      history.webhookSeen('acme', i < 49 ? 'b64key-sha256-base64' : 'rawkey-sha256-hex');
    }
    const last = new Date(now).toISOString();
    for (const deadline = Date.now() + 5_000; !(await history.connection('acme')).lastWebhookAt && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // The first webhook's write; the 50 after it wait for the interval.
    expect(await history.connection('acme')).toEqual({ lastWebhookAt: first, signatureVariant: 'b64key-sha256-base64' });
    await history.flush(); // as a shutdown does: the latest values now
    expect(await history.connection('acme')).toEqual({ lastWebhookAt: last, signatureVariant: 'rawkey-sha256-hex' });
    expect(errors).toEqual([]);
  });

  it('lists and finds a cycle in the queue before a worker records it, then once, as recorded', async () => {
    const prefix = newPrefix();
    const { queue, history } = queuedHistory(redis, prefix);
    try {
      const events: WebhookPayload[] = [0, 1, 2].map((i) => webhookPayloadSchema.parse(payload({ ProductCode: `Sku-${i}` })));
      const jobIds: string[] = [];
      for (const e of events) {
        // Each in a millisecond of its own, so that newest first is the order they were added in
        // (jobs of the same millisecond are ordered by id, as the first test shows for the history).
        const last = Date.now();
        while (Date.now() === last) await new Promise((r) => setImmediate(r));
        const { jobId } = await queue.addCycle('acme', e, { signatureVariant: 'b64key-sha256-base64', recipe: 'convert' });
        jobIds.push(jobId);
      }
      // A failure report and another connection's cycle are in the same queue, never in acme's list.
      await queue.addFailureReport({
        connectionId: 'acme',
        taskProcessId: randomUUID(),
        cycleJobId: 'acme.x',
        message: 'm',
        code: 'C',
      });
      await queue.addCycle('other', webhookPayloadSchema.parse(payload()));
      const [e0, e1, e2] = events;
      const newestFirst = [...jobIds].reverse();

      const listed = await history.list('acme');
      expect(listed.cycles.map((c) => c.cycleJobId)).toEqual(newestFirst);
      expect(listed.cycles[2]).toMatchObject({
        status: 'queued',
        taskProcessId: e0?.TaskProcessId,
        taskId: e0?.TaskId,
        productCode: 'Sku-0',
        recipe: 'convert',
        attempts: 0,
        calls: {},
      });
      expect(listed.cycles[2]).not.toHaveProperty('signatureVariant');
      for (const q of [e1?.TaskProcessId.toUpperCase(), e1?.TaskId, 'SKU-1']) {
        expect(
          (await history.list('acme', { q })).cycles.map((c) => c.cycleJobId),
          q,
        ).toEqual([jobIds[1]]);
      }
      expect((await history.list('acme', { status: 'running' })).cycles).toEqual([]);
      expect(await history.taskProcess('acme', e2?.TaskProcessId ?? '')).toEqual([
        {
          summary: expect.objectContaining({ cycleJobId: jobIds[2], status: 'queued' }),
          events: [{ at: listed.cycles[0]?.receivedAt, type: 'received', signatureVariant: 'b64key-sha256-base64' }],
        },
      ]);

      // A worker takes the oldest job and records it: the job is still in the queue (active).
      const job = await queue.queue.getJob(jobIds[0] ?? '');
      const data = job?.data as CycleJobData;
      await history.received({
        connectionId: 'acme',
        cycleJobId: jobIds[0] ?? '',
        facts: taskFacts(data.event, 'convert'),
        at: Date.parse(data.receivedAt),
        signatureVariant: 'b64key-sha256-base64',
      });
      await history.attemptStarted(jobIds[0] ?? '', 1);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const { cycles, nextCursor } = await history.list('acme', { limit: 1, ...(cursor ? { cursor } : {}) });
        seen.push(...cycles.map((c) => `${c.cycleJobId} ${c.status}`));
        if (!nextCursor) break;
        cursor = nextCursor;
      }
      expect(seen).toEqual([`${jobIds[2]} queued`, `${jobIds[1]} queued`, `${jobIds[0]} running`]);
      expect((await history.list('acme')).cycles.map((c) => c.cycleJobId)).toEqual(newestFirst);
      expect((await history.list('acme', { status: 'queued' })).cycles.map((c) => c.cycleJobId)).toEqual(newestFirst.slice(0, 2));
      expect((await history.taskProcess('acme', e0?.TaskProcessId ?? '')).map((c) => c.events.map((e) => e.type))).toEqual([
        ['received', 'attempt'],
      ]);
      expect((await history.list('other')).cycles).toHaveLength(1);
    } finally {
      await queue.close();
    }
  });

  it('leaves cycles older than the retention out, and counts per day', async () => {
    let now = Date.parse('2026-11-01T12:00:00Z');
    const history = store(() => now);
    await history.received({ connectionId: 'acme', cycleJobId: 'acme.old', facts: facts() });
    await history.paid('acme.old', { provider: 'sartiq', what: 'generation', id: 'g-1', adopted: false });
    await history.paid('acme.old', { provider: 'sartiq', what: 'generation', id: 'g-2', adopted: true });
    now = Date.parse('2026-12-05T12:00:00Z');
    await history.received({ connectionId: 'acme', cycleJobId: 'acme.new', facts: facts() });
    expect((await history.list('acme')).cycles.map((c) => c.cycleJobId)).toEqual(['acme.new']);
    const days = await history.usage('acme', Date.parse('2026-11-01T00:00:00Z'), Date.parse('2026-11-02T00:00:00Z'));
    expect(days).toEqual([
      { day: '2026-11-01', counters: { received: 1, 'paid:sartiq': 1 } },
      { day: '2026-11-02', counters: {} },
    ]);
  });
});
