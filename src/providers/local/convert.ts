/**
 * The `convert` recipe: no AI, the task's own photo converted with sharp (format, size bound,
 * sRGB, metadata). It proves the whole Creative Force cycle end to end at no cost, and serves
 * studios that only need a format or size variant in their workflow.
 */
import { copyFile } from 'node:fs/promises';
import { join, parse } from 'node:path';
import { z } from 'zod';
import { AssetContentType } from '../../creative-force/contract.ts';
import type { ExpectedOutput } from '../../creative-force/schemas.ts';
import { ConnectorError } from '../../errors.ts';
import { type ConvertedImage, contentTypeFor, convertImage, extensionFor, imageFormats } from '../../media/image.ts';
import type { InputFile, ProducedFile, Recipe, RecipeResult, RecipeRun } from '../recipe.ts';

/** Options of a subfunction using `recipe: convert`. Unknown keys are refused (likely typos). */
export const convertOptionsSchema = z.strictObject({
  format: z.enum(imageFormats).default('jpeg'),
  /** Used by JPEG and WebP; PNG and TIFF are lossless. */
  quality: z.number().int().min(1).max(100).default(90),
  maxWidth: z.number().int().positive().optional(),
  maxHeight: z.number().int().positive().optional(),
  stripMetadata: z.boolean().default(true),
});
export type ConvertOptions = z.output<typeof convertOptionsSchema>;

/** The `convert` recipe. */
export const convertRecipe: Recipe<ConvertOptions> = {
  name: 'convert',
  produces: 'photo',
  optionsSchema: convertOptionsSchema,
  needs: () => ({}),
  paidCalls: () => 0,
  cannotFill(slot) {
    return slot.assetContentTypeId === AssetContentType.Video
      ? `slot ${describeSlot(slot)} expects video; the convert recipe produces photos only`
      : null;
  },
  run: runConvert,
};

/**
 * Fills every requested slot with as many converted photos as it asks for. A slot takes the inputs
 * whose position matches its own (case-insensitive), in order and round again if it needs more,
 * else the first input. An input chosen more than once is converted once and copied, because each
 * output needs its own file (a `tempAssetId` is single-use).
 */
async function runConvert(run: RecipeRun<ConvertOptions>): Promise<RecipeResult> {
  const { requests, inputs, options, outputDir, signal, logger } = run;
  const result: RecipeResult = new Map();
  const firstInput = inputs[0];
  if (requests.length === 0) return result;
  if (firstInput === undefined) {
    throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset to convert', {
      details: { taskProcessId: run.detail.taskProcessId },
    });
  }

  const converted = new Map<string, { path: string; image: ConvertedImage }>();
  const usedNames = new Set<string>();
  for (const [index, { slot, count }] of requests.entries()) {
    const matching = inputsForSlot(slot, inputs);
    const candidates = matching.length > 0 ? matching : [firstInput];
    const files: ProducedFile[] = [];
    for (let n = 0; n < count; n += 1) {
      signal.throwIfAborted();
      const input = candidates[n % candidates.length] ?? firstInput;
      files.push(await convertOne(input, slot, index));
    }
    result.set(slot.mappingKeyId, files);
  }
  return result;

  async function convertOne(input: InputFile, slot: ExpectedOutput, index: number): Promise<ProducedFile> {
    const fileName = outputFileName(input, slot, index, extensionFor(options.format), usedNames);
    const path = join(outputDir, fileName);

    const earlier = converted.get(input.assetId);
    let image: ConvertedImage;
    if (earlier === undefined) {
      image = await convertImage({
        inputPath: input.path,
        outputPath: path,
        format: options.format,
        quality: options.quality,
        maxWidth: options.maxWidth,
        maxHeight: options.maxHeight,
        stripMetadata: options.stripMetadata,
      });
      converted.set(input.assetId, { path, image });
    } else {
      await copyFile(earlier.path, path);
      image = earlier.image;
    }

    logger.info(
      { mappingKeyId: slot.mappingKeyId, input: input.fileName, output: fileName, width: image.width, height: image.height },
      'convert: output written',
    );
    return { path, fileName, bytes: image.bytes, contentType: contentTypeFor(image.format), kind: 'photo' };
  }
}

function inputsForSlot(slot: ExpectedOutput, inputs: InputFile[]): InputFile[] {
  const wanted = slot.positionName?.trim().toLowerCase();
  if (!wanted) return [];
  return inputs.filter((input) => input.positionName?.trim().toLowerCase() === wanted);
}

/**
 * `<input base name>_<slot position>.<ext>` in safe characters (letters, digits, `.`, `_`, `-`),
 * e.g. `SKU123-01_Front.jpg`; a slot without a position is named by its rank (`_slot2`). A name
 * already used in this run gets a numeric suffix, so every slot has its own file.
 */
function outputFileName(input: InputFile, slot: ExpectedOutput, index: number, extension: string, used: Set<string>): string {
  const base = safeName(parse(input.fileName).name) || 'image';
  const position = (slot.positionName && safeName(slot.positionName)) || `slot${index + 1}`;
  const stem = `${base.slice(0, 80)}_${position.slice(0, 40)}`;
  let fileName = `${stem}${extension}`;
  for (let n = 2; used.has(fileName.toLowerCase()); n += 1) fileName = `${stem}_${n}${extension}`;
  used.add(fileName.toLowerCase());
  return fileName;
}

function safeName(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
}

function describeSlot(slot: ExpectedOutput): string {
  return slot.positionName ? `${slot.positionName} (mapping key ${slot.mappingKeyId})` : slot.mappingKeyId;
}
