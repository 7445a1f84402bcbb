import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CreativeForceClient, ProcessDetail } from '../../src/creative-force/index.ts';
import { downloadColorReferences, filesPresent } from '../../src/cycle/steps/download-inputs.ts';
import { contextFiles, getAdditionalContext } from '../../src/cycle/steps/get-additional-context.ts';
import type { LocalFile } from '../../src/providers/recipe.ts';
import type { CreativeForceSimulator, TaskScenario } from '../../src/simulators/index.ts';
import { type SimulatedGateway, startSimulatedGateway } from '../helpers/simulated-gateway.ts';

const input = { positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('front bytes') };
const slots = [{ mappingKeyId: '1_Front', positionName: 'Front' }];

let gateway: SimulatedGateway;
let sim: CreativeForceSimulator;
let client: CreativeForceClient;
let workDir: string;

beforeAll(async () => {
  gateway = await startSimulatedGateway('additional-context');
  ({ sim, client } = gateway);
});

afterAll(async () => gateway.close());

beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'cfc-additional-context-'));
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/**
 * Seeds a task, reads its process detail through the client, then forgets the call log so that
 * the log holds only what the code under test calls.
 */
async function seed(scenario: Omit<TaskScenario, 'inputs' | 'slots'>) {
  const task = sim.addTask({ inputs: [input], slots, ...scenario });
  const detail: ProcessDetail = await client.getProcessDetail(task.taskProcessId);
  sim.resetCallLog();
  return { task, detail, ctx: gateway.cycleContext(task.taskProcessId, workDir) };
}

/** Gateway calls since the last reset, as `METHOD /path` (the token endpoint left out). */
function gatewayCalls(): string[] {
  return sim
    .callLog()
    .filter((c) => c.path.startsWith('/v1/'))
    .map((c) => `${c.method} ${c.path.slice('/v1'.length)}`);
}

function bulkGetFilesCalls() {
  return sim.callLog().filter((c) => c.method === 'POST' && c.path === `/v1${sim.paths.bulkGetFiles}`);
}

async function bytesOf(file: LocalFile | null | undefined): Promise<string> {
  if (!file) throw new Error('expected a downloaded file');
  return (await readFile(file.path)).toString('utf8');
}

const png = (text: string) => Buffer.from(text);

