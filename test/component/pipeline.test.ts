/**
 * Pipelines and routes end to end: the service in this process against the Creative Force and
 * Sartiq simulators. What the providers were asked is read from the Sartiq simulator's records.
 */
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputResultType } from '../../src/creative-force/contract.ts';
import { TaskHistory } from '../../src/history/task-history.ts';
import type { Service } from '../../src/service.ts';
import type { SartiqSimulator, TaskScenario } from '../../src/simulators/index.ts';
import { redisUrl } from '../helpers/redis.ts';
import { positionInput, startSartiqStack, submitTask, videoMetadata } from '../helpers/sartiq-stack.ts';
import type { Stack } from '../helpers/stack.ts';

const metadata = { ...videoMetadata, shotType: 'front_full_body' };
const shots = { shotTypeByPosition: { Front: 'front_full_body', Back: 'back_full_body' }, pollIntervalMs: 100 };
/** On-model, upscaled twice, delivered as a JPEG at most 500 px wide. */
const threeStages = {
  pipeline: [
    { recipe: 'sartiq-generate', options: shots },
    { recipe: 'sartiq-upscale', options: { scaleFactor: 2, pollIntervalMs: 100 } },
    { recipe: 'convert', options: { format: 'jpeg', maxWidth: 500 } },
  ],
};

