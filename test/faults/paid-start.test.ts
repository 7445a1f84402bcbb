/**
 * Fault matrix: the worker dies right after AdCreative.ai accepted a paid start (the proxy
 * forwards the start, then SIGKILLs the worker that sent it before relaying the answer). The
 * generation id is in the lost answer only; the cycle resumed by another worker must adopt that
 * generation rather than pay for a second one (issue 11, point 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';
import type { ServiceProcess } from './fleet.ts';

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
    const killed = new Set<ServiceProcess>();
    /** Accepted starts the rig let through, and why: named in the failure message. */
    const spared: string[] = [];
    rig.adcProxy?.add({
      name: 'kill the worker once the photoshoot start is accepted',
      method: 'POST',
      path: /\/ProductGeneration\/AdCreative$/,
      action: { kind: 'forward' },
      onAnswered: async (request, status) => {
        // The start is multipart; its prompt carries the task's product code.
        const task = tasks.find((id) => request.body.includes(rig.productCode(id)));
        const worker = task ? rig.fleet.lastOwnerOf(task) : undefined;
        if (status !== 200 || !task || killedFor.has(task)) return;
        // A worker runs two cycles at once: when both of its starts are accepted together, the
        // second answer goes to a worker already killed for the first, and is lost with it.
        if (!worker || (!worker.alive() && !killed.has(worker))) {
          spared.push(`${task}: ${worker ? `${worker.name} had exited` : 'no worker had logged about it'}`);
          return;
        }
        killedFor.add(task);
        if (!killed.has(worker)) {
          killed.add(worker);
          void rig.fleet.replace(worker, 'SIGKILL');
        }
        await worker.log.exited;
      },
    });
    await rig.deliverAll(tasks);

    const verdict = await rig.verdict(tasks);
    expect(killedFor.size, spared.join('\n')).toBe(3);
    expect(defects(verdict)).toEqual(noDefects);
  });
});
