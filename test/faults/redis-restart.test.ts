/**
 * Fault matrix: the Redis of the queue (a redis-server of the test's own, AOF with fsync every
 * second, as in production) restarts in the middle of a batch: killed (SIGKILL; what the AOF had
 * written to the file survives a process kill) or shut down (SHUTDOWN NOSAVE). Webhooks sent while it is down are
 * answered 503 and delivered again, as Creative Force does; cycles under way carry on once it is
 * back, from what the AOF kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';

describe('fault matrix: a Redis restart with AOF in the middle of a batch', () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ name: 'fault-redis', ownRedis: true });
    await Promise.all([rig.startReceiver(), rig.startWorkers(2)]);
  });
  afterAll(() => rig.close());

  it.each(['kill', 'shutdown'] as const)(
    'loses no accepted webhook and submits each task once across a restart (%s)',
    async (how) => {
      const redis = rig.redis;
      if (!redis) throw new Error('the rig has no Redis of its own');
      const before = [...(await rig.addTasks(6, 'convert')), ...(await rig.addTasks(1, 'unreadable'))];
      const during = await rig.addTasks(3, 'convert');
      const tasks = [...before, ...during];
      const first = rig.deliverAll(before);
      await rig.until('the batch to be under way', () => before.filter((id) => rig.submissions(id) > 0).length >= 2);

      await redis.stop(how);
      // Some cycles are still to do; webhooks sent now are turned away until Redis is back.
      expect(tasks.filter((id) => rig.submissions(id) > 0).length).toBeLessThan(tasks.length - 1);
      const late = rig.deliverAll(during);
      await rig.until('a webhook turned away', () => during.some((id) => rig.answers(id).includes(503)));
      await redis.startAgain();
      await Promise.all([first, late]);

      const verdict = await rig.verdict(tasks);
      expect(defects(verdict)).toEqual(noDefects);
      expect(verdict.reportedInstead).toEqual([]);
    },
  );
});
