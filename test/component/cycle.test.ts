import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/service.ts';
import type { CreativeForceSimulator } from '../../src/simulators/index.ts';
import { sampleImage } from '../../src/simulators/index.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

async function twoSlotTask(sim: CreativeForceSimulator) {
  return sim.addTask({
    inputs: [
      {
        positionName: 'Front',
        fileName: 'front.tif',
        body: await sampleImage({ width: 1200, height: 1600, format: 'tiff', label: 'Front' }),
      },
      {
        positionName: 'Back',
        fileName: 'back.png',
        body: await sampleImage({ width: 900, height: 1200, format: 'png', label: 'Back' }),
      },
    ],
    slots: [
      { mappingKeyId: '1_Front', positionName: 'Front', isRequired: true, minQuantity: 1, maxQuantity: 1 },
      { mappingKeyId: '2_Back', positionName: 'Back', isRequired: false, minQuantity: 0, maxQuantity: 1 },
    ],
  });
}

describe('the Cloud Automation cycle, end to end on real Redis against the simulator', () => {
  let stack: Stack;
  let service: Service;
  let url: string;

  beforeAll(async () => {
    stack = await startStack('cycle');
    const started = await stack.startService('start');
    service = started.service;
    url = stack.webhookUrl(started.port);
  });
  afterAll(async () => stack.close());

  it('turns a signed ReadyToWork with two photo slots, one optional, into one submission of converted images', async () => {
    const { sim } = stack;
    const task = await twoSlotTask(sim);
    const answer = await sim.sendWebhook(url, task.taskProcessId, stack.secret);
    expect(answer.status).toBe(202);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0);

    const [submission, ...more] = sim.submissions(task.taskProcessId);
    expect(more).toHaveLength(0);
    expect(submission?.body.submitAssets.map((s) => s.mappingKeyId)).toEqual(['1_Front', '2_Back']);
    for (const slot of submission?.body.submitAssets ?? []) {
      expect(slot.assets).toHaveLength(1);
      const [asset] = slot.assets;
      expect(asset).toMatchObject({ outputResultTypeId: 1, assetAttributeId: 0, oldOutputAssetId: null });
      const object = sim.uploadedObject(asset?.assetId ?? '');
      expect(object?.contentType).toBe('image/jpeg');
      const meta = await sharp(object?.body).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBe(400);
      expect(meta.space).toBe('srgb');
    }
    const front = await sharp(sim.uploadedObject(submission?.body.submitAssets[0]?.assets[0]?.assetId ?? '')?.body).metadata();
    expect(front.height).toBe(533);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
  });

  it('runs one cycle and one submission when the same event is delivered 5 times at once', async () => {
    const { sim } = stack;
    const task = await twoSlotTask(sim);
    const answers = await Promise.all(Array.from({ length: 5 }, () => sim.sendWebhook(url, task.taskProcessId, stack.secret)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    // This wait timed out twice in full CI runs (not reproduced alone, nor under load): say what
    // the task got instead.
    const state = () =>
      `the submission; instead: status updates ${JSON.stringify(sim.statusUpdates(task.taskProcessId))}, ` +
      `calls ${JSON.stringify(
        sim
          .callLog()
          .filter((c) => c.path.includes(task.taskProcessId))
          .map((c) => `${c.method} ${c.path} ${c.status}`),
      )}`;
    await stack.waitFor(state, () => sim.submissions(task.taskProcessId).length > 0);
    await stack.idle(service); // nothing left to run: a second cycle or submission would be there now
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toHaveLength(0);
    const detailCalls = sim.callLog().filter((c) => c.method === 'GET' && c.path.includes(task.taskProcessId));
    expect(detailCalls).toHaveLength(1);
  });

  it('reports a corrupt input image to Creative Force at once, with a clear message and no retries', async () => {
    const { sim } = stack;
    const task = sim.addTask({
      inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('this is not a JPEG, just bytes') }],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    expect((await sim.sendWebhook(url, task.taskProcessId, stack.secret)).status).toBe(202);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0);
    const [update] = sim.statusUpdates(task.taskProcessId);
    expect(update?.status).toBe('Failed');
    expect(update?.message).toMatch(/front\.jpg/);
    expect(update?.message).toMatch(/ASSET_UNREADABLE/);
    await stack.idle(service);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(0);
    expect(sim.statusUpdates(task.taskProcessId)).toHaveLength(1);
    const detailCalls = sim.callLog().filter((c) => c.method === 'GET' && c.path.includes(task.taskProcessId));
    expect(detailCalls).toHaveLength(1);
  });

  it('fails a video slot for the convert recipe before downloading anything', async () => {
    const { sim } = stack;
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 100, height: 100, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: 'V', assetContentTypeId: 2 }],
    });
    const gets = sim.s3Stats().gets;
    await sim.sendWebhook(url, task.taskProcessId, stack.secret);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toMatch(/slot V expects video.*SLOT_UNSUPPORTED/);
    expect(sim.s3Stats().gets).toBe(gets);
  });

  it('retries a transient Creative Force failure and completes with one submission', async () => {
    const { sim } = stack;
    const task = await twoSlotTask(sim);
    sim.failNext(
      { method: 'POST', pathIncludes: 'submit-output' },
      { status: 503, body: { errors: [{ code: 'GEN-503', message: 'Unavailable' }] } },
    );
    sim.failNext({ method: 'POST', pathIncludes: 'bulk-get-assets' }, { status: 500 });
    const presignsBefore = sim.callLog().filter((c) => c.path.endsWith('get-presigned-url')).length;
    const putsBefore = sim.s3Stats().puts;
    await sim.sendWebhook(url, task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    const submits = sim.callLog().filter((c) => c.path.includes(task.taskProcessId) && c.path.endsWith('submit-output'));
    expect(submits.map((c) => c.status)).toEqual([503, 200]);
    // The retry after the failed submit resumed from the checkpoint: the uploads were not redone.
    expect(sim.callLog().filter((c) => c.path.endsWith('get-presigned-url')).length - presignsBefore).toBe(1);
    expect(sim.s3Stats().puts - putsBefore).toBe(2);
  });

  it('does not submit twice, nor report a failure, when the answer to an accepted Submit Output is lost', async () => {
    const { sim } = stack;
    const task = await twoSlotTask(sim);
    sim.loseSubmitAnswers(1);
    await sim.sendWebhook(url, task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0);
    // The retry (after CYCLE_BACKOFF_MS) reads the process detail again and finds the outputs.
    await stack.waitFor(
      'the second detail read',
      () => sim.callLog().filter((c) => c.method === 'GET' && c.path.includes(task.taskProcessId)).length >= 2,
    );
    await stack.idle(service);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
  });
});
