import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { FireflySimulator, type FireflySimulatorOptions, sampleImage } from '../../src/simulators/index.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const workflowId = randomUUID();

async function fireflyStack(
  name: string,
  options: {
    env?: Record<string, string>;
    recipeOptions?: Record<string, unknown>;
    rateLimit?: { limit: number; windowMs: number };
    durationMs?: number;
    gatherWindowMs?: number;
    outputNodeIds?: string[];
    simulator?: FireflySimulatorOptions;
  } = {},
) {
  const firefly = await FireflySimulator.start({
    allowHttpLoopbackInputs: true,
    executionDurationMs: options.durationMs ?? 400,
    rateLimit: options.rateLimit ?? { limit: 10_000, windowMs: 60_000 },
    ...options.simulator,
  });
  const credentials = {
    clientId: randomBytes(8).toString('hex'),
    clientSecret: randomBytes(12).toString('hex'),
    orgId: 'ABCDEF0123456789@AdobeOrg',
    userId: 'tech-account@techacct.adobe.com',
  };
  firefly.addCredential(credentials);
  firefly.addWorkflow({
    workflowId,
    inputNodes: [{ nodeId: 'node_in', kind: 'image' }],
    outputNodeIds: options.outputNodeIds ?? ['node_out'],
  });
  const stack = await startStack(name, {
    recipe: 'firefly-workflow',
    subfunctionOptions: {
      workflowId,
      inputs: { node_in: { from: 'input' } },
      gatherWindowMs: options.gatherWindowMs ?? 200,
      pollIntervalMs: 100,
      ...options.recipeOptions,
    },
    firefly: { baseUrl: firefly.baseUrl, tokenUrl: firefly.tokenUrl, credentials },
    ...(options.env ? { env: options.env } : {}),
  });
  return { firefly, stack };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** A task with one Front input and one drop box `A` for it. */
async function frontTask(sim: Stack['sim']) {
  return sim.addTask({
    inputs: [
      { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 200, height: 200, format: 'jpeg' }) },
    ],
    slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
  });
}

/** The colour of a corner pixel, away from the label and the simulator's band. */
async function cornerColour(image: Buffer | undefined): Promise<number[]> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const offset = ((info.height - 5) * info.width + 5) * info.channels;
  return [data[offset] ?? 0, data[offset + 1] ?? 0, data[offset + 2] ?? 0];
}

/** One task per colour, each with one Front input painted in it and one drop box `A`. */
function colouredTasks(sim: Stack['sim'], colours: readonly string[]) {
  return Promise.all(
    colours.map(async (color) =>
      sim.addTask({
        inputs: [
          {
            positionName: 'Front',
            fileName: 'front.jpg',
            body: await sampleImage({ width: 200, height: 200, format: 'jpeg', color }),
          },
        ],
        slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      }),
    ),
  );
}

/** The task's submitted image is of its own input's colour (the simulator's output keeps it). */
async function expectOwnColour(sim: Stack['sim'], taskProcessId: string, colour: string): Promise<void> {
  const [asset] = sim.submissions(taskProcessId)[0]?.body.submitAssets[0]?.assets ?? [];
  const corner = await cornerColour(sim.uploadedObject(asset?.assetId ?? '')?.body);
  const expected = colour.match(/[0-9a-f]{2}/g)?.map((h) => Number.parseInt(h, 16)) ?? [];
  for (const [c, value] of corner.entries()) expect(Math.abs(value - (expected[c] ?? 0))).toBeLessThan(60);
}

