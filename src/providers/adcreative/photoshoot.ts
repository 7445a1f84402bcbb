/**
 * Recipe `adcreative-photoshoot`: AdCreative.ai Product Photoshoot turns a plain product photo into
 * styled scene images. Per drop box: Recommendations (background removal, product recognition),
 * AdCreative (one task per prompt object, up to 6), CheckUserProgress until every task is done,
 * then Download of the images the slot takes (the first ones, in task order; the others are never
 * fetched). The images fill the slot as main and alternates by the slot's rules.
 *
 * Never pay twice: the render process id is saved in the job before polling starts, so a retry
 * after a crash or a timeout polls the same process instead of starting a new paid generation; a
 * start whose answer was lost is looked for before it is made again (lost-start.ts). A failed
 * download is retried on its own.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AssetContentType } from '../../creative-force/contract.ts';
import { ConnectorError } from '../../errors.ts';
import { prepareImage } from '../../media/prepare-input.ts';
import { startPaidWork } from '../paid-start.ts';
import { pollingOptionsShape, pollUntil } from '../poll.ts';
import { fillTemplate, templateSchema, templateValues, usesField } from '../prompt-template.ts';
import { downloadWithRetry, inputsFor, slotCapacity, slotTakes } from '../provider-work.ts';
import type { ProducedFile, ProviderRecipe, RecipeRun, SlotRequest } from '../recipe.ts';
import type { AdCreativeClient } from './client.ts';
import { adCreativeProvider } from './errors.ts';
import { adCreativeStartLookup } from './lost-start.ts';

/** renderKind values the Product Photoshoot accepts (AdCreative's "Product Photoshoot API" page). */
export const photoshootRenderKinds = [0, 1, 2, 4, 8, 16, 31, 32, 64, 128, 256, 512, 992, 1023] as const;
/** AdCreative accepts JPG or PNG of at most 12 MB (AdCreative's "Product Photoshoot API" page). */
export const adCreativeMaxInputBytes = 12 * 1024 * 1024;
const maxPromptObjects = 6;

export const photoshootOptionsSchema = z
  .strictObject({
    /** Preset ids (GET PresetKeys). */
    presets: z.array(z.string().min(1)).max(maxPromptObjects).default([]),
    /** Custom prompt templates. */
    prompts: z.array(templateSchema).max(maxPromptObjects).default([]),
    /** Top up with AdCreative's recommended presets when the slot needs more images than configured. */
    useRecommendations: z.boolean().default(true),
    renderKind: z
      .number()
      .int()
      .refine((k) => (photoshootRenderKinds as readonly number[]).includes(k), {
        message: `must be one of ${photoshootRenderKinds.join(', ')}`,
      })
      .default(4),
    disableSafeMargin: z.boolean().default(false),
    useSameStyleReferenceImage: z.boolean().default(true),
    format: z.enum(['jpeg', 'png']).default('jpeg'),
    ...pollingOptionsShape({ pollIntervalMs: 3_000, deadlineMs: 15 * 60_000 }),
  })
  .refine((o) => o.presets.length + o.prompts.length <= maxPromptObjects, {
    message: `presets and prompts together: at most ${maxPromptObjects}`,
  });
export type PhotoshootOptions = z.output<typeof photoshootOptionsSchema>;

type PromptObject = { tag: 'preset'; preset: string } | { tag: 'custom'; prompt: string };

/** What the job remembers of one slot's photoshoot. */
interface PhotoshootMemory {
  assetId?: string;
  productName?: string;
  productDescription?: string;
  recommendedPresetIds?: string[];
  processId?: string;
}

function promptObjects(
  options: PhotoshootOptions,
  run: RecipeRun<PhotoshootOptions, AdCreativeClient>,
  request: SlotRequest,
  memory: PhotoshootMemory,
  wanted: number,
): PromptObject[] {
  const values = templateValues(run.context, memory.productName, request);
  const objects: PromptObject[] = [
    ...options.presets.map((preset) => ({ tag: 'preset' as const, preset })),
    ...options.prompts.map((prompt) => ({ tag: 'custom' as const, prompt: fillTemplate(prompt, values) })),
  ];
  if (options.useRecommendations) {
    for (const preset of memory.recommendedPresetIds ?? []) {
      if (objects.length >= wanted) break;
      if (!objects.some((o) => o.tag === 'preset' && o.preset === preset)) objects.push({ tag: 'preset', preset });
    }
  }
  if (objects.length === 0) {
    throw new ConnectorError(
      'RECIPE_NOT_CONFIGURED',
      'adcreative-photoshoot has no preset or prompt to render, and AdCreative recommended none',
    );
  }
  return objects.slice(0, maxPromptObjects);
}

