/**
 * The fault soak: hundreds of tasks through real processes (one receiver, three workers), a Redis
 * of its own with AOF, and the Creative Force and AdCreative.ai simulators behind fault proxies.
 * A worker is killed every 1-3 s (SIGKILL, sometimes SIGTERM) and replaced; Redis is restarted
 * twice in the middle (SIGKILL, then SHUTDOWN NOSAVE); the proxies inject 500s, resets, hangs,
 * delays and lost answers at a low rate, Creative Force answers 429 to everything for 2 s once
 * and later expires every access token. Some tasks are reworked by the reviewer, some are built to fail. Once the system is idle
 * the checker judges every task from the simulators' records and the matrix is printed.
 *
 *   node bench/faults.ts [--tasks 500] [--workers 3] [--photoshoot 0.1] [--rework 0.1] [--failing 0.02]
 *
 * Exits 1 when the matrix shows a defect. Not part of CI (it takes minutes); the bounded set of
 * scenarios is test/faults/*.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { defects, formatMatrix } from '../test/faults/checker.ts';
import type { FaultAction, FaultRule } from '../test/faults/fault-proxy.ts';
import { FaultRig, type TaskKind } from '../test/faults/fault-rig.ts';
import { loopLag, loopLagMonitor } from '../test/helpers/loop-lag.ts';
import { onInterrupt } from '../test/helpers/on-interrupt.ts';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '500' },
    workers: { type: 'string', default: '3' },
    photoshoot: { type: 'string', default: '0.1' },
    rework: { type: 'string', default: '0.1' },
    failing: { type: 'string', default: '0.02' },
  },
});
const taskCount = Number(args.tasks);
const workerCount = Number(args.workers);

/** A rule acting on a share of the requests it matches, at random. */
function sometimes(share: number, name: string, method: string, path: RegExp, action: FaultAction): FaultRule {
  return { name, method, path, action, when: () => Math.random() < share };
}

const between = (min: number, max: number) => min + Math.random() * (max - min);

