/**
 * How much Redis memory the task history takes: `node bench/history-memory.ts [--cycles N]`.
 * Records N typical cycles (received, one attempt, six steps started and finished, four Creative
 * Force calls, a paid generation, a two-slot submission) and N failed ones (two attempts, errors, a
 * report) under a fresh prefix, then sums MEMORY USAGE over the keys, per cycle and for the day's
 * usage counters, beside the same sum for the cycles' BullMQ jobs as a baseline of what the queue
 * itself keeps per task.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { TaskHistory } from '../src/history/task-history.ts';

const at = process.argv.indexOf('--cycles');
const cycles = at > 0 ? Number(process.argv[at + 1]) : 1000;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `{bench-history-${randomUUID().slice(0, 8)}}`;
const history = new TaskHistory({ redis, prefix, retentionDays: 30, usageRetentionDays: 400 });
const steps = [
  'get-process-detail',
  'download-inputs',
  'get-additional-context',
  'process-assets',
  'upload-outputs',
  'submit-output',
];

async function typical(i: number, failed: boolean): Promise<void> {
  const cycleJobId = `acme.${randomUUID()}.${i.toString(36)}`;
  await history.received({
    connectionId: 'acme',
    cycleJobId,
    facts: {
      taskProcessId: randomUUID(),
      taskId: randomUUID(),
      productId: randomUUID(),
      productCode: `P-${100000 + i}`,
      jobId: randomUUID(),
      jobCode: 'Winter 2027',
      subfunctionId: 54,
      subfunctionName: 'On model',
      stepId: 25,
      recipe: 'sartiq-generate',
    },
    signatureVariant: 'b64key-sha256-base64',
  });
  await history.attemptStarted(cycleJobId, 1);
  for (const step of steps) {
    await history.step(cycleJobId, step, 'started');
    if (step === 'process-assets')
      await history.paid(cycleJobId, { provider: 'sartiq', what: 'Sartiq generation', id: randomUUID(), adopted: false });
    await history.step(cycleJobId, step, 'finished', 1234);
    if (failed && step === 'download-inputs') break;
  }
  for (const endpoint of ['getProcessDetail', 'bulkGetAssets', 'getPresignedUploadUrls', 'submitOutput'])
    await history.call(cycleJobId, endpoint);
  if (failed) {
    const error = {
      code: 'PROVIDER_SERVER_ERROR',
      retryable: true,
      message:
        'cf-ai-connector could not complete this task: Sartiq answered 503 [PROVIDER_SERVER_ERROR]. The connector retried several times; send the task to this step again to retry.',
    };
    await history.attemptFailed(cycleJobId, { attempt: 1, ...error, willRetry: true });
    await history.attemptStarted(cycleJobId, 2);
    await history.attemptFailed(cycleJobId, { attempt: 2, ...error, willRetry: false });
    await history.report(cycleJobId, 'delivered', error.code);
  } else {
    await history.submitted(cycleJobId, {
      slots: [
        { mappingKeyId: '1_Front', new: 1, kept: 0, redone: 0 },
        { mappingKeyId: '2_Back', new: 1, kept: 0, redone: 0 },
      ],
      assets: 2,
      refused: 0,
    });
  }
}

async function memory(pattern: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of found) {
      keys += 1;
      bytes += (await redis.memory('USAGE', key)) ?? 0;
    }
  } while (cursor !== '0');
  return { keys, bytes };
}

for (let i = 0; i < cycles; i++) await typical(i, false);
for (let i = 0; i < cycles; i++) await typical(cycles + i, true);
const all = await memory(`${prefix}:hist:*`);
const usage = await memory(`${prefix}:hist:u:*`);
const perCycle = (all.bytes - usage.bytes) / (2 * cycles);
process.stdout.write(`task history, ${2 * cycles} cycles (${cycles} submitted, ${cycles} failed and reported)\n`);
process.stdout.write(`  all keys          ${all.keys} keys, ${(all.bytes / 1024 / 1024).toFixed(2)} MiB\n`);
process.stdout.write(`  per cycle         ${Math.round(perCycle)} bytes (summary, events, index entries, search terms)\n`);
process.stdout.write(`  usage counters    ${usage.bytes} bytes for one connection-day\n`);
process.stdout.write(`  30 days at 1,000 cycles a day: ${((perCycle * 30_000) / 1024 / 1024).toFixed(1)} MiB\n`);
let deleted = 0;
let cursor = '0';
do {
  const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (found.length > 0) deleted += await redis.del(...found);
} while (cursor !== '0');
redis.disconnect();
process.stdout.write(`  (cleaned up ${deleted} keys)\n`);
