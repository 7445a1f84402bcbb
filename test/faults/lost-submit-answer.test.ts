/**
 * Fault matrix: the answer to a Submit Output is lost (Creative Force accepted it, the connection
 * dropped before the answer). The retry must find the submission in the process detail and end
 * the cycle, never submit again or report a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defects, noDefects } from './checker.ts';
import { FaultRig } from './fault-rig.ts';

describe('fault matrix: a lost Submit Output answer', () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ name: 'fault-lost-submit' });
    await Promise.all([rig.startReceiver(), rig.startWorkers(2)]);
  });
  afterAll(() => rig.close());

  it('submits every task once when the first answer of each Submit Output is dropped after Creative Force acted', async () => {
    const seen = new Set<string>();
    rig.cfProxy.add({
      name: 'lose the first Submit Output answer of each task',
      method: 'POST',
      path: /\/submit-output$/,
      when: ({ path }) => !seen.has(path) && Boolean(seen.add(path)),
      action: { kind: 'drop-after' },
    });
    const tasks = [...(await rig.addTasks(4, 'convert')), ...(await rig.addTasks(1, 'unreadable'))];
    await rig.deliverAll(tasks);

    const verdict = await rig.verdict();
    expect(defects(verdict)).toEqual(noDefects);
    expect(rig.cfProxy.log().filter((c) => c.fault !== null && c.path.endsWith('/submit-output'))).toHaveLength(4);
  });
});