const rig = await FaultRig.start({
  name: 'soak',
  ownRedis: true,
  adcreative: { taskDurationMs: 1_000 },
  env: {
    WORKER_CONCURRENCY: '4',
    WORKER_LOCK_DURATION_MS: '3000',
    // A cycle's workers are killed often here: it may be caught by several kills before it ends.
    WORKER_MAX_STALLED_COUNT: '5',
    CYCLE_BACKOFF_MS: '500',
  },
});
const forgetInterrupt = onInterrupt(() => rig.close());
const started = Date.now();
// The proxies and simulators run in this process and time each request as this event loop gets to
// it: a stalled loop bunches arrivals. How late it ran is printed next to the windows to read them by.
const loopDelay = loopLagMonitor();
loopDelay.enable();
const kills = { SIGKILL: 0, SIGTERM: 0 };
let redisRestarts = 0;
let stopKilling = false;
try {
  for (const rule of [
    sometimes(0.02, 'token 500', 'POST', /^\/connect\/token$/, { kind: 'status', status: 500 }),
    sometimes(0.03, 'process detail 500', 'GET', /^\/v1\/cloud-automation\/task-processes\/[^/]+$/, {
      kind: 'status',
      status: 500,
    }),
    sometimes(0.02, 'process detail reset', 'GET', /^\/v1\/cloud-automation\/task-processes\/[^/]+$/, { kind: 'drop-before' }),
    sometimes(0.02, 'bulk-get-assets hang', 'POST', /\/assets\/bulk-get-assets$/, { kind: 'hang' }),
    sometimes(0.02, 'presign 503', 'POST', /\/assets\/get-presigned-url$/, { kind: 'status', status: 503 }),
    sometimes(0.05, 'submit answer lost', 'POST', /\/submit-output$/, { kind: 'drop-after' }),
    sometimes(0.02, 'submit 500 (not forwarded)', 'POST', /\/submit-output$/, { kind: 'status', status: 500 }),
    sometimes(0.2, 'status answer lost', 'PUT', /\/status$/, { kind: 'drop-after' }),
    sometimes(0.03, 's3 download 500', 'GET', /^\/s3\//, { kind: 'status', status: 500 }),
    sometimes(0.03, 's3 download delay', 'GET', /^\/s3\//, { kind: 'delay', ms: 1_500 }),
    sometimes(0.03, 's3 upload answer lost', 'PUT', /^\/s3\//, { kind: 'drop-after' }),
    sometimes(0.02, 's3 upload 503', 'PUT', /^\/s3\//, { kind: 'status', status: 503 }),
  ]) {
    rig.cfProxy.add(rule);
  }
  for (const rule of [
    sometimes(0.05, 'adcreative start answer lost', 'POST', /\/ProductGeneration\/AdCreative$/, { kind: 'drop-after' }),
    sometimes(0.05, 'adcreative progress 500', 'GET', /\/CheckUserProgress$/, { kind: 'status', status: 500 }),
    sometimes(0.03, 'adcreative download reset', 'GET', /\/Download$/, { kind: 'drop-after' }),
    sometimes(0.03, 'adcreative recommendations 502', 'POST', /\/Recommendations$/, { kind: 'status', status: 502 }),
  ]) {
    rig.adcProxy?.add(rule);
  }

  await Promise.all([rig.startReceiver(), rig.startWorkers(workerCount)]);

  // The tasks: mostly convert, some paid photoshoots, some built to fail; some are reworked.
  const tasks: string[] = [];
  const kinds = new Map<TaskKind, number>();
  const reworked = new Set<string>();
  for (let i = 0; i < taskCount; i += 1) {
    const roll = Math.random();
    const kind: TaskKind =
      roll < Number(args.failing)
        ? 'unreadable'
        : roll < Number(args.failing) + Number(args.photoshoot)
          ? 'photoshoot'
          : 'convert';
    const rework = kind !== 'unreadable' && Math.random() < Number(args.rework);
    const id = await rig.addTask(kind, kind === 'convert' && rework ? 2 : 1);
    tasks.push(id);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    if (rework) reworked.add(id);
  }

  // The killer: a random worker every 1-3 s, replaced at once.
  const killer = (async () => {
    while (!stopKilling) {
      await sleep(between(1_000, 3_000));
      const workers = rig.fleet.workers();
      const victim = workers[Math.floor(Math.random() * workers.length)];
      if (stopKilling || !victim) continue;
      const signal = Math.random() < 0.1 ? 'SIGTERM' : 'SIGKILL';
      kills[signal] += 1;
      void rig.fleet.replace(victim, signal);
    }
  })();

  // The reviewer: 1-3 s after a reworked task's first submission, rejects one output.
  const reviews: Promise<unknown>[] = [];
  const reviewer = (async () => {
    const waiting = new Set(reworked);
    while (!stopKilling && waiting.size > 0) {
      const { submissions } = rig.settledCounts();
      for (const id of waiting) {
        if (!submissions.has(id)) continue;
        waiting.delete(id);
        reviews.push(sleep(between(1_000, 3_000)).then(() => rig.rework(id)));
      }
      await sleep(200);
    }
  })();

  // Redis restarts a third and two thirds of the way through.
  const restarts = (async () => {
    for (const [share, how] of [
      [1 / 3, 'kill'],
      [2 / 3, 'shutdown'],
    ] as const) {
      await rig.until(
        `${Math.round(share * 100)}% of the tasks submitted`,
        () => rig.settledCounts().submissions.size >= share * taskCount,
        30 * 60_000,
        500,
      );
      await rig.redis?.restart(how, between(1_000, 2_000));
      redisRestarts += 1;
    }
  })();

  // A 2 s storm of 429s once, early on; later every access token expires at once (401, renewal).
  const storm = sleep(20_000).then(() => rig.sim.forceRateLimit(2_000));
  const expiry = sleep(40_000).then(() => rig.sim.expireTokens());

  // Progress on stderr every 10 s.
  const progress = setInterval(() => {
    void rig.queue
      .getJobCounts('active', 'waiting', 'delayed')
      .catch(() => 'Redis unreachable')
      .then((counts) => {
        const { submissions, reports } = rig.settledCounts();
        const submitted = submissions.size;
        const reported = reports.size;
        process.stderr.write(
          `${((Date.now() - started) / 1000).toFixed(0)} s: ${submitted} submitted, ${reported} reported of ${taskCount}; ` +
            `workers ${rig.fleet.workers().length} (+${rig.fleet.starting} starting); kills ${kills.SIGKILL + kills.SIGTERM}; queue ${JSON.stringify(counts)}\n`,
        );
      });
  }, 10_000);

  // Creative Force sends the webhooks as tasks become ready: 20 deliveries at a time.
  const queue = [...tasks];
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await rig.deliver(id, 10 * 60_000);
    }),
  );

  // Killing stops once every task is settled in Creative Force, or nothing is left to run.
  const settled = () => {
    const { submissions, reports } = rig.settledCounts();
    return tasks.every((id) => reports.has(id) || (submissions.get(id) ?? 0) >= (reworked.has(id) ? 2 : 1));
  };
  await rig.until(
    'every task to settle',
    async () => {
      if (settled()) return true;
      const counts = await rig.queue.getJobCounts('active', 'waiting', 'delayed').catch(() => undefined);
      return counts !== undefined && Object.values(counts).every((n) => n === 0) && rig.fleet.starting === 0;
    },
    30 * 60_000,
    500,
  );
  stopKilling = true;
  clearInterval(progress);
  await Promise.all([killer, reviewer, restarts, storm, expiry]);
  await Promise.all(reviews);

  const verdict = await rig.verdict(undefined, 10 * 60_000);
  const lag = loopLag(loopDelay);
  const injected = new Map<string, number>();
  for (const entry of [...rig.cfProxy.log(), ...(rig.adcProxy?.log() ?? [])]) {
    if (entry.fault) injected.set(entry.fault, (injected.get(entry.fault) ?? 0) + 1);
  }
  process.stdout.write(
    `${formatMatrix(verdict, {
      duration: `${((Date.now() - started) / 1000).toFixed(1)} s`,
      'tasks: convert / photoshoot / built to fail': (['convert', 'photoshoot', 'unreadable'] as const)
        .map((k) => kinds.get(k) ?? 0)
        .join(' / '),
      reworks: reworked.size,
      'workers killed (SIGKILL / SIGTERM)': `${kills.SIGKILL} / ${kills.SIGTERM}`,
      'redis restarts (SIGKILL, SHUTDOWN NOSAVE)': redisRestarts,
      'faults injected': [...injected.values()].reduce((a, b) => a + b, 0),
      'event loop lag here (p99 / max)': `${lag.p99.toFixed(0)} / ${lag.max.toFixed(0)} ms`,
    })}\n\nfaults injected by rule:\n${[...injected].map(([name, n]) => `  ${name.padEnd(32)} ${n}`).join('\n')}\n`,
  );
  const found = Object.values(defects(verdict)).some((list) => list.length > 0);
  process.exitCode = found ? 1 : 0;
} finally {
  stopKilling = true;
  await rig.close();
  forgetInterrupt();
}