describe('Adobe Firefly published workflows, end to end against both simulators', () => {
  let stack: Stack | undefined;
  let firefly: FireflySimulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await firefly?.close();
    stack = undefined;
    firefly = undefined;
  });

  it("fills two slots in one submission, handing Firefly Creative Force's own download URLs", async () => {
    ({ firefly, stack } = await fireflyStack('ff-two-slots'));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [
        {
          positionName: 'Front',
          fileName: 'front.jpg',
          body: await sampleImage({ width: 300, height: 400, format: 'jpeg', color: '#cc2222' }),
        },
        {
          positionName: 'Back',
          fileName: 'back.jpg',
          body: await sampleImage({ width: 300, height: 400, format: 'jpeg', color: '#2222cc' }),
        },
      ],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front' },
        { mappingKeyId: '2_Back', positionName: 'Back' },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    expect(sim.submissions(task.taskProcessId)[0]?.body.submitAssets.map((s) => s.assets.length)).toEqual([1, 1]);
    const fetched = firefly.fetchedInputs();
    expect(fetched).toHaveLength(2);
    for (const url of fetched) expect(url.startsWith(`${sim.baseUrl}/s3/`)).toBe(true);
    // Nobody but Firefly read the inputs: the service neither downloaded nor re-uploaded them.
    expect(sim.s3Stats()).toEqual({ gets: 2, puts: 2 });
    const [front] = sim.submissions(task.taskProcessId)[0]?.body.submitAssets[0]?.assets ?? [];
    const [r, , b] = await cornerColour(sim.uploadedObject(front?.assetId ?? '')?.body);
    expect(r).toBeGreaterThan(150);
    expect(b).toBeLessThan(100);
  });

  it('downloads only the outputs each drop box takes, the first ones of each run', async () => {
    // Every run gives three images, one per output node.
    ({ firefly, stack } = await fireflyStack('ff-downloads', { outputNodeIds: ['node_a', 'node_b', 'node_c'] }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 200, height: 200, format: 'jpeg' }) },
      ],
      slots: [
        { mappingKeyId: '1_One', positionName: 'Front', minQuantity: 1, maxQuantity: 1 },
        {
          mappingKeyId: '2_Two',
          positionName: 'Front',
          minQuantity: 1,
          maxQuantity: 1,
          isAlternativeAllowed: true,
          maxAlternative: 1,
        },
      ],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);

    // One run per drop box, three outputs each: 1 + 2 downloads, not 6.
    expect(firefly.batches().map((b) => b.runs.length)).toEqual([2]);
    expect(firefly.callLog().filter((c) => c.path.startsWith('/outputs/'))).toHaveLength(3);
    const [one, two] = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
    expect(one?.assets.map((a) => a.assetAttributeId)).toEqual([0]);
    expect(two?.assets.map((a) => a.assetAttributeId)).toEqual([0, 4]);
    // The simulator labels each image (in its EXIF) with its run and, after the first, its output node.
    const label = (assetId: string | undefined) =>
      (sim
        .uploadedObject(assetId ?? '')
        ?.body.toString('latin1')
        .match(/run \d+( node_\w)?/) ?? [])[0];
    expect(one?.assets.map((a) => label(a.assetId))).toEqual(['run 0']);
    expect(two?.assets.map((a) => label(a.assetId))).toEqual(['run 1', 'run 1 node_b']);
  });

  it.each([
    ['the IMS scope', { requiredImsScopes: ['openid', 'studio_scope'] }, { FIREFLY_IMS_SCOPE: 'openid, studio_scope' }, 'AWS'],
    ['the inputs’ storageType', { acceptedStorageTypes: ['S3'] }, { FIREFLY_INPUT_STORAGE_TYPE: 'S3' }, 'S3'],
  ] as const)('sends %s as configured (both undocumented)', async (_what, simulator, env, storageType) => {
    ({ firefly, stack } = await fireflyStack('ff-configured', { simulator, env }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = await frontTask(sim);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    const ended = () => sim.submissions(task.taskProcessId).length + sim.statusUpdates(task.taskProcessId).length > 0;
    await stack.waitFor('the cycle to end', ended, 60_000);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(firefly.batches()[0]?.runs[0]).toEqual([
      {
        node_id: 'node_in',
        content: [{ presignedUrl: expect.any(String), storageType }],
      },
    ]);
  });

  it('runs five tasks arriving together in one batch, each with its own outputs; a failed run fails only its task', async () => {
    ({ firefly, stack } = await fireflyStack('ff-five', { env: { WORKER_CONCURRENCY: '8' }, gatherWindowMs: 1_500 }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const colours = ['#dd1111', '#11dd11', '#1111dd', '#dddd11', '#11dddd'];
    const tasks = await colouredTasks(sim, colours);
    firefly.failRun(undefined, 2);
    await Promise.all(tasks.map((t) => sim.sendWebhook(stack?.webhookUrl(port) ?? '', t.taskProcessId, stack?.secret ?? '')));
    await stack.waitFor(
      'every task to end',
      () => tasks.every((t) => sim.submissions(t.taskProcessId).length + sim.statusUpdates(t.taskProcessId).length > 0),
      60_000,
    );
    expect(firefly.batchCount()).toBe(1);
    const failed = tasks.filter((t) => sim.statusUpdates(t.taskProcessId).length > 0);
    expect(failed).toHaveLength(1);
    expect(sim.statusUpdates(failed[0]?.taskProcessId)[0]?.message).toMatch(/Firefly run 2 .*failed/);
    for (const [i, t] of tasks.entries()) {
      if (!failed.includes(t)) await expectOwnColour(sim, t.taskProcessId, colours[i] ?? '');
    }
  });

  it("pays one batch when the gathered batch's execute answer is lost: each task finds its own runs in it", async () => {
    ({ firefly, stack } = await fireflyStack('ff-lost-start', { env: { WORKER_CONCURRENCY: '8' }, gatherWindowMs: 1_000 }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    firefly.loseAnswers({ method: 'POST', pathIncludes: '/batch/execute' });
    const colours = ['#dd1111', '#11dd11', '#1111dd'];
    const tasks = await colouredTasks(sim, colours);
    await Promise.all(tasks.map((t) => sim.sendWebhook(stack?.webhookUrl(port) ?? '', t.taskProcessId, stack?.secret ?? '')));
    await stack.waitFor(
      'every task to end',
      () => tasks.every((t) => sim.submissions(t.taskProcessId).length + sim.statusUpdates(t.taskProcessId).length > 0),
      60_000,
    );
    for (const t of tasks) expect(sim.statusUpdates(t.taskProcessId)).toEqual([]);
    // The three tasks were gathered into the one batch the lost answer started, and each took its own run.
    expect(firefly.batchCount()).toBe(1);
    expect(firefly.callLog().filter((c) => c.method === 'GET' && c.path === '/batches').length).toBeGreaterThanOrEqual(3);
    for (const [i, t] of tasks.entries()) {
      expect(sim.submissions(t.taskProcessId)).toHaveLength(1);
      await expectOwnColour(sim, t.taskProcessId, colours[i] ?? '');
    }
  });

  it('waits for x-ratelimit-reset after a 429 instead of retrying in a burst', async () => {
    ({ firefly, stack } = await fireflyStack('ff-429', { rateLimit: { limit: 3, windowMs: 2_000 }, durationMs: 1_500 }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = await frontTask(sim);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    const log = firefly.callLog().filter((c) => !c.path.startsWith('/ims') && !c.path.startsWith('/outputs'));
    const refused = log.filter((c) => c.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    // Polling every 100 ms without the pause would be refused ~15 times in each 2 s window.
    expect(refused.length).toBeLessThanOrEqual(3);
    for (const entry of refused) {
      const next = log.find((c) => c.at > entry.at);
      if (next) expect(next.at - entry.at).toBeGreaterThanOrEqual(200);
    }
  });

  it('counts one batch when the worker is killed while the batch runs, and the task completes', async () => {
    ({ firefly, stack } = await fireflyStack('ff-crash', { durationMs: 4_000 }));
    const { sim } = stack;
    const { port } = await stack.startService('serve');
    const task = await frontTask(sim);
    const first = stack.spawnWorker();
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    const server = firefly;
    await stack.waitFor('the first status poll', () => server.callLog().some((c) => /\/batch\/.+\/status/.test(c.path)), 30_000);
    first.kill('SIGKILL');
    await exited(first);
    stack.spawnWorker();
    await stack.waitFor('the submission after restart', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
    expect(server.batchCount()).toBe(1);
  }, 120_000);

  it('cancels its batch when the cycle gives up at its deadline and no other task shares the batch', async () => {
    ({ firefly, stack } = await fireflyStack('ff-cancel', {
      env: { CYCLE_ATTEMPTS: '1' },
      durationMs: 10_000,
      recipeOptions: { deadlineMs: 1_000 },
    }));
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = await frontTask(sim);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0, 30_000);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toMatch(/PROVIDER_TIMEOUT/);
    expect(firefly.batches().map((b) => b.cancelled)).toEqual([true]);
  });
});