describe('getAdditionalContext', () => {
  it('fetches nothing when the recipe declares no need, even on a rework of an outfit task', async () => {
    const { detail, ctx } = await seed({
      colorReferences: [{ fileName: 'ref.png', body: png('ref') }],
      annotations: [{ comment: 'too dark', marking: { fileName: 'mark.png', body: png('mark') } }],
      outfitProducts: [{ roleId: 1 }, { roleId: 2, stylingAssets: [{ fileName: 'shoes.png', body: png('shoes') }] }],
    });

    const context = await getAdditionalContext({ ...ctx, detail, needs: {}, rework: true });

    expect(context).toEqual({});
    expect(gatewayCalls()).toEqual([]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('fetches the product and the job with exactly one call each', async () => {
    const { task, detail, ctx } = await seed({ jobCode: 'Winter 2027', product: { season: 'winter' } });

    const context = await getAdditionalContext({ ...ctx, detail, needs: { product: true, job: true }, rework: false });

    expect(context.product).toMatchObject({ productId: task.productId, season: 'winter' });
    expect(context.job).toMatchObject({ jobId: task.jobId, jobCode: 'Winter 2027' });
    expect(Object.keys(context).sort()).toEqual(['job', 'product']);
    expect(gatewayCalls()).toEqual([`GET /products/${task.productId}`, `GET /jobs/${task.jobId}`]);
  });

  it("falls back to the webhook event's product and job ids when the detail has none", async () => {
    const { task, detail, ctx } = await seed({});

    const context = await getAdditionalContext({
      ...ctx,
      detail: { ...detail, productId: null, jobId: null },
      needs: { product: true, job: true },
      rework: false,
    });

    expect(context.product).toMatchObject({ productId: task.productId });
    expect(context.job).toMatchObject({ jobId: task.jobId });
  });

  it('sends only the secondary outfit products to styling-assets and downloads their styling files', async () => {
    // Product ids are GUIDs, as in Creative Force (the webhook refuses anything else).
    const primaryId = randomUUID();
    const trousers = randomUUID();
    const shoes = randomUUID();
    const { task, detail, ctx } = await seed({
      productId: primaryId,
      outfitProducts: [
        // The primary has styling files too: they would appear in the result if it were sent.
        { productId: primaryId, roleId: 1, stylingAssets: [{ positionTagId: '1', fileName: 'shirt.png', body: png('shirt') }] },
        {
          productId: trousers,
          roleId: 2,
          stylingAssets: [
            { positionTagId: '1', fileName: 'trousers front.png', body: png('trousers-front') },
            { positionTagId: '2', fileName: 'trousers back.png', body: png('trousers-back') },
          ],
        },
        { productId: shoes, roleId: 3, stylingAssets: [{ positionTagId: null, fileName: 'shoes.png', body: png('shoes') }] },
      ],
    });

    const context = await getAdditionalContext({ ...ctx, detail, needs: { outfit: true }, rework: false });

    const outfit = context.outfit;
    expect(outfit?.outfitId).toBe(task.outfitId);
    expect(outfit?.products).toEqual([
      { productId: primaryId, roleId: 1 },
      { productId: trousers, roleId: 2 },
      { productId: shoes, roleId: 3 },
    ]);
    expect(outfit?.stylingFiles.map((f) => [f.productId, f.positionTagId, f.fileName])).toEqual([
      [trousers, '1', 'trousers front.png'],
      [trousers, '2', 'trousers back.png'],
      [shoes, null, 'shoes.png'],
    ]);
    expect(await Promise.all((outfit?.stylingFiles ?? []).map(bytesOf))).toEqual(['trousers-front', 'trousers-back', 'shoes']);
    for (const file of outfit?.stylingFiles ?? []) {
      expect(file.path.startsWith(join(workDir, 'styling'))).toBe(true);
      expect(file.bytes).toBe((await readFile(file.path)).length);
    }
    expect(await filesPresent(contextFiles(context))).toBe(true);
    expect(gatewayCalls()).toEqual([
      `GET /outfits/${task.outfitId}/products`,
      'POST /outfits/styling-assets',
      'POST /files/bulk-get-files',
    ]);
  });

  it('makes no styling-assets or bulk-get-files call for an outfit without secondary products', async () => {
    const dress = randomUUID();
    const { task, detail, ctx } = await seed({
      productId: dress,
      outfitProducts: [{ productId: dress, roleId: 1 }],
    });

    const context = await getAdditionalContext({ ...ctx, detail, needs: { outfit: true }, rework: false });

    expect(context.outfit).toEqual({
      outfitId: task.outfitId,
      products: [{ productId: task.productId, roleId: 1 }],
      stylingFiles: [],
    });
    expect(gatewayCalls()).toEqual([`GET /outfits/${task.outfitId}/products`]);
  });

  it('makes no outfit call when the task has no outfit', async () => {
    const { detail, ctx } = await seed({});

    const context = await getAdditionalContext({ ...ctx, detail, needs: { outfit: true }, rework: false });

    expect(context).toEqual({});
    expect(gatewayCalls()).toEqual([]);
  });

  it('on a rework, gathers the reviewer notes and downloads the marking images with one bulk-get-files', async () => {
    const { task, detail, ctx } = await seed({
      annotations: [
        { annotationId: 'a-1', assetId: 'out-1', comment: 'the sleeve is cut off' },
        {
          annotationId: 'a-2',
          assetId: 'out-1',
          comment: 'remove this crease',
          marking: { fileName: 'crease.png', body: png('crease') },
        },
      ],
    });

    const context = await getAdditionalContext({ ...ctx, detail, needs: { annotations: true }, rework: true });

    expect(context.annotations?.map(({ marking, ...note }) => note)).toEqual([
      { annotationId: 'a-1', assetId: 'out-1', comment: 'the sleeve is cut off' },
      { annotationId: 'a-2', assetId: 'out-1', comment: 'remove this crease' },
    ]);
    const [plain, marked] = context.annotations ?? [];
    expect(plain?.marking).toBeNull();
    expect(marked?.marking?.fileName).toBe('crease.png');
    expect(marked?.marking?.path.startsWith(join(workDir, 'markings'))).toBe(true);
    expect(await bytesOf(marked?.marking)).toBe('crease');
    expect(await filesPresent(contextFiles(context))).toBe(true);
    expect(gatewayCalls()).toEqual([`GET /tasks/${task.taskId}/annotations`, 'POST /files/bulk-get-files']);
  });

  it('on a rework without annotations, answers an empty list and makes no bulk-get-files call', async () => {
    const { task, detail, ctx } = await seed({});

    const context = await getAdditionalContext({ ...ctx, detail, needs: { annotations: true }, rework: true });

    expect(context).toEqual({ annotations: [] });
    expect(gatewayCalls()).toEqual([`GET /tasks/${task.taskId}/annotations`]);
  });

  it('on a first pass, makes no annotation call even when the recipe wants annotations', async () => {
    const { detail, ctx } = await seed({
      annotations: [{ comment: 'a reviewer note', marking: { fileName: 'm.png', body: png('m') } }],
    });

    const context = await getAdditionalContext({ ...ctx, detail, needs: { annotations: true }, rework: false });

    expect(context).toEqual({});
    expect(gatewayCalls()).toEqual([]);
  });

  it('resolves more than 100 marking files in batches of 100', async () => {
    const annotations = Array.from({ length: 101 }, (_, i) => ({
      comment: `note ${i}`,
      marking: { fileName: `mark-${i}.png`, body: png(`mark-${i}`) },
    }));
    const { detail, ctx } = await seed({ annotations });

    const context = await getAdditionalContext({ ...ctx, detail, needs: { annotations: true }, rework: true });

    expect(bulkGetFilesCalls().map((c) => c.status)).toEqual([200, 200]);
    expect(context.annotations).toHaveLength(101);
    const notes = context.annotations ?? [];
    expect(await Promise.all(notes.map((n) => bytesOf(n.marking)))).toEqual(annotations.map((a) => a.marking.body.toString()));
  });
});

describe('downloadColorReferences', () => {
  it('resolves more than 200 color references in batches of 100 and downloads each with its bytes, in order', async () => {
    const colorReferences = Array.from({ length: 205 }, (_, i) => ({ fileName: `ref ${i}.png`, body: png(`ref-${i}`) }));
    const { ctx, detail } = await seed({ colorReferences });

    const files = await downloadColorReferences(ctx, detail);

    // The simulator refuses a call of more than 100 ids: three successful calls mean 100 + 100 + 5.
    expect(bulkGetFilesCalls().map((c) => c.status)).toEqual([200, 200, 200]);
    expect(files.map((f) => f.fileName)).toEqual(colorReferences.map((r) => r.fileName));
    expect(await Promise.all(files.map(bytesOf))).toEqual(colorReferences.map((r) => r.body.toString()));
    expect(new Set(files.map((f) => f.path)).size).toBe(205);
    expect(files.every((f) => f.path.startsWith(join(workDir, 'color-references')) && !f.path.includes(' '))).toBe(true);
  });

  it('makes no call when the task has no color reference', async () => {
    const { ctx, detail } = await seed({});

    expect(await downloadColorReferences(ctx, detail)).toEqual([]);
    expect(gatewayCalls()).toEqual([]);
  });
});