/** The task history of a task process, as the stack's service wrote it. */
async function historyOf(stack: Stack, taskProcessId: string) {
  const redis = new Redis(redisUrl);
  try {
    const history = new TaskHistory({ redis, prefix: stack.prefix, retentionDays: 1, usageRetentionDays: 1 });
    return await history.taskProcess('acme', taskProcessId);
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts the service and runs a first pass of a new task to its submission, the service idle after.
 *
 * @returns the service, its port, the task and the first asset each drop box got (by mappingKeyId).
 */
async function firstPass(stack: Stack, scenario: TaskScenario) {
  const { sim } = stack;
  const { service, port } = await stack.startService('start');
  const task = sim.addTask(scenario);
  await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
  await stack.waitFor('the first submission', () => sim.submissions(task.taskProcessId).length === 1, 60_000);
  await stack.idle(service);
  const first = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
  const assetOf = (mappingKeyId: string) => first.find((s) => s.mappingKeyId === mappingKeyId)?.assets[0]?.assetId ?? '';
  return { service, port, task, assetOf };
}

/** A reviewer rejects `assetIds`: the webhook comes again; resolves once the rework is submitted and the service idle. */
async function rejectAndRework(stack: Stack, service: Service, port: number, taskProcessId: string, assetIds: string[]) {
  const { sim } = stack;
  sim.rejectOutputs(taskProcessId, assetIds);
  await sim.sendWebhook(stack.webhookUrl(port), taskProcessId, stack.secret);
  await stack.waitFor('the rework submission', () => sim.submissions(taskProcessId).length === 2, 60_000);
  await stack.idle(service);
}

/** The route of video drop boxes: sartiq-video from the Front still. */
const videoFromFront = {
  when: { contentType: 'video' },
  from: { slot: { position: 'Front' } },
  recipe: 'sartiq-video',
  options: { prompt: 'the model turns slowly', ...metadata, pollIntervalMs: 100 },
};

/** A task with a Front and a Back input and a drop box of one photo for each. */
const frontAndBack = async () => ({
  inputs: [await positionInput('Front'), await positionInput('Back')],
  slots: [
    { mappingKeyId: '1_Front', positionName: 'Front', maxQuantity: 1 },
    { mappingKeyId: '2_Back', positionName: 'Back', maxQuantity: 1 },
  ],
});

const sartiqStack = (name: string, subfunction: Record<string, unknown>) => startSartiqStack(name, { subfunction }, 200);

describe('pipelines and routes against the simulators', () => {
  let stack: Stack | undefined;
  let sartiq: SartiqSimulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await sartiq?.close();
    stack = undefined;
    sartiq = undefined;
  });

  it("fills the slots with the last stage's files, each stage working from the one before", async () => {
    ({ sartiq, stack } = await sartiqStack('pipeline-three', threeStages));
    const { submission: body, bodies } = await submitTask(stack, await frontAndBack());

    // Stage 1: one on-model generation per slot; stage 2: one upscale of each generated image.
    const made = sartiq.generations();
    expect(made.map((g) => [g.endpoint, g.body.shot_type ?? g.body.scale_factor])).toEqual([
      ['generations', 'front_full_body'],
      ['generations', 'back_full_body'],
      ['refines', 2],
      ['refines', 2],
    ]);
    // The upscales were sent the generated images (uploaded), not the task's inputs.
    expect(sartiq.uploads().map((u) => u.fileName)).toEqual([
      'front.jpg',
      'back.jpg',
      'sartiq-generate-1_Front-1.jpg',
      'sartiq-generate-2_Back-1.jpg',
    ]);
    expect(body?.submitAssets.map((s) => [s.mappingKeyId, s.assets.length])).toEqual([
      ['1_Front', 1],
      ['2_Back', 1],
    ]);
    for (const object of bodies) {
      const meta = await sharp(object?.body).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBe(500); // the upscaled image, bounded by stage 3
    }
  });

  it('routes two photo slots and a video slot into one submission, the video from the generated front still', async () => {
    ({ sartiq, stack } = await sartiqStack('pipeline-video', {
      route: [videoFromFront, { recipe: 'sartiq-generate', options: shots }],
    }));
    const { sim } = stack;
    const scenario = await frontAndBack();
    const { task, submission: body } = await submitTask(stack, {
      ...scenario,
      slots: [{ mappingKeyId: '3_Video', positionName: 'Front', assetContentTypeId: 2 }, ...scenario.slots],
    });

    const [front, back, video] = sartiq.generations();
    expect([front?.endpoint, back?.endpoint, video?.endpoint]).toEqual(['generations', 'generations', 'videos']);
    expect(front?.body.shot_type).toBe('front_full_body');
    // The video starts from the front still's own prediction: nothing uploaded for it.
    expect(video?.body.prediction_id).toBe(sartiq.predictionIds(front?.id ?? '')[0]);
    expect(video?.body).not.toHaveProperty('base_image_path');
    expect(sartiq.uploads().map((u) => u.fileName)).toEqual(['front.jpg', 'back.jpg']);

    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    // The history says which route each slot took, and shows each route's stage.
    const [cycle] = await historyOf(stack, task.taskProcessId);
    const submitted = cycle?.events.find((e) => e.type === 'submitted');
    expect(submitted?.type === 'submitted' && submitted.slots.map((s) => [s.mappingKeyId, s.route])).toEqual([
      ['3_Video', 'route 1: sartiq-video'],
      ['1_Front', 'route 2: sartiq-generate'],
      ['2_Back', 'route 2: sartiq-generate'],
    ]);
    const stages = cycle?.events.flatMap((e) => (e.type === 'step' && e.step.includes('stage') ? [`${e.step} ${e.phase}`] : []));
    expect(stages).toEqual([
      'process-assets: route 2, stage 1 of 1: sartiq-generate finished',
      'process-assets: route 1, stage 1 of 1: sartiq-video finished',
    ]);
    const types = body?.submitAssets.map((s) => [s.mappingKeyId, sim.uploadedObject(s.assets[0]?.assetId ?? '')?.contentType]);
    expect(types).toEqual([
      ['3_Video', 'video/mp4'],
      ['1_Front', 'image/jpeg'],
      ['2_Back', 'image/jpeg'],
    ]);
  });

  it('uploads the still for a video when it is not a Sartiq prediction of its own (a converted still)', async () => {
    ({ sartiq, stack } = await sartiqStack('pipeline-video-upload', {
      route: [
        videoFromFront,
        {
          pipeline: [
            { recipe: 'sartiq-generate', options: shots },
            { recipe: 'convert', options: { format: 'jpeg' } },
          ],
        },
      ],
    }));
    await submitTask(stack, {
      inputs: [await positionInput('Front')],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front', maxQuantity: 1 },
        { mappingKeyId: '3_Video', positionName: 'Front', assetContentTypeId: 2 },
      ],
    });
    const video = sartiq.generations().find((g) => g.endpoint === 'videos');
    expect(video?.body).toMatchObject({
      base_image_path: expect.stringContaining('/temp/'),
      subject_id: videoMetadata.subjectId,
    });
    expect(video?.body).not.toHaveProperty('prediction_id');
    expect(sartiq.uploads().map((u) => u.fileName)).toEqual(['front.jpg', 'sartiq-generate-1_Front-1_Front.jpg']);
  });

  it('redoes a video alone from its kept still on a rework (the still fetched through bulk-get-assets)', async () => {
    ({ sartiq, stack } = await sartiqStack('pipeline-video-kept', {
      route: [videoFromFront, { recipe: 'sartiq-generate', options: shots }],
    }));
    const { sim } = stack;
    const { service, port, task, assetOf } = await firstPass(stack, {
      inputs: [await positionInput('Front')],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front', maxQuantity: 1 },
        { mappingKeyId: '3_Video', positionName: 'Front', assetContentTypeId: 2 },
      ],
    });
    const [front, video] = [assetOf('1_Front'), assetOf('3_Video')];
    const before = sartiq.generations().length;
    const uploadsBefore = sartiq.uploads().length;

    await rejectAndRework(stack, service, port, task.taskProcessId, [video]);

    // One video and nothing for the still: the video starts from the kept still, uploaded.
    const again = sartiq.generations().slice(before);
    expect(again.map((g) => g.endpoint)).toEqual(['videos']);
    expect(again[0]?.body).not.toHaveProperty('prediction_id');
    expect(sartiq.uploads().slice(uploadsBefore)).toHaveLength(1);
    const baseImage = await fetch(String(again[0]?.body.base_image_path));
    const keptStill = sim.uploadedObject(front)?.body;
    expect(keptStill?.length).toBeGreaterThan(0);
    expect(Buffer.from(await baseImage.arrayBuffer()).equals(keptStill ?? Buffer.alloc(0))).toBe(true);

    expect(sim.submissions(task.taskProcessId)).toHaveLength(2);
    const rework = sim.submissions(task.taskProcessId)[1]?.body.submitAssets ?? [];
    expect(rework.find((s) => s.mappingKeyId === '1_Front')?.assets).toMatchObject([
      { assetId: front, outputResultTypeId: OutputResultType.KeepOldAsset },
    ]);
    expect(rework.find((s) => s.mappingKeyId === '3_Video')?.assets).toMatchObject([
      { oldOutputAssetId: video, outputResultTypeId: OutputResultType.RedoAsset },
    ]);
    const redone = rework.find((s) => s.mappingKeyId === '3_Video')?.assets[0]?.assetId ?? '';
    expect(sim.uploadedObject(redone)?.contentType).toBe('video/mp4');
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
  });

  it('with CF_KEPT_OUTPUT_DOWNLOAD=off, refuses before any download to redo a video alone whose still is kept', async () => {
    ({ sartiq, stack } = await startSartiqStack(
      'pipeline-video-kept-off',
      {
        subfunction: { route: [videoFromFront, { recipe: 'sartiq-generate', options: shots }] },
        env: { CF_KEPT_OUTPUT_DOWNLOAD: 'off' },
      },
      200,
    ));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await positionInput('Front')],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front', maxQuantity: 1 },
        { mappingKeyId: '3_Video', positionName: 'Front', assetContentTypeId: 2 },
      ],
      outputAssets: [
        { mappingKeyId: '1_Front', fileName: 'front.jpg' },
        { mappingKeyId: '3_Video', fileName: 'video.mp4', isRejected: true },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the failure report', () => sim.statusUpdates(task.taskProcessId).length > 0, 60_000);
    const message = sim.statusUpdates(task.taskProcessId)[0]?.message;
    expect(message).toContain('slot 1_Front is kept as it was on this rework');
    expect(message).toContain('CF_KEPT_OUTPUT_DOWNLOAD=bulk-get-assets enables it');
    expect(sartiq.generations()).toEqual([]);
    expect(sim.s3Stats().gets).toBe(0);
    expect(sim.submissions(task.taskProcessId)).toEqual([]);
  });

  it("on a rework of one asset, runs the pipeline for that asset alone, with the reviewer's comment on it", async () => {
    ({ sartiq, stack } = await sartiqStack('pipeline-rework', threeStages));
    const { sim } = stack;
    const { service, port, task, assetOf } = await firstPass(stack, await frontAndBack());
    const [front, back] = [assetOf('1_Front'), assetOf('2_Back')];
    const before = sartiq.generations().length;
    sim.addAnnotation(task.taskId, { assetId: back, comment: 'Straighten the collar' });
    sim.addAnnotation(task.taskId, { assetId: front, comment: 'Lovely, keep it' });

    await rejectAndRework(stack, service, port, task.taskProcessId, [back]);

    // One generation and one upscale, both of the Back slot.
    const again = sartiq.generations().slice(before);
    expect(again.map((g) => [g.endpoint, g.body.shot_type ?? g.body.scale_factor])).toEqual([
      ['generations', 'back_full_body'],
      ['refines', 2],
    ]);
    // The first stage's request carries the comment on the redone asset, not the kept one's.
    expect(String(again[0]?.body.extra_prompt)).toContain('Straighten the collar');
    expect(JSON.stringify(again.map((g) => g.body))).not.toContain('keep it');
    const rework = sim.submissions(task.taskProcessId)[1]?.body.submitAssets ?? [];
    expect(rework.find((s) => s.mappingKeyId === '1_Front')?.assets).toMatchObject([
      { assetId: front, outputResultTypeId: OutputResultType.KeepOldAsset },
    ]);
    expect(rework.find((s) => s.mappingKeyId === '2_Back')?.assets).toMatchObject([
      { oldOutputAssetId: back, outputResultTypeId: OutputResultType.RedoAsset },
    ]);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
  });
});
