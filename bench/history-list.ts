/**
 * What a backlog costs the task history's reads: `node bench/history-list.ts [--jobs 1000,10000]`.
 * The receiver writes no history record; a cycle no worker has taken yet is listed from the queue
 * (src/history/waiting-cycles.ts). For each backlog size, under a fresh prefix, it queues that many
 * cycle jobs (half of them the listed connection's, half another's) and times, median of 10, the
 * first page of the connection's tasks and a search by product code, next to the baseline of the
 * same run: the same page with the queue empty and the same number of cycles recorded in the
 * history instead.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { webhookPayloadSchema } from '../src/creative-force/schemas.ts';
import { taskFacts } from '../src/history/cycle-recorder.ts';
import { queuedHistory } from '../test/helpers/queued-history.ts';
import { dropPrefix, redisUrl } from '../test/helpers/redis.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '1000,10000' } } });
const sizes = values.jobs.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 2)) throw new Error(`--jobs: whole numbers of at least 2, not ${values.jobs}`);
const redis = new Redis(redisUrl);
await redis.ping();

const event = (i: number) =>
  webhookPayloadSchema.parse({
    Action: 'ReadyToWork',
    TaskId: randomUUID(),
    TaskProcessId: randomUUID(),
    SubfunctionId: 54,
    StepId: '25',
    ProductCode: `SKU-${i}`,
  });
const connectionOf = (i: number) => (i % 2 === 0 ? 'acme' : 'other');

async function median(f: () => Promise<unknown>): Promise<number> {
  await f();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const start = performance.now();
    await f();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[5] ?? Number.NaN;
}

console.log('jobs    listed from   first page ms   search ms');
const summary: string[] = [];
for (const n of sizes) {
  const row: Record<string, { page: number; search: number }> = {};
  for (const where of ['history', 'queue'] as const) {
    const prefix = `{bench-list-${randomUUID().slice(0, 8)}}`;
    const { queue, history } = queuedHistory(redis, prefix);
    try {
      for (let i = 0; i < n; i += 200) {
        await Promise.all(
          Array.from({ length: Math.min(200, n - i) }, async (_, j) => {
            const e = event(i + j);
            const connectionId = connectionOf(i + j);
            if (where === 'queue') return queue.addCycle(connectionId, e, { recipe: 'convert' });
            const cycleJobId = `${connectionId}.${e.TaskProcessId}.${Date.now().toString(36)}00000000`;
            return history.received({ connectionId, cycleJobId, facts: taskFacts(e, 'convert') });
          }),
        );
      }
      const page = await median(() => history.list('acme'));
      const search = await median(() => history.list('acme', { q: `SKU-${n - 2}` }));
      row[where] = { page, search };
      console.log(`${String(n).padEnd(8)}${where.padEnd(14)}${page.toFixed(1).padStart(13)}${search.toFixed(1).padStart(12)}`);
    } finally {
      await queue.close();
      await dropPrefix(`${prefix}:`);
    }
  }
  const { history, queue } = row as Record<'history' | 'queue', { page: number; search: number }>;
  summary.push(
    `${n} jobs: page ${queue.page.toFixed(1)} ms (recorded: ${history.page.toFixed(1)}), search ${queue.search.toFixed(1)} ms (${history.search.toFixed(1)})`,
  );
}
console.log(`\nsummary: listing a backlog from the queue, ${summary.join('; ')}`);
await redis.quit();
