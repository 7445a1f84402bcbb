/** The `convert` recipe end to end on real files, and the recipe registry. */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpectedOutput, expectedOutputSchema } from '../../src/creative-force/schemas.ts';
import {
  type ConvertOptions,
  convertOptionsSchema,
  convertRecipe,
  createRecipeRegistry,
  recipeRegistry,
} from '../../src/providers/index.ts';
import type { InputFile, RecipeRun } from '../../src/providers/recipe.ts';
import { convertRun } from '../helpers/convert-run.ts';

let dir: string;
let front: InputFile;
let back: InputFile;

async function inputImage(fileName: string, positionName: string | null, colour: string, width: number, height: number) {
  const path = join(dir, 'inputs', fileName);
  await sharp({ create: { width, height, channels: 3, background: colour } })
    .jpeg()
    .toFile(path);
  const input: InputFile = {
    path,
    fileName,
    bytes: (await stat(path)).size,
    assetId: `asset-${fileName}`,
    positionName,
    positionTagId: null,
  };
  return input;
}

function slot(mappingKeyId: string, positionName: string | null, assetContentTypeId: 1 | 2 | 4 = 1): ExpectedOutput {
  return expectedOutputSchema.parse({ mappingKeyId, positionName, assetContentTypeId, isRequired: true, minQuantity: 1 });
}

let runCount = 0;
/** A run of the recipe with its own fresh output directory. */
async function prepareRun(
  slots: ExpectedOutput[],
  inputs: InputFile[],
  rawOptions: unknown = {},
  signal: AbortSignal = AbortSignal.timeout(30_000),
): Promise<RecipeRun<ConvertOptions>> {
  runCount += 1;
  const outputDir = join(dir, `out-${runCount}`);
  await mkdir(outputDir);
  return convertRun({ slots, inputs, rawOptions, outputDir, signal });
}

/** Rounded mean RGB of an image file. */
async function meanColour(path: string): Promise<number[]> {
  return (await sharp(path).stats()).channels.slice(0, 3).map((c) => Math.round(c.mean));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convert-recipe-'));
  await mkdir(join(dir, 'inputs'));
  front = await inputImage('SKU-123 front (1).jpg', 'Front', '#ff0000', 800, 600);
  back = await inputImage('SKU-123_back.JPG', 'Back', '#0000ff', 600, 800);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('convert options', () => {
  it('default to JPEG, quality 90, metadata stripped', () => {
    expect(convertOptionsSchema.parse({})).toEqual({ format: 'jpeg', quality: 90, stripMetadata: true });
  });

  it('refuse an unknown option, naming it', () => {
    const parsed = convertOptionsSchema.safeParse({ format: 'png', maxWidht: 100 });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['maxWidht'] });
    expect(parsed.error?.message).toContain('maxWidht');
  });

  it('refuse out-of-range values and unknown formats', () => {
    expect(convertOptionsSchema.safeParse({ quality: 0 }).success).toBe(false);
    expect(convertOptionsSchema.safeParse({ quality: 101 }).success).toBe(false);
    expect(convertOptionsSchema.safeParse({ quality: 80.5 }).success).toBe(false);
    expect(convertOptionsSchema.safeParse({ maxWidth: 0 }).success).toBe(false);
    expect(convertOptionsSchema.safeParse({ format: 'gif' }).success).toBe(false);
    expect(convertOptionsSchema.parse({ format: 'tiff', maxHeight: 2000, stripMetadata: false })).toEqual({
      format: 'tiff',
      quality: 90,
      maxHeight: 2000,
      stripMetadata: false,
    });
  });
});

describe('convertRecipe planning', () => {
  const options = convertOptionsSchema.parse({});

  it('needs no extra context', () => {
    expect(convertRecipe.needs(options)).toEqual({});
  });

  it('refuses a video slot with a reason naming it, and accepts photo and both', () => {
    expect(convertRecipe.cannotFill(slot('2_Back', 'Back', 2), options)).toBe(
      'slot Back (mapping key 2_Back) expects video; the convert recipe produces photos only',
    );
    expect(convertRecipe.cannotFill(slot('7', null, 2), options)).toBe(
      'slot 7 expects video; the convert recipe produces photos only',
    );
    expect(convertRecipe.cannotFill(slot('1_Front', 'Front', 1), options)).toBeNull();
    expect(convertRecipe.cannotFill(slot('4_Any', 'Any', 4), options)).toBeNull();
  });
});

