/**
 * Fault matrix: the worker dies right after AdCreative.ai accepted a paid start (the proxy
 * forwards the start, then SIGKILLs the worker that sent it before relaying the answer). The
 * generation id is in the lost answer only; the cycle resumed by another worker must adopt that
 * generation rather than pay for a second one (issue 11, point 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';

describe('fault matrix: SIGKILL at the paid start of an AI provider', () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ name: 'fault-paid-start', adcreative: { taskDurationMs: 300 } });
    await Promise.all([rig.startReceiver(), rig.startWorkers(2)]);
  });
  afterAll(() => rig.close());

  it('pays once for each generation when the worker is killed after the provider accepted the start', async () => {
    const tasks = await rig.addTasks(3, 'photoshoot');
    const killedFor = new Set<string>();
    rig.adcProxy?.add({
      name: 'kill the worker once the photoshoot start is accepted',
      method: 'POST',
      path: /\/ProductGeneration\/AdCreative$/,
      action: { kind: 'forward' },
      onAnswered: async (request, status) => {
        // The start is multipart; its prompt carries the task's product code.
        const task = tasks.find((id) => request.body.includes(rig.productCode(id)));
        const worker = task ? rig.fleet.ownerOf(task) : undefined;
        if (status !== 200 || !task || !worker || killedFor.has(task)) return;
        killedFor.add(task);
        void rig.fleet.replace(worker, 'SIGKILL');
        await worker.log.exited;
      },
    });
    await rig.deliverAll(tasks);

    const verdict = await rig.verdict(tasks);
    expect(killedFor.size).toBe(3);
    expect(defects(verdict)).toEqual(noDefects);
  });
});
