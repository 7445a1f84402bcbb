/**
 * Recipes `adcreative-background-remove`, `adcreative-upscale` and `adcreative-face-enhance`: one
 * input image in, one image out, in the same drop box. Each job's render process id is saved in
 * the job before polling, so a retry resumes it instead of paying for a new one; a start whose
 * answer was lost is looked for before it is made again (lost-start.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AssetContentType } from '../../creative-force/contract.ts';
import { ConnectorError } from '../../errors.ts';
import { prepareImage } from '../../media/prepare-input.ts';
import { startPaidWork } from '../paid-start.ts';
import { pollingOptionsShape, pollUntil } from '../poll.ts';
import { downloadWithRetry, inputsFor } from '../provider-work.ts';
import type { ProducedFile, ProviderRecipe, RecipeRun } from '../recipe.ts';
import type { AdCreativeClient, ImageJobKind } from './client.ts';
import { adCreativeProvider } from './errors.ts';
import { adCreativeStartLookup } from './lost-start.ts';
import { adCreativeMaxInputBytes } from './photoshoot.ts';

const common = {
  /** Background removal keeps transparency, so PNG is the default there. */
  format: z.enum(['jpeg', 'png']).optional(),
  /**
   * Largest upload: the three features' limits are undocumented, so the Product Photoshoot's 12 MB
   * is the default (its page also shows a 22 MB background-removal error).
   */
  maxInputBytes: z
    .number()
    .int()
    .min(1024 * 1024)
    .max(100 * 1024 * 1024)
    .default(adCreativeMaxInputBytes),
  ...pollingOptionsShape({ pollIntervalMs: 2_000, deadlineMs: 10 * 60_000 }),
};
const plainSchema = z.strictObject(common);
const faceSchema = z.strictObject({
  ...common,
  /** Sent as AdCreative's "ariaRatio" (sic): ratio for face enhancement area adjustment. */
  areaRatio: z.number().min(0).max(1).default(0.5),
  maxFaceCount: z.number().int().min(1).max(100).default(10),
});
type JobOptions = z.output<typeof plainSchema> & Partial<Pick<z.output<typeof faceSchema>, 'areaRatio' | 'maxFaceCount'>>;

interface JobMemory {
  processId: string;
}

async function runJob(
  kind: ImageJobKind,
  run: RecipeRun<JobOptions, AdCreativeClient>,
  defaultFormat: 'jpeg' | 'png',
): Promise<Map<string, ProducedFile[]>> {
  const { client, options, memory, signal, logger } = run;
  const format = options.format ?? defaultFormat;
  const result = new Map<string, ProducedFile[]>();
  for (const [index, request] of run.requests.entries()) {
    const dir = join(run.outputDir, `adcreative-${index}`);
    await mkdir(dir, { recursive: true });
    const inputs = inputsFor(request, run.inputs);
    const files: ProducedFile[] = [];
    for (let n = 0; n < request.count; n += 1) {
      const input = inputs[n % inputs.length] ?? inputs[0];
      if (!input) throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset');
      const key = `adcreative-${kind}:${request.slot.mappingKeyId}:${n}`;
      const facts = { kind, mappingKeyId: request.slot.mappingKeyId };
      const processId =
        memory.get<JobMemory>(key)?.processId ??
        (await startPaidWork(run, {
          intentKey: `${key}:intent`,
          what: `AdCreative.ai ${kind}`,
          facts,
          lookup: adCreativeStartLookup(client, kind, 1, logger, signal),
          async start() {
            const image = await prepareImage(input, { accept: ['jpeg', 'png'], maxBytes: options.maxInputBytes, outputDir: dir });
            const face = { areaRatio: options.areaRatio ?? 0.5, maxFaceCount: options.maxFaceCount ?? 10 };
            const started = await client.startImageJob(kind, image, face, signal);
            logger.info({ ...facts, processId: started.processId }, 'adcreative job started');
            return started.processId;
          },
          record: (started) => memory.set(key, { processId: started } satisfies JobMemory), // before polling: a retry resumes this paid job
          idOf: (processId) => processId,
        }));
      const done = await pollUntil(
        async () => {
          const progress = await client.progress(kind, processId, signal);
          if (progress.failed) {
            throw new ConnectorError(
              'PROVIDER_GENERATION_FAILED',
              `AdCreative.ai ${kind} failed: ${progress.errorMessage ?? 'no reason given'}`,
              {
                details: { provider: 'adcreative', processId },
              },
            );
          }
          return progress.done ? progress : undefined;
        },
        {
          intervalMs: options.pollIntervalMs,
          maxIntervalMs: 15_000,
          deadline: Date.now() + options.deadlineMs,
          signal,
          what: `AdCreative.ai ${kind} ${processId}`,
          provider: 'adcreative',
        },
      );
      const [task] = done.tasks;
      if (!task)
        throw new ConnectorError('PROVIDER_BAD_RESPONSE', `AdCreative.ai ${kind} ${processId} finished without a task`, {
          details: { provider: 'adcreative' },
        });
      const base = input.fileName.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_-]/g, '_');
      const fileName = `${base}-${kind}-${n + 1}.${format === 'png' ? 'png' : 'jpg'}`;
      const file = await downloadWithRetry(
        () => client.download(kind, { processId, taskId: task.taskId, format }, join(dir, fileName), signal),
        signal,
      );
      files.push({
        path: file.path,
        fileName,
        bytes: file.bytes,
        contentType: format === 'png' ? 'image/png' : 'image/jpeg',
        kind: 'photo',
      });
    }
    result.set(request.slot.mappingKeyId, files);
  }
  return result;
}

function imageJobRecipe(
  name: string,
  kind: ImageJobKind,
  schema: z.ZodType<JobOptions>,
  defaultFormat: 'jpeg' | 'png',
): ProviderRecipe<JobOptions, AdCreativeClient, typeof adCreativeProvider> {
  return {
    name,
    provider: adCreativeProvider,
    produces: 'photo',
    optionsSchema: schema,
    needs: () => ({}),
    // One job per file a slot asks for.
    paidCalls: (requests) => requests.reduce((n, r) => n + r.count, 0),
    cannotFill: (slot) =>
      slot.assetContentTypeId === AssetContentType.Video
        ? `slot ${slot.mappingKeyId} expects video; ${name} produces photos`
        : null,
    run: (run) => runJob(kind, run, defaultFormat),
  };
}

export const backgroundRemoveRecipe = imageJobRecipe('adcreative-background-remove', 'background-remove', plainSchema, 'png');
export const upscaleRecipe = imageJobRecipe('adcreative-upscale', 'upscale', plainSchema, 'jpeg');
export const faceEnhanceRecipe = imageJobRecipe('adcreative-face-enhance', 'face-enhance', faceSchema, 'jpeg');
