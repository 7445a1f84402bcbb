/**
 * Fault matrix: a worker is SIGKILLed at each step boundary, on its own "step started" line, once
 * per task; another worker picks the cycle up when its lock expires and resumes it from its
 * checkpoint. Workers run one cycle each, so a kill stops exactly one cycle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleSteps } from '../../src/cycle/checkpoint.ts';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';

describe('fault matrix: SIGKILL of a worker at each step boundary', () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ name: 'fault-steps', env: { WORKER_CONCURRENCY: '1' } });
    await Promise.all([rig.startReceiver(), rig.startWorkers(2)]);
  });
  afterAll(() => rig.close());

  it.each(cycleSteps)('resumes every cycle killed as it starts %s', async (step) => {
    const tasks = [...(await rig.addTasks(3, 'convert')), ...(await rig.addTasks(1, 'unreadable'))];
    const killed = new Set<string>();
    const stop = rig.fleet.onLine((worker, line) => {
      const task = line.taskProcessId ?? '';
      if (line.msg !== 'step started' || line.step !== step || !tasks.includes(task) || killed.has(task)) return;
      killed.add(task);
      void rig.fleet.replace(worker, 'SIGKILL');
    });
    try {
      await rig.deliverAll(tasks);
      const verdict = await rig.verdict(tasks);
      expect(defects(verdict)).toEqual(noDefects);
      expect(verdict.reportedInstead).toEqual([]);
      // The unreadable input fails in process-assets: it never reaches the later steps.
      const reached = cycleSteps.indexOf(step) <= cycleSteps.indexOf('process-assets') ? 4 : 3;
      expect(killed.size).toBe(reached);
    } finally {
      stop();
    }
  });
});
