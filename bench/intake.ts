/**
 * Benchmark of signed-webhook intake: the project's receiver next to the least a correct receiver
 * must do, in the same run, on the same machine, driven by the same load.
 *
 * - project: `cf-ai-connector serve` itself (runService, as the command line starts it: the
 *   configuration from the environment, a connections file, real Redis and BullMQ, the logger at
 *   LOG_LEVEL info, metrics, the task history), in a child process.
 * - minimal: Fastify with a raw-body parser, one HMAC with a key made once (createSecretKey), a
 *   constant-time compare, JSON.parse, and one BullMQ add with the project's job rule
 *   (`cycleJobOptions`: deduplication on connection + TaskProcessId), answering 202 only after
 *   Redis stored the job; in a child process of its own.
 *
 * Both get the same signed ReadyToWork webhooks, each with a new TaskProcessId, from a closed-loop
 * client in this process (undici, `--connections` at once, for `--seconds`): requests per second.
 * Then an open-loop run at a fixed `--rate` (1,000 a second by default), whose latency is counted
 * from when each request was due (no coordinated omission): p50 and p99. CPU per request is the
 * server process's own (process.cpuUsage, user + system), over the closed loop (where a receiver
 * that keeps up takes more requests per turn of its event loop, and so pays less each) and over
 * the open loop (the same requests at the same pace for both: the fairer comparison). The Redis
 * server's CPU per request over the closed loop is printed too (INFO cpu): Redis shares the cores,
 * so what a receiver makes Redis do costs requests per second as well. The servers run
 * one after the other, so neither shares the cores with the other; the load generator does share
 * them (note the core count printed): compare the ratio, not the absolute figures. `--rounds`
 * pairs are measured, the order alternating (minimal first, then project first), and each ratio is
 * taken within its round: on a machine whose load drifts, the median of the rounds' ratios is the
 * figure to read.
 *
 *   node bench/intake.ts [--seconds 5] [--connections 32] [--rate 1000] [--scheme auto] [--rounds 3] [--warmup 3]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHmac, createSecretKey, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { runService } from '../src/main.ts';
import { cycleJobOptions } from '../src/queue/cycle-job.ts';
import { freePort } from '../test/helpers/free-port.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '1000' },
    scheme: { type: 'string', default: 'auto' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    server: { type: 'string' },
  },
});

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const connectionId = 'bench';
/** The parent's connection, for the Redis server's CPU figures and the cleanup (lazy: the server children make none). */
const benchRedis = new Redis(redisUrl, { lazyConnect: true });
/** What a server child tells its parent. */
type ServerMessage = { port: number } | { cpuMicros: number };

/** Reports this process's CPU time to the parent whenever it asks. */
function answerCpuQueries(): void {
  process.on('message', () => {
    const used = process.cpuUsage();
    process.send?.({ cpuMicros: used.user + used.system } satisfies ServerMessage);
  });
}

/** The minimal correct receiver (see the top of this file). */
async function minimalReceiver(secret: string, prefix: string): Promise<void> {
  const key = createSecretKey(Buffer.from(secret, 'base64'));
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queue = new Queue('cycles', { connection: redis, prefix });
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_req, body, done) => done(null, body));
  app.post<{ Params: { id: string } }>('/webhooks/creative-force/:id', async (request, reply) => {
    if (request.params.id !== connectionId) return reply.code(404).send({ error: 'unknown connection' });
    const body = request.body as Buffer;
    const header = request.headers['x-cf-signature'];
    const got = Buffer.from(typeof header === 'string' ? header : '');
    const expected = Buffer.from(createHmac('sha256', key).update(body).digest('base64'));
    if (got.length !== expected.length || !timingSafeEqual(got, expected))
      return reply.code(401).send({ error: 'invalid signature' });
    const event = JSON.parse(body.toString('utf8')) as { TaskProcessId: string };
    const job = await queue.add(
      'cycle',
      { connectionId, event, receivedAt: new Date().toISOString() },
      cycleJobOptions(connectionId, event.TaskProcessId),
    );
    return reply.code(202).send({ jobId: job.id });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 } satisfies ServerMessage);
}

/** The project's `serve`, as the command line runs it, on the PORT the parent chose. */
async function projectReceiver(): Promise<void> {
  await runService('serve', process.env);
  process.send?.({ port: Number(process.env.PORT) } satisfies ServerMessage);
}

/**
 * Starts one server child; resolves with a handle to it once it listens. Its stdout (the project's
 * log lines) goes to a file, as it would through a log collector that keeps up: not through a pipe
 * that this busy process would drain late, where a full pipe stalls the child's synchronous log
 * writes (pino's sync destination waits 100 ms on EAGAIN).
 */
