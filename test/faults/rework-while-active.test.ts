/**
 * Fault matrix: the worker dies the moment Creative Force accepted its Submit Output (the proxy
 * forwards the submission, then SIGKILLs the worker before relaying the answer). While the old job
 * is still active (its lock has not expired), the reviewer rejects one output and the rework
 * webhook comes. The rework must be produced, and the recovered old job must neither submit again
 * nor report a failure (issue 11, point 3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleJobData } from '../../src/queue/cycle-job.ts';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';

describe('fault matrix: a rework while the old job is still active', () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ name: 'fault-rework', env: { WORKER_CONCURRENCY: '1' } });
    await Promise.all([rig.startReceiver(), rig.startWorkers(2)]);
  });
  afterAll(() => rig.close());

  /** Whether the cycle job of a task process is active now. */
  async function active(taskProcessId: string): Promise<boolean> {
    const jobs = await rig.queue.getJobs(['active']);
    return jobs.some((job) => (job.data as CycleJobData).event?.TaskProcessId === taskProcessId);
  }

  it('produces every rework and never re-sends the stale submission', async () => {
    const tasks = await rig.addTasks(3, 'convert', 2);
    const reworks: Promise<{ activeWhenSent: boolean }>[] = [];
    const killedFor = new Set<string>();
    rig.cfProxy.add({
      name: 'kill the worker once its Submit Output is accepted',
      method: 'POST',
      path: /\/submit-output$/,
      action: { kind: 'forward' },
      onAnswered: async ({ path }, status) => {
        const task = tasks.find((id) => path.includes(id));
        const worker = task ? rig.fleet.ownerOf(task) : undefined;
        if (status !== 200 || !task || !worker || killedFor.has(task)) return;
        killedFor.add(task);
        const rework = (async () => {
          await rig.fleet.kill(worker, 'SIGKILL');
          void rig.fleet.start('work');
          // The reviewer acts at once, while the killed worker's lock still holds the old job.
          const activeWhenSent = await active(task);
          await rig.rework(task);
          return { activeWhenSent };
        })();
        reworks.push(rework);
        await rework;
      },
    });
    await rig.deliverAll(tasks);
    await rig.until('every first submission', () => killedFor.size === tasks.length);

    expect(await Promise.all(reworks)).toEqual(tasks.map(() => ({ activeWhenSent: true })));
    const verdict = await rig.verdict(tasks);
    expect(defects(verdict)).toEqual(noDefects);
    expect(verdict.reportedInstead).toEqual([]);
  });
});
