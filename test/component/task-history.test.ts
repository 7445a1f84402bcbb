/** The task history store on real Redis: indexes, paging, statuses, retention, counters. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type TaskFacts, TaskHistory } from '../../src/history/task-history.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';

const redis = new Redis(redisUrl);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(p);
  await redis.quit();
});

function store(now: () => number = Date.now) {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  return new TaskHistory({ redis, prefix, retentionDays: 30, usageRetentionDays: 400, now });
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

  it('records the webhooks of one turn together, each once, and the last webhook of the connection', async () => {
    const history = store();
    const at = Date.now();
    const many = Array.from({ length: 5 }, (_, i) => ({ id: `acme.batch-${i}`, facts: facts() }));
    // One turn of the event loop: five new cycles, and the worker's second record of the first one
    // (which must change nothing but the connection's last webhook).
    const written = Promise.all([
      ...many.map(({ id, facts: f }, i) =>
        history.received({
          connectionId: 'acme',
          cycleJobId: id,
          facts: f,
          signatureVariant: 'b64key-sha256-base64',
          at: at + i,
        }),
      ),
      history.received({ connectionId: 'acme', cycleJobId: 'acme.batch-0', facts: facts(), at: at + 10 }),
    ]);
    await history.flush(); // sends them now, as a shutdown does, rather than after the batching window
    const { cycles } = await history.list('acme');
    expect(cycles.map((c) => c.cycleJobId)).toEqual(many.map((m) => m.id).reverse());
    expect(cycles.at(-1)?.taskProcessId).toBe(many[0]?.facts.taskProcessId);
    const events = await history.taskProcess('acme', many[0]?.facts.taskProcessId ?? '');
    expect(events.map((c) => c.events.map((e) => e.type))).toEqual([['received']]);
    expect(await history.connection('acme')).toEqual({
      lastWebhookAt: new Date(at + 10).toISOString(),
      signatureVariant: 'b64key-sha256-base64',
    });
    const [today] = await history.usage('acme', at, at);
    expect(today?.counters).toEqual({ received: 5 });
    await written;
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
