/**
 * Budget use on a burst: the Creative Force simulator with its rule of 20 requests in any rolling
 * 1000 ms per IP (counted at arrival, refused ones included), a receiver (`serve`) and worker
 * (`work`) processes spawned from src/cli.ts as production runs them, real Redis, and a burst of
 * `convert` tasks whose webhooks arrive at once. Once every task is submitted and the queue is
 * idle it prints, from the simulator's own call log: our calls per second to the gateway (token
 * requests included), their share of what the limit leaves us, the most calls in any rolling
 * 1000 ms as the simulator saw them, the 429s and their share, tasks per second and gateway calls
 * per task. Then the same burst again with the fixed rate of before (the baseline, same run).
 *
 *   node bench/burst.ts [--mode default|ceiling-high|foreign] [--tasks 200] [--workers 2]
 *                       [--concurrency 4] [--rps 20] [--baseline 18|none] [--workspaces 1]
 *
 * Modes: `default`, the simulator's limit is 20/s; `ceiling-high`, the simulator allows 15/s while
 * the service's ceiling stays 20 (a ceiling set too high, or CF counting differently); `foreign`,
 * a second client on the same IP (this process) spends 5 req/s of the 20 with cheap gateway calls.
 * `--rps` is CF_RATE_LIMIT_RPS of the learned-rate run; `--baseline` the fixed rate of the
 * baseline run, the service as it was before the learned rate and the shared calls
 * (CF_RATE_LIMIT_ADAPTIVE=false, CF_SHARED_CALLS=false), `none` to skip it. `--concurrency` is
 * each worker's WORKER_CONCURRENCY. `--workspaces` is how many workspaces (Creative Force
 * clientIds: a studio's clients or brands) the burst's tasks belong to, in turn: 1 by default, a
 * burst of one studio's one client, where the pre-signed URL call can be shared by every task;
 * with as many workspaces as tasks, only bulk-get-assets is.
 *
 * The simulator times arrivals on this process's event loop (the webhooks are sent from a child,
 * send-webhooks.ts): a stalled loop bunches arrivals, so how late the loop ran is printed beside the
 * windows, and the workers' own send times (test/faults/sent-requests.ts) beside the simulator's. Not a test:
 * nothing is asserted; the last line is a summary.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { request } from 'undici';
import { signatureHeader } from '../src/creative-force/contract.ts';
import { cycleQueueName } from '../src/queue/cycle-job.ts';
import { maxInWindow } from '../src/simulators/creative-force/rate-limit.ts';
import { Fleet } from '../test/faults/fleet.ts';
import { loopLag, loopLagMonitor } from '../test/helpers/loop-lag.ts';
import { onInterrupt } from '../test/helpers/on-interrupt.ts';
import { photoInput } from '../test/helpers/photo-input.ts';
import { producerRedis } from '../test/helpers/redis.ts';
import { startStack } from '../test/helpers/stack.ts';

const modes = ['default', 'ceiling-high', 'foreign'] as const;
type Mode = (typeof modes)[number];

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'default' },
    tasks: { type: 'string', default: '200' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '4' },
    rps: { type: 'string', default: '20' },
    baseline: { type: 'string', default: '18' },
    workspaces: { type: 'string', default: '1' },
  },
});
const mode = args.mode as Mode;
if (!modes.includes(mode)) throw new Error(`--mode must be one of ${modes.join(', ')}, got ${args.mode}`);
const taskCount = Number(args.tasks);
const workerCount = Number(args.workers);
const workspaceCount = Number(args.workspaces);
if (!Number.isInteger(workspaceCount) || workspaceCount < 1) {
  throw new Error(`--workspaces must be a whole number of at least 1, got ${args.workspaces}`);
}
const workspaces = Array.from({ length: workspaceCount }, () => randomUUID());

/** The simulator's limit by mode, and what a foreign client on the same IP spends of it. */
const simLimit = mode === 'ceiling-high' ? 15 : 20;
const foreignRps = mode === 'foreign' ? 5 : 0;
/** What the limit leaves the service: the budget utilisation is measured against. */
const available = simLimit - foreignRps;
/** The foreign client's path: a gateway path no route has, answered 401 without a token (cheap, counted). */
const foreignPath = '/v1/foreign-client/ping';

interface RunResult {
  label: string;
  calls: number;
  seconds: number;
  callsPerSecond: number;
  utilisation: number;
  maxWindowAll: number;
  maxWindowOurs: number;
  /** The most of our calls in any 1000 ms by the service processes' own clocks (as sent). */
  maxWindowSent: number;
  count429: number;
  tasksPerSecond: number;
  callsPerTask: number;
  failedTasks: number;
  cfRateLimitedAttempts: number;
  /** Our calls in each 5 s from the first, as calls/s. */
  perFiveSeconds: number[];
  /** When the 429s were answered, s from our first call. */
  at429: number[];
  /** How late this process's event loop ran (where the simulator times arrivals): p99 and max. */
  loopLagMs: { p99: number; max: number };
}

