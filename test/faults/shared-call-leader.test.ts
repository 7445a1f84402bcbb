/**
 * Fault matrix: the worker leading a shared bulk-get-assets call (src/creative-force/
 * shared-calls.ts) is SIGKILLed once Creative Force has answered, before the answer reaches it. The
 * other cycles of that call, in another process, must not be lost: once the dead leader's lease
 * expires they make the call themselves; the killed worker's own cycle resumes elsewhere.
 *
 * Three workers run one cycle each, so the shared call necessarily carries requests of two
 * processes: the first task's webhook goes alone, its call is held at the proxy, the other two
 * tasks are delivered then and queue behind it in Redis, and the next leader takes both.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { producerRedis, redisUrl } from '../helpers/redis.ts';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';
import type { ServiceProcess } from './fleet.ts';

const bulkGetAssets = /\/assets\/bulk-get-assets$/;

describe('fault matrix: SIGKILL of the leader of a shared call', () => {
  let rig: FaultRig;
  let redis: Redis;
  beforeAll(async () => {
    rig = await FaultRig.start({ name: 'fault-shared-leader', env: { WORKER_CONCURRENCY: '1' } });
    redis = producerRedis(redisUrl);
    await Promise.all([rig.startReceiver(), rig.startWorkers(3)]);
  });
  afterAll(async () => {
    redis.disconnect();
    await rig.close();
  });

  it('completes every task of a shared call whose leader was killed', async () => {
    const tasks = await rig.addTasks(3, 'convert');
    const pending = `${rig.stack.prefix}:share:assets:acme:pending`;
    const senders: ServiceProcess[] = [];
    const orphans: string[] = [];
    const stop = rig.fleet.onLine((process, line) => {
      if (line.msg === 'request sent' && line.path !== undefined && bulkGetAssets.test(line.path)) senders.push(process);
      if (line.msg === 'the leader of a shared call is gone: making the call alone') orphans.push(process.name);
    });
    let sharedIds = 0;
    let killed: ServiceProcess | undefined;
    let firstHeld = (): void => {};
    const held = new Promise<void>((resolve) => {
      firstHeld = resolve;
    });
    rig.cfProxy.add({
      name: 'hold the first bulk-get-assets until the two other tasks wait behind it',
      method: 'POST',
      path: bulkGetAssets,
      times: 1,
      action: { kind: 'forward' },
      onArrival: () => {
        firstHeld();
        return rig.until('two requests queued behind the leader', async () => (await redis.llen(pending)) === 2);
      },
    });
    rig.cfProxy.add({
      name: 'kill the leader of the shared call once Creative Force has answered',
      method: 'POST',
      path: bulkGetAssets,
      when: ({ body }) => (JSON.parse(body.toString()) as string[]).length > 1,
      times: 1,
      action: { kind: 'forward' },
      onAnswered: async ({ body }) => {
        sharedIds = (JSON.parse(body.toString()) as string[]).length;
        // The held call was the first one sent; this is the second.
        await rig.until('the sender of the shared call', () => senders.length >= 2);
        killed = senders[1];
        if (!killed) return;
        void rig.fleet.replace(killed, 'SIGKILL');
        await killed.log.exited;
      },
    });
    try {
      // The first task alone, so that its call carries only its own request (delivered together,
      // all three could be gathered into the first call).
      const [first, ...others] = tasks;
      if (first === undefined) throw new Error('no task');
      await rig.deliver(first);
      await held;
      await rig.deliverAll(others);
      const verdict = await rig.verdict(tasks);
      expect(defects(verdict)).toEqual(noDefects);
      expect(verdict.reportedInstead).toEqual([]);
      expect(sharedIds).toBe(2);
      expect(killed).toBeDefined();
      // The other cycle of the shared call, in a process that lived, made the call itself.
      expect(orphans.length).toBeGreaterThan(0);
      expect(orphans).not.toContain(killed?.name);
    } finally {
      stop();
    }
  });
});
