import type { ChildProcess } from 'node:child_process';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { type SartiqSimulator, sampleImage, type TaskScenario } from '../../src/simulators/index.ts';
import { positionInput, startSartiqStack, submitTask, videoMetadata } from '../helpers/sartiq-stack.ts';
import type { Stack } from '../helpers/stack.ts';

function sartiqStack(name: string, recipe: string, options: Record<string, unknown>, predictionDurationMs = 300) {
  return startSartiqStack(name, { recipe, subfunctionOptions: options }, predictionDurationMs);
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** The EXIF of an image as text: the Sartiq simulator writes each image's label into it. */
async function exifText(body: Buffer | undefined): Promise<string> {
  return (await sharp(body).metadata()).exif?.toString('latin1') ?? '';
}

const input = positionInput;

/**
 * A task in its rework state: slot A had two outputs, the reviewer rejected the second and drew
 * on it; slot B's output is kept (its note must not reach the provider). The outfit has a
 * secondary product with a styling file.
 */
async function reworkScenario() {
  const marking = await sampleImage({ width: 60, height: 60, format: 'png', color: '#ff0000' });
  const styling = await sampleImage({ width: 40, height: 40, format: 'jpeg', color: '#224488' });
  const scenario: TaskScenario = {
    productCode: 'AW2130146',
    inputs: [
      { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 400, height: 600, format: 'jpeg' }) },
    ],
    slots: [
      { mappingKeyId: 'A', positionName: 'Front', minQuantity: 2, maxQuantity: 2 },
      { mappingKeyId: 'B', positionName: 'Front' },
    ],
    outputAssets: [
      { assetId: 'a1a1a1a1-0000-4000-8000-000000000001', mappingKeyId: 'A' },
      { assetId: 'a2a2a2a2-0000-4000-8000-000000000002', mappingKeyId: 'A', isRejected: true },
      { assetId: 'b1b1b1b1-0000-4000-8000-000000000003', mappingKeyId: 'B' },
    ],
    annotations: [
      {
        assetId: 'a2a2a2a2-0000-4000-8000-000000000002',
        comment: 'Remove the crease on the left sleeve',
        marking: { fileName: 'mark.png', body: marking },
      },
      { assetId: 'b1b1b1b1-0000-4000-8000-000000000003', comment: 'Lovely, keep it' },
    ],
    outfitProducts: [{ roleId: 1 }, { roleId: 2, stylingAssets: [{ fileName: 'trousers.jpg', body: styling }] }],
  };
  return { scenario, marking, styling };
}