async function run(label: string, env: Record<string, string>): Promise<RunResult> {
  const stack = await startStack('burst', {
    simulator: { rateLimitPerSecond: simLimit },
    env: { LOG_LEVEL: 'info', WORKER_CONCURRENCY: args.concurrency, CF_REQUEST_TIMEOUT_MS: '10000', ...env },
  });
  const forgetInterrupt = onInterrupt(() => stack.close());
  // sent-requests.ts: each process logs when it sent each request, on its own clock.
  const fleet = new Fleet(stack, ['--import', resolve('test/faults/sent-requests.ts')]);
  const sent: number[] = [];
  let measuring = false;
  const gatewayPath = new URL(stack.sim.apiBaseUrl).pathname;
  const tokenPath = new URL(stack.sim.tokenUrl).pathname;
  const queueRedis = producerRedis(stack.env.REDIS_URL);
  const queue = new Queue(cycleQueueName, { connection: queueRedis, prefix: stack.prefix });
  let cfRateLimitedAttempts = 0;
  fleet.onLine((_, line) => {
    if (line.msg === 'request sent' && measuring && line.origin === stack.sim.baseUrl && line.at !== undefined) {
      if (line.path?.startsWith(gatewayPath) || line.path === tokenPath) sent.push(line.at);
      return;
    }
    if ((line as { err?: { code?: string } }).err?.code === 'CF_RATE_LIMITED' && line.msg.startsWith('cycle')) {
      cfRateLimitedAttempts += 1;
    }
  });
  const loopDelay = loopLagMonitor();
  let foreign: Promise<void> | undefined;
  let stopForeign = false;
  try {
    const [receiver] = await Promise.all([
      fleet.start('serve'),
      ...Array.from({ length: workerCount }, () => fleet.start('work')),
    ]);
    const input = await photoInput('Front', 200, 200);
    const tasks = Array.from(
      { length: taskCount },
      (_, i) =>
        stack.sim.addTask({
          clientId: workspaces[i % workspaces.length],
          inputs: [input],
          slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
        }).taskProcessId,
    );
    // The foreign client: evenly spaced calls on the same IP, from before the burst to its end.
    if (foreignRps > 0) {
      foreign = (async () => {
        const next = { at: performance.now() };
        while (!stopForeign) {
          await request(`${stack.sim.baseUrl}${foreignPath}`).then((r) => r.body.dump());
          next.at += 1000 / foreignRps;
          await sleep(Math.max(0, next.at - performance.now()));
        }
      })();
      await sleep(2_000);
    }
    stack.sim.resetCallLog();
    measuring = true;
    loopDelay.enable();
    const started = performance.now();
    const webhookUrl = stack.webhookUrl(receiver.port);
    // Creative Force sends the burst's webhooks as fast as the receiver answers, 20 at a time:
    // from a child process (send-webhooks.ts), so that this event loop only runs the simulator.
    const webhooks = tasks.map((id) => {
      const body = JSON.stringify(stack.sim.webhookPayload(id));
      return {
        body,
        headers: { 'content-type': 'application/json', [signatureHeader]: stack.sim.signWebhook(body, stack.secret) },
      };
    });
    const sender = fork(resolve('bench/send-webhooks.ts'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const refused = await new Promise<number[]>((done, fail) => {
      sender.once('message', (m) => done(m as number[]));
      sender.once('exit', (code) => fail(new Error(`the webhook sender exited (${code}) before it answered`)));
      sender.send({ url: webhookUrl, webhooks });
    });
    if (refused.length > 0)
      throw new Error(`${refused.length} webhooks were not answered 202: ${refused.slice(0, 5).join(', ')}`);
    // Settled: submitted, or reported failed; then nothing queued, delayed or running.
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      const settled = new Set([...stack.sim.submissions(), ...stack.sim.statusUpdates()].map((r) => r.taskProcessId));
      if (settled.size >= taskCount) break;
      if (Date.now() > deadline) throw new Error(`only ${settled.size} of ${taskCount} tasks settled`);
      // Seldom: the simulator times arrivals on this event loop, and these reads copy its records.
      await sleep(500);
    }
    const finished = performance.now();
    for (;;) {
      const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      if (Object.values(counts).every((n) => n === 0)) break;
      await sleep(100);
    }
    loopDelay.disable();
    const log = stack.sim.callLog();
    const ours = log.filter((e) => e.path !== foreignPath);
    const times = ours.map((e) => e.at);
    const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
    const failedTasks = new Set(stack.sim.statusUpdates().map((s) => s.taskProcessId)).size;
    return {
      label,
      calls: ours.length,
      seconds,
      callsPerSecond: ours.length / seconds,
      utilisation: ours.length / seconds / available,
      maxWindowAll: maxInWindow(
        log.map((e) => e.at),
        1000,
      ),
      maxWindowOurs: maxInWindow(times, 1000),
      maxWindowSent: maxInWindow(sent, 1000),
      count429: ours.filter((e) => e.status === 429).length,
      tasksPerSecond: taskCount / ((finished - started) / 1000),
      callsPerTask: ours.length / taskCount,
      failedTasks,
      cfRateLimitedAttempts,
      perFiveSeconds: Array.from(
        { length: Math.ceil(seconds / 5) },
        (_, i) => times.filter((t) => t - (times[0] ?? 0) >= i * 5000 && t - (times[0] ?? 0) < (i + 1) * 5000).length / 5,
      ),
      at429: ours.filter((e) => e.status === 429).map((e) => (e.at - (times[0] ?? 0)) / 1000),
      loopLagMs: loopLag(loopDelay),
    };
  } finally {
    stopForeign = true;
    await foreign;
    await queue.close();
    queueRedis.disconnect();
    await stack.close();
    forgetInterrupt();
  }
}

function print(r: RunResult): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  console.log(`\n${r.label}`);
  console.log(`  gateway calls (token included): ${r.calls} in ${r.seconds.toFixed(1)} s`);
  console.log(`  calls/s:                        ${r.callsPerSecond.toFixed(2)}`);
  console.log(
    `  utilisation of what is left:    ${r.utilisation.toFixed(3)} (of ${available}/s${foreignRps ? `: ${simLimit} less ${foreignRps} foreign` : ''})`,
  );
  console.log(
    `  most calls in any 1000 ms:      ${r.maxWindowAll} at the simulator${foreignRps ? ` (ours alone ${r.maxWindowOurs})` : ''}; limit ${simLimit}`,
  );
  console.log(`  ... as the workers sent them:   ${r.maxWindowSent} of ours (their own clocks)`);
  console.log(`  429s:                           ${r.count429} (${pct(r.count429 / r.calls)} of our calls)`);
  console.log(`  429s at (s):                    ${r.at429.map((t) => t.toFixed(1)).join(' ') || '-'}`);
  console.log(`  calls/s by 5 s:                 ${r.perFiveSeconds.map((n) => n.toFixed(1)).join(' ')}`);
  console.log(`  tasks/s:                        ${r.tasksPerSecond.toFixed(2)}`);
  console.log(`  gateway calls per task:         ${r.callsPerTask.toFixed(2)}`);
  console.log(`  tasks failed / CF_RATE_LIMITED: ${r.failedTasks} / ${r.cfRateLimitedAttempts} cycle attempts`);
  console.log(`  event loop lag here (p99 / max): ${r.loopLagMs.p99.toFixed(0)} / ${r.loopLagMs.max.toFixed(0)} ms`);
}

