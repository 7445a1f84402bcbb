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
    // One cycle a worker: a kill then hits only the task whose start was accepted, at that start.
    // With two, the killed worker's other cycle died with it at whatever step it had reached (the
    // step-boundaries test covers those), and in two fresh-clone CI runs one task's start was then
    // never killed; which path it took is not known (the failure message now lists every answer).
    rig = await FaultRig.start({
      name: 'fault-paid-start',
      adcreative: { taskDurationMs: 300 },
      env: { WORKER_CONCURRENCY: '1' },
    });
    await Promise.all([rig.startReceiver(), rig.startWorkers(2)]);
  });
  afterAll(() => rig.close());

  it('pays once for each generation when the worker is killed after the provider accepted the start', async () => {
    const tasks = await rig.addTasks(3, 'photoshoot');
    const killedFor = new Set<string>();
    /** Every start the provider answered, and what the rig did: named in the failure message. */
    const answered: string[] = [];
    rig.adcProxy?.add({
      name: 'kill the worker once the photoshoot start is accepted',
      method: 'POST',
      path: /\/ProductGeneration\/AdCreative$/,
      action: { kind: 'forward' },
      onAnswered: async (request, status) => {
        // The start is multipart; its prompt carries the task's product code.
        const task = tasks.find((id) => request.body.includes(rig.productCode(id)));
        const worker = task ? rig.fleet.ownerOf(task) : undefined;
        const seen = `${task ?? '(no task of this test)'} answered ${status} for ${worker?.name ?? 'no live worker'}`;
        if (status !== 200 || !task || !worker || killedFor.has(task)) return void answered.push(`${seen}: let through`);
        answered.push(`${seen}: killed`);
        killedFor.add(task);
        void rig.fleet.replace(worker, 'SIGKILL');
        await worker.log.exited;
      },
    });
    await rig.deliverAll(tasks);

    const verdict = await rig.verdict(tasks);
    expect(defects(verdict)).toEqual(noDefects);
    // The rig's own check: it did kill at the paid start of every task.
    const reported = verdict.reportedInstead.map((line) => `reported instead of submitted: ${line}`);
    expect(killedFor.size, [...answered, ...reported].join('\n')).toBe(3);
  });
});