describe('Sartiq, end to end against both simulators', () => {
  let stack: Stack | undefined;
  let sartiq: SartiqSimulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await sartiq?.close();
    stack = undefined;
    sartiq = undefined;
  });

  it('produces one shot type per position (Front, Back) and one submission filling both slots', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-shots', 'sartiq-generate', {
      shotTypeByPosition: { Front: 'front_full_body', Back: 'back_full_body' },
      pollIntervalMs: 100,
    }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await input('Front'), await input('Back')],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front' },
        { mappingKeyId: '2_Back', positionName: 'Back' },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    expect(sartiq.generations().map((g) => g.body.shot_type)).toEqual(['front_full_body', 'back_full_body']);
    const body = sim.submissions(task.taskProcessId)[0]?.body;
    expect(body?.submitAssets.map((s) => [s.mappingKeyId, s.assets.length])).toEqual([
      ['1_Front', 1],
      ['2_Back', 1],
    ]);
    for (const slot of body?.submitAssets ?? []) {
      const object = sim.uploadedObject(slot.assets[0]?.assetId ?? '');
      expect((await sharp(object?.body).metadata()).format).toBeDefined();
    }
  });

  it('fills a video slot with sartiq-video from the input, sending the metadata base_image_path requires', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-video', 'sartiq-video', {
      prompt: 'the model turns slowly',
      ...videoMetadata,
      shotTypeByPosition: { Front: 'front_full_body' },
      pollIntervalMs: 100,
    }));
    const { bodies } = await submitTask(stack, {
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'V', positionName: 'Front', assetContentTypeId: 2 }],
    });
    expect(bodies.map((b) => b?.contentType)).toEqual(['video/mp4']);
    expect(sartiq.generations().map((g) => g.endpoint)).toEqual(['videos']);
    expect(sartiq.generations()[0]?.body).toMatchObject({
      prompt: 'the model turns slowly',
      base_image_path: expect.stringContaining('/temp/'),
      subject_id: videoMetadata.subjectId,
      product_id: videoMetadata.productId,
      style_id: videoMetadata.styleId,
      shot_type: 'front_full_body',
    });
  });

  it('starts a video from the prediction of an on-model still it generates first', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-video-still', 'sartiq-video', {
      prompt: 'the model walks towards the camera',
      source: 'generation',
      subjectId: videoMetadata.subjectId,
      shotType: 'front_full_body',
      pollIntervalMs: 100,
    }));
    const { bodies } = await submitTask(stack, {
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'V', positionName: 'Front', assetContentTypeId: 2 }],
    });
    const [still, video] = sartiq.generations();
    expect([still?.endpoint, video?.endpoint]).toEqual(['generations', 'videos']);
    expect(still?.body).toMatchObject({ batch_size: 1, subject_id: videoMetadata.subjectId, shot_type: 'front_full_body' });
    // The simulator accepts prediction_id only for a completed prediction of this user.
    expect(video?.body.prediction_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(video?.body).not.toHaveProperty('base_image_path');
    expect(bodies.map((b) => b?.contentType)).toEqual(['video/mp4']);
  });

  it('refuses sartiq-video from the input without its metadata when the connections file loads', async () => {
    await expect(
      sartiqStack('sartiq-video-bare', 'sartiq-video', { prompt: 'turn' }).then(async (started) => {
        ({ sartiq, stack } = started);
        await started.stack.startService('start');
      }),
    ).rejects.toThrow(/subjectId, productId, styleId, shotType/);
  });

  it('refuses a video slot for sartiq-generate with a clear reason and no paid call', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-photo-for-video', 'sartiq-generate', { pollIntervalMs: 100 }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'V', positionName: 'Front', assetContentTypeId: 2 }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0, 30_000);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toMatch(/slot V expects video.*SLOT_UNSUPPORTED/);
    expect(sartiq.generationCount()).toBe(0);
  });

  it('fills a slot that needs three from a generation where one prediction of four errored', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-errored', 'sartiq-generate', { pollIntervalMs: 100 }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    sartiq.errorPredictions(1);
    const task = sim.addTask({
      inputs: [await input('Front')],
      slots: [
        {
          mappingKeyId: 'A',
          positionName: 'Front',
          minQuantity: 3,
          maxQuantity: 3,
          isAlternativeAllowed: true,
          maxAlternative: 1,
        },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    expect(sartiq.generations()[0]?.body.batch_size).toBe(4);
    const assets = sim.submissions(task.taskProcessId)[0]?.body.submitAssets[0]?.assets ?? [];
    expect(assets.filter((a) => a.assetAttributeId === 0)).toHaveLength(3);
    expect(assets.filter((a) => a.assetAttributeId === 4)).toHaveLength(0);
  });

  it('submits the refined image when refine is on, refining through the refines endpoint', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-refine', 'sartiq-generate', {
      shotType: 'front_full_body',
      refine: true,
      scaleFactor: 2,
      pollIntervalMs: 100,
    }));
    const { bodies } = await submitTask(stack, {
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    expect(bodies).toHaveLength(1);
    // The simulator's refine is the prediction upscaled (768×1024 × 2), labelled "refine".
    const exif = await exifText(bodies[0]?.body);
    expect(exif).not.toContain('front_full_body #1');
    expect(exif).toContain('refine');
    const metadata = await sharp(bodies[0]?.body).metadata();
    expect([metadata.width, metadata.height]).toEqual([1536, 2048]);
    const [generation] = sartiq.generations();
    expect(sartiq.generationCount()).toBe(1);
    expect(generation?.body).not.toHaveProperty('refine');
    expect(generation?.body).not.toHaveProperty('scale_factor');
    expect(sartiq.refines()).toHaveLength(1);
  });

  it('submits only the final image of an agentic run, after the attempts its evaluator refused', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-agentic', 'sartiq-generate', { agentic: true, pollIntervalMs: 100 }));
    sartiq.scoreAgenticAttempts([0.3, 0.5, 0.9]);
    const { bodies } = await submitTask(stack, {
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front', isAlternativeAllowed: true, maxAlternative: 3 }],
    });
    expect(bodies).toHaveLength(1);
    expect(await exifText(bodies[0]?.body)).toContain('attempt #3');
    expect(sartiq.generations().map((g) => g.endpoint)).toEqual(['agentic']);
    // No shot type configured: the agentic endpoint's default.
    expect(sartiq.generations()[0]?.body.shot_type).toBe('front_upper_body');
  });

  it('refuses a slot that needs two files for an agentic run (one final image) before any paid call', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-agentic-two', 'sartiq-generate', { agentic: true, pollIntervalMs: 100 }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front', minQuantity: 2, maxQuantity: 2 }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0, 30_000);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toMatch(/slot A needs at least 2 files; an agentic run yields one/);
    expect(sartiq.generationCount()).toBe(0);
  });

  it('sends the configured evaluator and shot type of an agentic run', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-agentic-evaluator', 'sartiq-generate', {
      agentic: true,
      evaluationProvider: 'gemini',
      shotType: 'side_upper_body',
      minConfidenceScore: 0.8,
      pollIntervalMs: 100,
    }));
    await submitTask(stack, { inputs: [await input('Front')], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
    expect(sartiq.generations()[0]?.body).toMatchObject({
      evaluation_provider: 'gemini',
      shot_type: 'side_upper_body',
      min_confidence_score: 0.8,
      max_attempts: 3,
    });
  });

  it("pays once when a start's answer is lost: the retry adopts its generation, not the other slot's of the same input", async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-lost-start', 'sartiq-generate', {
      shotType: 'front_full_body',
      pollIntervalMs: 100,
    }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await input('Front')],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front' },
        { mappingKeyId: '2_Front', positionName: 'Front' },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    // The first slot's generation is made (and waited for) before the second is started: lose that one's answer.
    const server = sartiq;
    await stack.waitFor('the first generation', () => server.generationCount() === 1, 30_000);
    server.loseAnswers({ method: 'POST', pathIncludes: '/api/v1/generations/' });
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    expect(server.generationCount()).toBe(2);
    expect(server.callLog().filter((c) => c.method === 'GET' && c.path === '/api/v1/generations/')).not.toHaveLength(0);
    const submission = sim.submissions(task.taskProcessId)[0]?.body;
    expect(submission?.submitAssets.map((a) => [a.mappingKeyId, a.assets.length])).toEqual([
      ['1_Front', 1],
      ['2_Front', 1],
    ]);
    // Each slot downloaded its own generation's image.
    const media = server.callLog().filter((c) => c.method === 'GET' && c.path.startsWith('/media/') && c.status === 200);
    expect(new Set(media.map((c) => c.path)).size).toBe(2);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
  });

  it('pays once for the refines when the answer to the refines call is lost', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-lost-refines', 'sartiq-generate', {
      shotType: 'front_full_body',
      scaleFactor: 2,
      pollIntervalMs: 100,
    }));
    sartiq.loseAnswers({ method: 'POST', pathIncludes: '/api/v1/generations/refines' });
    const { bodies } = await submitTask(stack, {
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    expect(bodies).toHaveLength(1);
    expect(await exifText(bodies[0]?.body)).toContain('refine');
    expect(sartiq.generationCount()).toBe(1);
    expect(sartiq.refines()).toHaveLength(1);
  });

  it('sartiq-edit pays once when its start answer is lost (its input shown by no field: the one edit since)', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-lost-edit', 'sartiq-edit', { pollIntervalMs: 100 }));
    sartiq.loseAnswers({ method: 'POST', pathIncludes: '/api/v1/generations/edits' });
    const { submission } = await submitTask(stack, {
      inputs: [await input('Front')],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    expect(submission?.submitAssets[0]?.assets).toHaveLength(1);
    expect(sartiq.generations().map((g) => g.endpoint)).toEqual(['edits']);
  });

  it('counts one generation when the worker is killed mid-poll and restarted', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-crash', 'sartiq-generate', { pollIntervalMs: 100 }, 4000));
    const { sim } = stack;
    const { port } = await stack.startService('serve');
    const task = sim.addTask({ inputs: [await input('Front')], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
    const first = stack.spawnWorker();
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    const server = sartiq;
    await stack.waitFor(
      'the first poll',
      () => server.callLog().some((c) => c.method === 'GET' && /\/generations\/[^/]+$/.test(c.path)),
      30_000,
    );
    first.kill('SIGKILL');
    await exited(first);
    stack.spawnWorker();
    await stack.waitFor('the submission after restart', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    expect(server.generationCount()).toBe(1);
  }, 120_000);

  it('edits with the color references as reference images and the prompt filled from the task', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-edit', 'sartiq-edit', {
      tool: 'PRODUCT_ENHANCEMENT',
      prompt: 'match the colour of {productCode}',
      colorReferencesAsReferences: true,
      pollIntervalMs: 100,
    }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      productCode: 'AW2130146',
      inputs: [await input('Front')],
      colorReferences: [
        { fileName: 'swatch.png', body: await sampleImage({ width: 64, height: 64, format: 'png', color: '#aa3300' }) },
      ],
      slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    const [generation] = sartiq.generations();
    expect(generation?.endpoint).toBe('edits');
    expect(generation?.body).toMatchObject({ tool: 'PRODUCT_ENHANCEMENT', prompt: 'match the colour of AW2130146' });
    expect(generation?.body.reference_images).toHaveLength(1);
    expect(
      sartiq
        .uploads()
        .map((u) => u.fileName)
        .sort(),
    ).toEqual(['front.jpg', 'swatch.png']);
  });

  it('sartiq-edit redoes only the rejected asset, with its comment in the prompt and its marking and the styling file as reference images', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-notes-edit', 'sartiq-edit', {
      prompt: 'retouch {productCode}',
      stylingFilesAsReferences: true,
      pollIntervalMs: 100,
    }));
    const { scenario, marking, styling } = await reworkScenario();
    const { submission } = await submitTask(stack, scenario);

    // One paid generation, for the one rejected asset.
    const generations = sartiq.generations();
    expect(generations.map((g) => [g.endpoint, g.body.batch_size])).toEqual([['edits', 1]]);
    const body = generations[0]?.body ?? {};
    expect(body.prompt).toBe('retouch AW2130146. Reviewer feedback: Remove the crease on the left sleeve');
    const references = body.reference_images as string[];
    expect(references).toHaveLength(2);
    // What arrived at Sartiq are the reviewer's marking and the styling file, byte for byte.
    expect(await sartiq.fileAt(references[0] ?? '')).toEqual(marking);
    expect(await sartiq.fileAt(references[1] ?? '')).toEqual(styling);

    const slots = submission?.submitAssets ?? [];
    expect(slots.find((s) => s.mappingKeyId === 'A')?.assets.map((a) => [a.outputResultTypeId, a.oldOutputAssetId])).toEqual([
      [2, null],
      [3, 'a2a2a2a2-0000-4000-8000-000000000002'],
    ]);
    expect(slots.find((s) => s.mappingKeyId === 'B')?.assets.map((a) => a.outputResultTypeId)).toEqual([2]);
  });

  it('sartiq-generate places the comment where its template says and sends the marking as reference_images_paths', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-notes-generate', 'sartiq-generate', {
      shotType: 'front_full_body',
      extraPrompt: 'studio light; fix: {reviewerComments}',
      referenceImageStrength: 40,
      pollIntervalMs: 100,
    }));
    const { scenario, marking } = await reworkScenario();
    await submitTask(stack, scenario);

    const generations = sartiq.generations();
    expect(generations).toHaveLength(1);
    const body = generations[0]?.body ?? {};
    expect(body.extra_prompt).toBe('studio light; fix: Remove the crease on the left sleeve');
    expect(body.reference_image_strength).toBe(40);
    const references = body.reference_images_paths as string[];
    expect(references).toHaveLength(1);
    expect(await sartiq.fileAt(references[0] ?? '')).toEqual(marking);
  });

  it('sends neither comments nor references when the options turn them off, and fetches no annotations', async () => {
    ({ sartiq, stack } = await sartiqStack('sartiq-notes-off', 'sartiq-edit', {
      commentsInPrompt: false,
      markingsAsReferences: false,
      pollIntervalMs: 100,
    }));
    const { scenario } = await reworkScenario();
    await submitTask(stack, scenario);
    const body = sartiq.generations()[0]?.body ?? {};
    expect(body.prompt).toBeUndefined();
    expect(body.reference_images).toBeUndefined();
    expect(stack.sim.callLog().filter((c) => c.path.includes('/annotations'))).toEqual([]);
  });
});
