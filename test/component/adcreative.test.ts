import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { AdCreativeSimulator, type AdCreativeSimulatorOptions } from '../../src/simulators/adcreative/index.ts';
import { sampleImage } from '../../src/simulators/index.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const twelveMb = 12 * 1024 * 1024;

async function adcreativeStack(
  name: string,
  options: Record<string, unknown>,
  taskDurationMs = 300,
  more: { recipe?: string; simulator?: AdCreativeSimulatorOptions; env?: Record<string, string> } = {},
) {
  const adc = await AdCreativeSimulator.start({ taskDurationMs, ...more.simulator });
  const credentials = {
    applicationId: randomUUID(),
    jwtPrivateKey: randomBytes(32).toString('hex'),
    apiKey: randomBytes(16).toString('hex'),
    apiSecret: randomBytes(16).toString('hex'),
  };
  adc.addApplication(credentials);
  const stack = await startStack(name, {
    recipe: more.recipe ?? 'adcreative-photoshoot',
    subfunctionOptions: options,
    adcreative: { baseUrl: adc.baseUrl, credentials: { ...credentials, userId: randomUUID() } },
    ...(more.env ? { env: more.env } : {}),
  });
  return { adc, stack };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** A drop box of one main asset and up to three alternates. */
const mainAndThreeAlternates = { minQuantity: 1, maxQuantity: 1, isAlternativeAllowed: true, maxAlternative: 3 };

const fourPrompts = {
  prompts: ['{productCode} on a marble table', 'on a beach at sunset', 'in a minimal studio', 'in a forest'],
  pollIntervalMs: 100,
};

describe('AdCreative.ai recipes, end to end against both simulators', () => {
  let stack: Stack | undefined;
  let adc: AdCreativeSimulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await adc?.close();
    stack = undefined;
    adc = undefined;
  });

  it('fills a slot (min 1, max 1, up to 3 alternates) with 1 main and 3 alternates from one photoshoot', async () => {
    ({ adc, stack } = await adcreativeStack('adc-happy', fourPrompts));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      productCode: 'AW2130146',
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 800, height: 1000, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front', ...mainAndThreeAlternates }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    const [slot] = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
    expect(slot?.assets.map((a) => a.assetAttributeId)).toEqual([0, 4, 4, 4]);
    for (const asset of slot?.assets ?? []) {
      const object = sim.uploadedObject(asset.assetId);
      expect((await sharp(object?.body).metadata()).format).toBe('jpeg');
    }
    expect(adc.paidGenerations()).toBe(1);
    const [generation] = adc.generations();
    expect(JSON.parse(generation?.form.PromptObjectsString ?? '[]')[0]).toMatchObject({
      tag: 'custom',
      prompt: 'AW2130146 on a marble table',
    });
    expect(adc.downloads()).toHaveLength(4);
  });

  it('downloads only the images each drop box takes, the first ones in task order', async () => {
    // Six presets whose scenes the simulator paints in distinct colours, so each image names its task.
    const scenes: [string, string][] = [
      ['white_background', '#f4f4f4'],
      ['light_blue_background', '#b9d4ea'],
      ['mid_century_modern_office', '#a9784f'],
      ['thanksgiving_rustic_scene', '#b5652b'],
      ['gray_shadowy_room_sunlight_streaming_studio', '#8a8d91'],
      ['on_platform_natural_beige_background', '#d8c7a8'],
    ];
    const options = { presets: scenes.map(([id]) => id), useRecommendations: false, pollIntervalMs: 100 };
    ({ adc, stack } = await adcreativeStack('adc-downloads', options));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 400, height: 500, format: 'jpeg' }) },
      ],
      slots: [
        { mappingKeyId: '1_One', positionName: 'Front', minQuantity: 1, maxQuantity: 1 },
        { mappingKeyId: '2_Four', positionName: 'Front', ...mainAndThreeAlternates },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    // Two photoshoots of six tasks each; 1 + 4 Download calls, not 12.
    expect(adc.paidGenerations()).toBe(2);
    const [one, four] = adc.generations().map((g) => g.processId);
    const downloadCalls = adc.callLog().filter((c) => c.path.endsWith('/ProductGeneration/Download'));
    expect(downloadCalls).toHaveLength(5);
    expect(adc.downloads().filter((d) => d.processId === one)).toHaveLength(1);
    expect(adc.downloads().filter((d) => d.processId === four)).toHaveLength(4);

    const [slotOne, slotFour] = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
    expect(slotOne?.assets.map((a) => a.assetAttributeId)).toEqual([0]);
    expect(slotFour?.assets.map((a) => a.assetAttributeId)).toEqual([0, 4, 4, 4]);
    // The main place gets the first task's image, the alternates the next ones, in order.
    const sceneOf = async (assetId: string) => {
      const { data } = await sharp(sim.uploadedObject(assetId)?.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const [r = 0, g = 0, b = 0] = data.subarray((5 * 1674 + 5) * 3);
      return scenes.findIndex(([, hex]) => {
        const [er = 0, eg = 0, eb = 0] = (hex.match(/[0-9a-f]{2}/g) ?? []).map((h) => Number.parseInt(h, 16));
        return Math.abs(r - er) + Math.abs(g - eg) + Math.abs(b - eb) < 30;
      });
    };
    expect(await Promise.all((slotOne?.assets ?? []).map((a) => sceneOf(a.assetId)))).toEqual([0]);
    expect(await Promise.all((slotFour?.assets ?? []).map((a) => sceneOf(a.assetId)))).toEqual([0, 1, 2, 3]);
  });

  it.each([
    ['adcreative-background-remove', 'background-remove', 'BACKGROUND_REMOVE'],
    ['adcreative-face-enhance', 'face-enhance', 'FACE_ENHANCE'],
  ] as const)('%s calls its undocumented paths and names as configured', async (recipe, kind, variable) => {
    // Served away from the service's defaults: only the configuration can find them.
    const paths = { start: `/v9/${kind}/start`, progress: `/v9/${kind}/progress`, download: `/v9/${kind}/file` };
    const names = { applicationId: 'app', userId: 'user', uploadedImage: 'image', ariaRatio: 'areaRatio', maxFaceCount: 'faces' };
    const more = { taskId: 'task', lowResolution: 'small', format: 'fileFormat' };
    ({ adc, stack } = await adcreativeStack(`adc-wire-${kind}`, { pollIntervalMs: 100 }, 300, {
      recipe,
      simulator: { imageFeatureWire: { paths: { [kind]: paths }, processIdParam: 'renderId', names: { ...names, ...more } } },
      env: {
        [`ADCREATIVE_PATH_${variable}_START`]: paths.start,
        [`ADCREATIVE_PATH_${variable}_PROGRESS`]: paths.progress,
        [`ADCREATIVE_PATH_${variable}_DOWNLOAD`]: paths.download,
        ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM: 'renderId',
        ADCREATIVE_IMAGE_JOB_NAMES: Object.entries({ ...names, ...more })
          .map(([name, sent]) => `${name}=${sent}`)
          .join(', '),
      },
    }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [
        {
          positionName: 'Front',
          fileName: 'front.jpg',
          body: await sampleImage({ width: 300, height: 300, format: 'jpeg', label: 'Front' }),
        },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    expect(sim.submissions(task.taskProcessId)[0]?.body.submitAssets[0]?.assets).toHaveLength(1);
    const called = adc.callLog().filter((c) => c.status === 200 && c.path.startsWith('/v9/'));
    expect(new Set(called.map((c) => c.path))).toEqual(new Set(Object.values(paths)));
    const [generation] = adc.generations();
    expect(Object.keys(generation?.form ?? {}).sort()).toEqual(
      kind === 'face-enhance' ? ['app', 'areaRatio', 'faces', 'user'] : ['app', 'user'],
    );
    expect(adc.downloads()).toHaveLength(1);
  });

  it('adcreative-background-remove sends an input of at most maxInputBytes (its limit is undocumented)', async () => {
    const oneMb = 1024 * 1024;
    ({ adc, stack } = await adcreativeStack('adc-max-input', { maxInputBytes: oneMb, pollIntervalMs: 100 }, 300, {
      recipe: 'adcreative-background-remove',
    }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const png = await sharp(randomBytes(1200 * 1000 * 3), { raw: { width: 1200, height: 1000, channels: 3 } })
      .png()
      .toBuffer();
    expect(png.length).toBeGreaterThan(2 * oneMb);
    const task = sim.addTask({
      inputs: [{ positionName: 'Front', fileName: 'front.png', body: png }],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    const [upload] = adc.uploads();
    expect(['jpeg', 'png']).toContain(upload?.format);
    expect(upload?.bytes).toBeLessThanOrEqual(oneMb);
  });

  it('sends a 20 MB TIFF input as a JPG or PNG of at most 12 MB', async () => {
    ({ adc, stack } = await adcreativeStack('adc-tiff', fourPrompts));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const pixels = Buffer.alloc(3000 * 2400 * 3);
    for (let i = 0; i < pixels.length; i += 1) pixels[i] = (i * 7919) % 251;
    const tiff = await sharp(pixels, { raw: { width: 3000, height: 2400, channels: 3 } })
      .tiff({ compression: 'none' })
      .toBuffer();
    expect(tiff.length).toBeGreaterThan(20 * 1024 * 1024);
    const task = sim.addTask({
      inputs: [{ positionName: 'Front', fileName: 'front.tif', body: tiff }],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front', isAlternativeAllowed: true, maxAlternative: 3 }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    const [upload] = adc.uploads();
    expect(['jpeg', 'png']).toContain(upload?.format);
    expect(upload?.bytes).toBeLessThanOrEqual(twelveMb);
  });

  it('reports unknown_foreground to Creative Force at once, without retrying', async () => {
    ({ adc, stack } = await adcreativeStack('adc-foreground', fourPrompts));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    adc.refuseForeground();
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 300, height: 300, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0, 30_000);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toMatch(/unknown_foreground/);
    expect(adc.callLog().filter((c) => c.path.endsWith('/Recommendations'))).toHaveLength(1);
    expect(adc.paidGenerations()).toBe(0);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(0);
  });

  it('pays once when the answer to the photoshoot start is lost: the retry adopts the process it started', async () => {
    ({ adc, stack } = await adcreativeStack('adc-lost-start', fourPrompts));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    adc.loseAnswers({ method: 'POST', pathIncludes: '/ProductGeneration/AdCreative' });
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 300, height: 300, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front', ...mainAndThreeAlternates }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    const server = adc;
    await stack.waitFor('the cycle to end', () => server.downloads().length === 4, 10_000);

    expect(adc.paidGenerations()).toBe(1);
    const [generation] = adc.generations();
    expect(new Set(adc.downloads().map((d) => d.processId))).toEqual(new Set([generation?.processId]));
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.submissions(task.taskProcessId)[0]?.body.submitAssets[0]?.assets).toHaveLength(4);
    expect(sim.statusUpdates(task.taskProcessId)).toHaveLength(0);
  });

  it("adopts its own lost photoshoot, never another task's started meanwhile on the same account", async () => {
    ({ adc, stack } = await adcreativeStack('adc-lost-start-two', fourPrompts));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    adc.loseAnswers({ method: 'POST', pathIncludes: '/ProductGeneration/AdCreative' });
    const tasks = await Promise.all(
      ['front', 'back'].map(async (name) =>
        sim.addTask({
          inputs: [
            {
              positionName: 'Front',
              fileName: `${name}.jpg`,
              body: await sampleImage({ width: 300, height: 300, format: 'jpeg' }),
            },
          ],
          slots: [{ mappingKeyId: '1_Front', positionName: 'Front', ...mainAndThreeAlternates }],
        }),
      ),
    );
    for (const task of tasks) await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    const ended = (id: string) => sim.submissions(id).length > 0 || sim.statusUpdates(id).length > 0;
    await stack.waitFor('both cycles to end', () => tasks.every((t) => ended(t.taskProcessId)), 60_000);
    for (const task of tasks) expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    const server = adc;
    await stack.waitFor('every download', () => server.downloads().length === 8, 10_000);

    // Each task downloaded the four images of its own process: no process was taken by both.
    expect(adc.paidGenerations()).toBe(2);
    const processes = adc.generations().map((g) => g.processId);
    for (const processId of processes) expect(adc.downloads().filter((d) => d.processId === processId)).toHaveLength(4);
    for (const task of tasks) expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
  });

  it('pays once when the worker is killed while the photoshoot is in progress', async () => {
    ({ adc, stack } = await adcreativeStack('adc-crash', fourPrompts, 4000));
    const { sim } = stack;
    const { port } = await stack.startService('serve');
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 300, height: 300, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front', isAlternativeAllowed: true, maxAlternative: 3 }],
    });
    const first = stack.spawnWorker();
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    const server = adc;
    // Polling has begun: the render process id is in the job, and the photoshoot is still running.
    await stack.waitFor(
      'the first progress poll',
      () => server.callLog().some((c) => c.path.endsWith('/CheckUserProgress')),
      30_000,
    );
    first.kill('SIGKILL');
    await exited(first);
    expect(server.paidGenerations()).toBe(1);

    stack.spawnWorker();
    await stack.waitFor('the submission after restart', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    expect(server.paidGenerations()).toBe(1);
    expect(sim.submissions(task.taskProcessId)[0]?.body.submitAssets[0]?.assets).toHaveLength(4);
  }, 120_000);
});