describe('convertRecipe.run', () => {
  it('gives each slot the input of its position (case-insensitive), converted', async () => {
    const run = await prepareRun([slot('mk-back', 'back'), slot('mk-front', 'FRONT')], [front, back], {
      format: 'webp',
      maxWidth: 400,
    });
    const { outputDir } = run;
    const files = await convertRecipe.run(run);
    expect([...files.keys()]).toEqual(['mk-back', 'mk-front']);

    const [backFile] = files.get('mk-back') ?? [];
    const [frontFile] = files.get('mk-front') ?? [];
    expect(backFile).toEqual({
      path: join(outputDir, 'SKU-123_back_back.webp'),
      fileName: 'SKU-123_back_back.webp',
      bytes: (await stat(join(outputDir, 'SKU-123_back_back.webp'))).size,
      contentType: 'image/webp',
      kind: 'photo',
    });
    expect(frontFile).toMatchObject({ fileName: 'SKU-123-front-1_FRONT.webp', contentType: 'image/webp', kind: 'photo' });
    expect((await readdir(outputDir)).toSorted()).toEqual(['SKU-123-front-1_FRONT.webp', 'SKU-123_back_back.webp']);

    // Back is the blue portrait 600x800 bounded to 400 wide; Front the red landscape.
    expect(await sharp(backFile?.path).metadata()).toMatchObject({ format: 'webp', width: 400, height: 533 });
    expect(await sharp(frontFile?.path).metadata()).toMatchObject({ format: 'webp', width: 400, height: 300 });
    const [br, , bb] = await meanColour(backFile?.path ?? '');
    const [fr, , fb] = await meanColour(frontFile?.path ?? '');
    expect(bb).toBeGreaterThan(200);
    expect(br).toBeLessThan(40);
    expect(fr).toBeGreaterThan(200);
    expect(fb).toBeLessThan(40);
  });

  it('falls back to the first input, and gives each slot its own file', async () => {
    const run = await prepareRun([slot('mk-1', 'Side'), slot('mk-2', null), slot('mk-3', 'Side')], [back, front]);
    const { outputDir } = run;
    const files = await convertRecipe.run(run);
    expect([...files.values()].map((list) => list.map((f) => f.fileName))).toEqual([
      ['SKU-123_back_Side.jpg'],
      ['SKU-123_back_slot2.jpg'],
      ['SKU-123_back_Side_2.jpg'],
    ]);
    expect((await readdir(outputDir)).toSorted()).toEqual([
      'SKU-123_back_Side.jpg',
      'SKU-123_back_Side_2.jpg',
      'SKU-123_back_slot2.jpg',
    ]);
    for (const [file] of files.values()) {
      expect(await sharp(file?.path).metadata()).toMatchObject({ format: 'jpeg', width: 600, height: 800 });
      expect(file?.bytes).toBe((await stat(file?.path ?? '')).size);
    }
  });

  it('produces as many files as a slot asks for, going round the inputs of its position', async () => {
    const run = await prepareRun([slot('mk-front', 'Front')], [back, front]);
    const [request] = run.requests;
    if (request) request.count = 3;
    const files = (await convertRecipe.run(run)).get('mk-front') ?? [];
    expect(files).toHaveLength(3);
    expect(new Set(files.map((f) => f.path)).size).toBe(3);
    for (const file of files) expect(await sharp(file.path).metadata()).toMatchObject({ width: 800, height: 600 });
  });

  it('fails with TASK_INPUT_MISSING when the task has no input', async () => {
    const run = await prepareRun([slot('mk-1', 'Front')], []);
    await expect(convertRecipe.run(run)).rejects.toMatchObject({ code: 'TASK_INPUT_MISSING', retryable: false });
  });

  it('stops when the signal is aborted, before converting anything', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const run = await prepareRun([slot('mk-1', 'Front')], [front], {}, controller.signal);
    await expect(convertRecipe.run(run)).rejects.toThrow('shutting down');
    expect(await readdir(run.outputDir)).toEqual([]);
  });
});

describe('recipe registry', () => {
  it('maps convert to the convert recipe', () => {
    expect([...recipeRegistry.keys()]).toEqual([
      'convert',
      'adcreative-photoshoot',
      'adcreative-background-remove',
      'adcreative-upscale',
      'adcreative-face-enhance',
      'sartiq-generate',
      'sartiq-edit',
      'sartiq-background-fix',
      'sartiq-image-adjust',
      'sartiq-face-fix',
      'sartiq-upscale',
      'sartiq-video',
      'firefly-workflow',
    ]);
    expect(recipeRegistry.get('convert')).toBe(convertRecipe);
  });

  it('refuses two recipes with the same name', () => {
    expect(() => createRecipeRegistry([convertRecipe, convertRecipe])).toThrow('two recipes are named convert');
  });
});
