/**
 * Fault matrix: SIGTERM while every cycle of a worker is stuck in a transfer that outlasts the
 * shutdown deadline, on the cycles' last attempt (CYCLE_ATTEMPTS=1). The cycles must go back to
 * the queue without using their attempt, and the next worker must finish them: nothing may stay
 * "In Progress" in Creative Force unreported (issue 11, point 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';

describe('fault matrix: SIGTERM past the shutdown deadline on a last attempt', () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({
      name: 'fault-sigterm',
      env: { CYCLE_ATTEMPTS: '1', SHUTDOWN_TIMEOUT_MS: '300', WORKER_CONCURRENCY: '4' },
    });
    await rig.startReceiver();
  });
  afterAll(() => rig.close());

  it('hands the stopped cycles back without using their only attempt; the next worker finishes them', async () => {
    const [first] = await rig.startWorkers(1);
    if (!first) throw new Error('no worker');
    const tasks = [...(await rig.addTasks(3, 'convert')), ...(await rig.addTasks(1, 'unreadable'))];
    let hung = 0;
    const stopHanging = rig.cfProxy.add({
      name: 'hang the input downloads',
      method: 'GET',
      path: /^\/s3\/cf-sim-assets\//,
      action: { kind: 'hang' },
      onArrival: () => {
        hung += 1;
      },
    });
    await rig.deliverAll(tasks);
    await rig.until('every cycle to hang in its download', () => hung === tasks.length);

    stopHanging();
    const stoppedAt = Date.now();
    expect(await rig.fleet.kill(first, 'SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    const handedBack = first.log.lines.filter(
      (l) => l.msg === 'cycle stopped by the shutdown; back in the queue, without using an attempt',
    );
    expect(handedBack).toHaveLength(tasks.length);

    await rig.startWorkers(1);
    const verdict = await rig.verdict(tasks);
    expect(defects(verdict)).toEqual(noDefects);
    expect(verdict.reportedInstead).toEqual([]);
  });
});