console.log(
  `burst bench: ${taskCount} convert tasks, serve + ${workerCount} work x ${args.concurrency} cycles, ${workspaces.length} workspace(s), mode ${mode}: simulator limit ${simLimit}/s` +
    (foreignRps ? `, a foreign client on the same IP at ${foreignRps}/s` : ''),
);
const results: RunResult[] = [];
const learned = await run(`learned rate, shared calls (CF_RATE_LIMIT_RPS=${args.rps}, the ceiling)`, {
  CF_RATE_LIMIT_RPS: String(args.rps),
  CF_RATE_LIMIT_ADAPTIVE: 'true',
});
print(learned);
results.push(learned);
if (args.baseline !== 'none') {
  const fixed = await run(
    `baseline: fixed rate, no shared calls (CF_RATE_LIMIT_RPS=${args.baseline}, CF_RATE_LIMIT_ADAPTIVE=false, CF_SHARED_CALLS=false)`,
    { CF_RATE_LIMIT_RPS: String(args.baseline), CF_RATE_LIMIT_ADAPTIVE: 'false', CF_SHARED_CALLS: 'false' },
  );
  print(fixed);
  results.push(fixed);
}
console.log(
  `\nsummary: mode ${mode}, ${taskCount} tasks: ` +
    results
      .map(
        (r) =>
          `${r.label.split(' (')[0]} ${r.utilisation.toFixed(3)} of ${available}/s, ${r.count429} x 429 ` +
          `(${((r.count429 / r.calls) * 100).toFixed(2)} %), max window ${r.maxWindowAll}, ${r.tasksPerSecond.toFixed(2)} tasks/s`,
      )
      .join('; '),
);