async function startServer(kind: 'project' | 'minimal', env: NodeJS.ProcessEnv, logFile: string) {
  const log = await open(logFile, 'a');
  const child: ChildProcess = fork(process.argv[1] ?? '', ['--server', kind], {
    env,
    stdio: ['ignore', log.fd, 'inherit', 'ipc'],
  });
  await log.close(); // the child has its own copy
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${kind} receiver exited with ${code}`)));
    child.on('message', (m: ServerMessage) => {
      if ('port' in m) resolve(m.port);
    });
  });
  const cpuMicros = () =>
    new Promise<number>((resolve) => {
      const onMessage = (m: ServerMessage) => {
        if ('cpuMicros' in m) {
          child.off('message', onMessage);
          resolve(m.cpuMicros);
        }
      };
      child.on('message', onMessage);
      child.send('cpu');
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { port, cpuMicros, stop };
}

interface Figures {
  rps: number;
  cpuPerRequest: number;
  /** CPU per request over the open loop, where both receivers get the same requests at the same pace. */
  cpuPerRequestAtRate: number;
  /** The Redis server's CPU per request over the closed loop: it shares the cores too. */
  redisPerRequest: number;
  p50: number;
  p99: number;
  achievedRate: number;
}

/** Drives one server: closed loop for req/s and CPU, then open loop at `rate` for latency. */
async function drive(server: Awaited<ReturnType<typeof startServer>>, secret: string): Promise<Figures> {
  const seconds = Number(values.seconds);
  const pool = new Pool(`http://127.0.0.1:${server.port}`, { connections: Number(values.connections), pipelining: 1 });
  const key = Buffer.from(secret, 'base64');
  const send = async () => {
    const body = JSON.stringify({
      Action: 'ReadyToWork',
      TaskId: randomUUID(),
      TaskProcessId: randomUUID(),
      SubfunctionId: 54,
      StepId: 25,
      JobCode: 'SKU-123',
      ClientName: 'Bench Studio',
    });
    const signature = createHmac('sha256', key).update(body).digest('base64');
    const res = await pool.request({
      method: 'POST',
      path: `/webhooks/creative-force/${connectionId}`,
      headers: { 'content-type': 'application/json', 'x-cf-signature': signature },
      body,
    });
    await res.body.dump();
    if (res.statusCode !== 202) throw new Error(`expected 202, got ${res.statusCode}`);
  };

  /** `--connections` requests at a time for `ms`; resolves with how many were answered. */
  const closedLoop = async (ms: number) => {
    let answered = 0;
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: Number(values.connections) }, async () => {
        while (performance.now() < until) {
          await send();
          answered += 1;
        }
      }),
    );
    return answered;
  };

  // Warm-up under the same load, until the JIT has settled (500 requests one at a time left the
  // first seconds of a process 1.2-1.5x dearer than the next), then the closed loop.
  await closedLoop(Number(values.warmup) * 1000);
  const cpuBefore = await server.cpuMicros();
  const redisBefore = await redisCpuMicros();
  const started = performance.now();
  const done = await closedLoop(seconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  // What the receiver writes after its answers (the history's batches) reaches Redis within ms.
  await new Promise((r) => setTimeout(r, 50));
  const cpu = (await server.cpuMicros()) - cpuBefore;
  const redisCpu = (await redisCpuMicros()) - redisBefore;

  // Open loop: requests fall due every 1/rate s; each latency runs from its due time.
  const rate = Number(values.rate);
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const openCpuBefore = await server.cpuMicros();
  const openStart = performance.now();
  let issued = 0;
  while (issued < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - openStart) / 1000) * rate) + 1);
    for (; issued < due; issued++) {
      const dueAt = openStart + (issued / rate) * 1000;
      inFlight.push(send().then(() => void latencies.push(performance.now() - dueAt)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  const openCpu = (await server.cpuMicros()) - openCpuBefore;
  const openElapsed = (performance.now() - openStart) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    rps: done / elapsed,
    cpuPerRequest: cpu / done,
    cpuPerRequestAtRate: openCpu / total,
    redisPerRequest: redisCpu / done,
    p50: at(0.5),
    p99: at(0.99),
    achievedRate: total / openElapsed,
  };
}

/** The Redis server's CPU time so far (INFO cpu: user + system), in µs. */
async function redisCpuMicros(): Promise<number> {
  const info = await benchRedis.info('cpu');
  const field = (name: string) => Number(info.match(new RegExp(`^${name}:([0-9.]+)`, 'm'))?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

async function dropPrefix(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await benchRedis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await benchRedis.unlink(...keys);
  } while (cursor !== '0');
}

if (values.server === 'minimal') {
  answerCpuQueries();
  // Exit on the parent's SIGTERM, so that `--cpu-prof` writes this process's profile too.
  process.once('SIGTERM', () => process.exit(0));
  await minimalReceiver(process.env.BENCH_SECRET ?? '', process.env.QUEUE_PREFIX ?? '');
} else if (values.server === 'project') {
  answerCpuQueries();
  await projectReceiver();
} else {
  const secret = randomBytes(32).toString('base64');
  const dir = await mkdtemp(join(tmpdir(), 'bench-intake-'));
  const connectionsFile = join(dir, 'connections.json');
  await writeFile(
    connectionsFile,
    JSON.stringify({
      connections: [
        {
          id: connectionId,
          name: 'Bench Studio',
          creativeForce: { clientId: 'bench', clientSecret: 'bench', webhookSecrets: [secret], signatureScheme: values.scheme },
          subfunctions: { '54': { recipe: 'convert', options: {} } },
        },
      ],
    }),
  );
  const prefixes = { project: `bench-intake-p-${randomUUID()}`, minimal: `bench-intake-m-${randomUUID()}` };
  const baseEnv = { ...process.env, REDIS_URL: redisUrl, HOST: '127.0.0.1', PORT: String(await freePort()), LOG_LEVEL: 'info' };
  console.log(
    `signed webhooks (signature scheme ${values.scheme}, one secret), ${values.connections} connections closed loop for ${values.seconds} s, ` +
      `then ${values.rate}/s open loop for ${values.seconds} s; ${availableParallelism()} cores shared by the load generator and the server under test\n`,
  );
  const rounds: Record<'project' | 'minimal', Figures>[] = [];
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = round % 2 === 0 ? (['minimal', 'project'] as const) : (['project', 'minimal'] as const);
      const results: Partial<Record<'project' | 'minimal', Figures>> = {};
      for (const kind of order) {
        const server = await startServer(
          kind,
          {
            ...baseEnv,
            QUEUE_PREFIX: prefixes[kind],
            CONNECTIONS_FILE: connectionsFile,
            BENCH_SECRET: secret,
          },
          join(dir, `${kind}.log`),
        );
        try {
          results[kind] = await drive(server, secret);
        } finally {
          await server.stop();
        }
      }
      const { project, minimal } = results;
      if (project && minimal) rounds.push({ project, minimal });
    }
  } finally {
    await Promise.all([dropPrefix(prefixes.project), dropPrefix(prefixes.minimal), rm(dir, { recursive: true, force: true })]);
    benchRedis.disconnect();
  }
  const head = [
    'req/s',
    'CPU µs/req',
    `CPU µs @${values.rate}`,
    `p50 ms @${values.rate}`,
    `p99 ms @${values.rate}`,
    'achieved/s',
    'Redis µs/req',
  ];
  console.log(`${'round'.padEnd(6)}${'receiver'.padEnd(10)}${head.map((h) => h.padStart(14)).join('')}`);
  const ratios = rounds.map(({ project, minimal }, round) => {
    for (const [name, f] of [
      ['minimal', minimal],
      ['project', project],
    ] as const) {
      const cells = [
        f.rps.toFixed(0),
        f.cpuPerRequest.toFixed(0),
        f.cpuPerRequestAtRate.toFixed(0),
        f.p50.toFixed(2),
        f.p99.toFixed(2),
        f.achievedRate.toFixed(0),
        f.redisPerRequest.toFixed(0),
      ];
      console.log(`${String(round + 1).padEnd(6)}${name.padEnd(10)}${cells.map((c) => c.padStart(14)).join('')}`);
    }
    return {
      rps: project.rps / minimal.rps,
      p99: project.p99 / minimal.p99,
      cpu: project.cpuPerRequest / minimal.cpuPerRequest,
      cpuAtRate: project.cpuPerRequestAtRate / minimal.cpuPerRequestAtRate,
      redis: project.redisPerRequest / minimal.redisPerRequest,
    };
  });
  if (ratios.length > 0) {
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
    };
    const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    const rps = ratios.map((r) => r.rps);
    const p99 = ratios.map((r) => r.p99);
    const cpu = ratios.map((r) => r.cpu);
    const cpuAtRate = ratios.map((r) => r.cpuAtRate);
    const redis = ratios.map((r) => r.redis);
    const ok = median(rps) >= 0.9 && median(p99) <= 1.2;
    console.log(
      `\nsummary (median of ${ratios.length} round${ratios.length === 1 ? '' : 's'}, range in brackets): project ` +
        `${median(rps).toFixed(2)}x the minimal receiver's req/s [${spread(rps)}] (target >= 0.9), p99 at ${values.rate}/s ` +
        `${median(p99).toFixed(2)}x its p99 [${spread(p99)}] (target <= 1.2), CPU ${median(cpu).toFixed(2)}x per request ` +
        `[${spread(cpu)}] (${median(cpuAtRate).toFixed(2)}x at ${values.rate}/s [${spread(cpuAtRate)}]), Redis's CPU ${median(redis).toFixed(2)}x per request [${spread(redis)}]: ${ok ? 'targets met' : 'targets NOT met'}`,
    );
  }
}