async function photoshootForSlot(
  run: RecipeRun<PhotoshootOptions, AdCreativeClient>,
  request: SlotRequest,
  index: number,
): Promise<ProducedFile[]> {
  const { client, options, memory, signal, logger } = run;
  const key = `adcreative-photoshoot:${request.slot.mappingKeyId}`;
  const saved = memory.get<PhotoshootMemory>(key) ?? {};
  const remember = async (more: PhotoshootMemory) => {
    Object.assign(saved, more);
    await memory.set(key, { ...saved });
  };
  const dir = join(run.outputDir, `adcreative-${index}`);
  await mkdir(dir, { recursive: true });

  if (!saved.processId) {
    if (!saved.assetId) {
      const [input] = inputsFor(request, run.inputs);
      if (!input) throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset');
      const image = await prepareImage(input, { accept: ['jpeg', 'png'], maxBytes: adCreativeMaxInputBytes, outputDir: dir });
      const recommended = await client.recommendations(image, signal);
      await remember({
        assetId: recommended.backgroundRemovedImageAssetId,
        productName: recommended.productName,
        productDescription: recommended.productDescription,
        recommendedPresetIds: recommended.recommendedPresetIds,
      });
    }
    const prompts = promptObjects(options, run, request, saved, slotCapacity(request, maxPromptObjects));
    const facts = { mappingKeyId: request.slot.mappingKeyId };
    await startPaidWork(run, {
      intentKey: `${key}:intent`,
      what: 'AdCreative.ai photoshoot',
      facts,
      lookup: adCreativeStartLookup(client, 'photoshoot', prompts.length, logger, signal),
      async start() {
        const started = await client.startPhotoshoot(
          {
            productImageAssetId: saved.assetId ?? '',
            prompts,
            renderKind: options.renderKind,
            productName: saved.productName || run.context.event.ProductCode || 'Product',
            productDescription: saved.productDescription || saved.productName || 'Product',
            disableSafeMargin: options.disableSafeMargin,
            useSameStyleReferenceImage: options.useSameStyleReferenceImage,
          },
          signal,
        );
        logger.info({ ...facts, processId: started.processId, tasks: prompts.length }, 'adcreative photoshoot started');
        return started.processId;
      },
      // Saved before polling: from here on, a retry resumes this paid generation.
      record: (processId) => remember({ processId }),
      idOf: (processId) => processId,
    });
  } else {
    logger.info({ processId: saved.processId, mappingKeyId: request.slot.mappingKeyId }, 'adcreative photoshoot resumed');
  }

  const processId = saved.processId ?? '';
  const finished = await pollUntil(
    async () => {
      const progress = await client.progress('photoshoot', processId, signal);
      if (progress.failed) {
        throw new ConnectorError(
          'PROVIDER_GENERATION_FAILED',
          `AdCreative.ai photoshoot failed: ${progress.errorMessage ?? 'no reason given'}`,
          {
            details: { provider: 'adcreative', processId },
          },
        );
      }
      return progress.done ? progress : undefined;
    },
    {
      intervalMs: options.pollIntervalMs,
      maxIntervalMs: Math.max(options.pollIntervalMs, 15_000),
      deadline: Date.now() + options.deadlineMs,
      signal,
      what: `AdCreative.ai photoshoot ${processId}`,
      provider: 'adcreative',
    },
  );

  const extension = options.format === 'png' ? 'png' : 'jpg';
  const files: ProducedFile[] = [];
  // Tasks in the order AdCreative lists them, best candidates first; only those the slot takes are
  // downloaded (each Download may cost credits).
  const taken = finished.tasks.slice(0, slotTakes(request));
  if (taken.length < finished.tasks.length) {
    logger.info(
      { processId, rendered: finished.tasks.length, downloaded: taken.length, mappingKeyId: request.slot.mappingKeyId },
      'adcreative photoshoot: downloading only the images the slot takes',
    );
  }
  for (const [n, task] of taken.entries()) {
    const fileName = `photoshoot-${request.slot.mappingKeyId.replace(/[^A-Za-z0-9_-]/g, '_')}-${n + 1}.${extension}`;
    const file = await downloadWithRetry(
      () =>
        client.download('photoshoot', { processId, taskId: task.taskId, format: options.format }, join(dir, fileName), signal),
      signal,
    );
    files.push({
      path: file.path,
      fileName,
      bytes: file.bytes,
      contentType: options.format === 'png' ? 'image/png' : 'image/jpeg',
      kind: 'photo',
    });
  }
  return files;
}

export const photoshootRecipe: ProviderRecipe<PhotoshootOptions, AdCreativeClient, typeof adCreativeProvider> = {
  name: 'adcreative-photoshoot',
  provider: adCreativeProvider,
  produces: 'photo',
  optionsSchema: photoshootOptionsSchema,
  needs: (options) => ({
    annotations: usesField(options.prompts, 'reviewerComments'),
    product: usesField(options.prompts, 'productName'),
  }),
  // One render process per slot (its images come from that one start).
  paidCalls: (requests) => requests.length,
  cannotFill: (slot) =>
    slot.assetContentTypeId === AssetContentType.Video
      ? `slot ${slot.mappingKeyId} expects video; AdCreative.ai Product Photoshoot produces photos`
      : null,
  async run(run) {
    const result = new Map<string, ProducedFile[]>();
    for (const [index, request] of run.requests.entries()) {
      result.set(request.slot.mappingKeyId, await photoshootForSlot(run, request, index));
    }
    return result;
  },
};
