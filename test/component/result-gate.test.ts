/**
 * The result gate end to end: a provider answers with bytes that are not what they claim, and
 * nothing of it reaches Creative Force but a clear failure report.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SartiqSimulator, sampleImage } from '../../src/simulators/index.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

describe('the result gate, end to end against the simulators', () => {
  let stack: Stack | undefined;
  let sartiq: SartiqSimulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await sartiq?.close();
  });

  it('never uploads a provider result that is text named as a JPEG, and reports the task with the file and the rule', async () => {
    sartiq = await SartiqSimulator.start({ predictionDurationMs: 200 });
    const credentials = { email: 'gate@studio.example', password: randomBytes(12).toString('hex') };
    sartiq.addAccount(credentials);
    stack = await startStack('result-gate', {
      recipe: 'sartiq-generate',
      subfunctionOptions: { pollIntervalMs: 100 },
      sartiq: { baseUrl: sartiq.baseUrl, credentials },
    });
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    // Every generated result the provider serves is an internal page's text, labelled image/jpeg.
    sartiq.failNext(
      { method: 'GET', pathIncludes: '/media/' },
      {
        status: 200,
        body: Buffer.from('<html><body>internal status page</body></html>'),
        headers: { 'content-type': 'image/jpeg' },
      },
      20,
    );
    const task = sim.addTask({
      inputs: [
        {
          positionName: 'Front',
          fileName: 'front.jpg',
          body: await sampleImage({ width: 400, height: 600, format: 'jpeg', label: 'Front' }),
        },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    const putsBefore = sim.s3Stats().puts;
    expect((await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret)).status).toBe(202);
    await stack.waitFor('the failure report', () => sim.statusUpdates(task.taskProcessId).length > 0, 60_000);
    await stack.idle(service);

    const [report, ...more] = sim.statusUpdates(task.taskProcessId);
    expect(more).toEqual([]);
    expect(report?.message).toContain('[OUTPUT_CHECK_FAILED]');
    expect(report?.message).toMatch(/slot 1_Front: the result check refused \S+: not a readable image .*\[unreadable\]/);
    expect(sim.s3Stats().puts).toBe(putsBefore);
    expect(sim.submissions(task.taskProcessId)).toEqual([]);
    // Refused at once: a retry would fetch the same generation's same bytes.
    expect(sartiq.generationCount()).toBe(1);
  });
});
