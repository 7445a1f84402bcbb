/**
 * The long run of the receiver fuzzer: `node bench/fuzz-receiver.ts [--count N] [--seed S]`
 * (default 100,000 requests, a random seed). It starts the Creative Force simulator's studio and a
 * real `serve` process on the Redis at REDIS_URL (under a key prefix of its own), fuzzes it, and
 * prints the answers by status and kind, every unexpected answer with its seed and index, the
 * jobs queued against those accepted, and whether the process is still alive. Exit 1 on any finding.
 */
import { Queue } from 'bullmq';
import { cycleQueueName } from '../src/queue/cycle-job.ts';
import { fuzzReceiver } from '../test/fuzz/receiver-fuzzer.ts';
import { spawnServe } from '../test/fuzz/serve-process.ts';
import { producerRedis } from '../test/helpers/redis.ts';
import { startStack } from '../test/helpers/stack.ts';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const count = arg('count', 100_000);
const seed = arg('seed', Math.floor(Math.random() * 2 ** 31));
const stack = await startStack('fuzz-bench');
const serve = await spawnServe(stack);
process.stdout.write(`fuzzing the receiver: ${count} requests, seed ${seed}\n`);
const report = await fuzzReceiver(
  { port: serve.port, connectionId: 'acme', secret: stack.secret, subfunctionId: 54, stepId: 25 },
  {
    count,
    seed,
    concurrency: 16,
    onUnexpected: (f) =>
      process.stdout.write(`UNEXPECTED #${f.index} ${f.kind}: ${f.status ?? 'no answer'} (expected ${f.expected.join('/')})\n`),
  },
);
const connection = producerRedis();
const queue = new Queue(cycleQueueName, { connection, prefix: stack.prefix });
const queued = new Set(
  (await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'])).map((j) => j.id),
);
await queue.close();
connection.disconnect();
const wronglyQueued = [...queued].filter((id) => id === undefined || !report.accepted.has(id)).length;
const lostAccepted = [...report.accepted].filter((id) => !queued.has(id)).length;
const crashed = serve.child.exitCode !== null || serve.stderr() !== '';

const rate = Math.round(report.requests / (report.durationMs / 1000));
process.stdout.write(`\nrequests         ${report.requests} in ${(report.durationMs / 1000).toFixed(1)} s (${rate}/s)\n`);
process.stdout.write(
  `answers          ${Object.entries(report.statuses)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ')}\n`,
);
process.stdout.write(
  `kinds            ${Object.entries(report.kinds)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ')}\n`,
);
process.stdout.write(`unexpected       ${report.unexpected.length}\n`);
process.stdout.write(
  `accepted jobs    ${report.accepted.size}; queued ${queued.size}; wrongly queued ${wronglyQueued}; accepted but missing ${lostAccepted}\n`,
);
process.stdout.write(`crashes          ${crashed ? `1 (${serve.stderr().slice(0, 500)})` : 0}\n`);
await serve.stop();
await stack.close();
process.exit(report.unexpected.length > 0 || wronglyQueued > 0 || lostAccepted > 0 || crashed ? 1 : 0);
