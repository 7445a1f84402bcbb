/**
 * The flow every Sartiq recipe shares: upload the slot's input through a presigned URL, create one
 * generation (one paid call), poll it until every prediction is terminal, download what completed.
 * Errored predictions are dropped and the slot is judged on what remains. The generation id is
 * saved in the job before polling, so a retry resumes the same generation instead of paying again.
 */
import { mkdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { ConnectorError } from '../../errors.ts';
import { type PollingOptions, pollUntil } from '../poll.ts';
import { downloadWithRetry, inputsFor } from '../provider-work.ts';
import type { InputFile, LocalFile, ProducedFile, RecipeRun, SlotRequest } from '../recipe.ts';
import type { SartiqClient, SartiqGeneration } from './client.ts';

/** What a Sartiq recipe runs with. */
export type SartiqRun<Options> = RecipeRun<Options, SartiqClient>;

const contentTypes: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

/**
 * Uploads a file once per cycle (its temp URL lives 24 h) and returns the URL later calls
 * reference. `id` names the file in the job's memory (an asset id, or a color reference's name).
 */
export async function uploadedUrl(run: SartiqRun<unknown>, input: LocalFile, id: string): Promise<string> {
  const key = `sartiq-upload:${id}`;
  const known = run.memory.get<string>(key);
  if (known) return known;
  const contentType = contentTypes[extname(input.fileName).toLowerCase()] ?? 'application/octet-stream';
  const { fileUrl } = await run.client.uploadImage({ path: input.path, fileName: input.fileName, contentType }, run.signal);
  await run.memory.set(key, fileUrl);
  return fileUrl;
}

/**
 * Runs one generation for a slot. `create` makes the paid call (given the slot's first input's URL);
 * it runs only when the job has no generation saved for this slot yet.
 */
export async function generateForSlot(
  run: SartiqRun<PollingOptions>,
  request: SlotRequest,
  index: number,
  name: string,
  create: (inputUrl: string, input: InputFile) => Promise<SartiqGeneration>,
): Promise<ProducedFile[]> {
  const { client, memory, signal, logger, options } = run;
  const key = `${name}:${request.slot.mappingKeyId}`;
  let generationId = memory.get<string>(key);
  if (!generationId) {
    const [input] = inputsFor(request, run.inputs);
    if (!input) throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset');
    const created = await create(await uploadedUrl(run, input, input.assetId), input);
    generationId = created.id;
    await memory.set(key, generationId); // before polling: a retry resumes this paid generation
    logger.info({ recipe: name, generationId, mappingKeyId: request.slot.mappingKeyId }, 'sartiq generation created');
  } else {
    logger.info({ recipe: name, generationId, mappingKeyId: request.slot.mappingKeyId }, 'sartiq generation resumed');
  }
  const id = generationId;
  const finished = await pollUntil(
    async () => {
      const generation = await client.getGeneration(id, signal);
      return generation.terminal ? generation : undefined;
    },
    {
      intervalMs: options.pollIntervalMs,
      maxIntervalMs: 15_000,
      deadline: Date.now() + options.deadlineMs,
      signal,
      what: `Sartiq generation ${id}`,
      provider: 'sartiq',
    },
  );

  const dir = join(run.outputDir, `sartiq-${index}`);
  await mkdir(dir, { recursive: true });
  const files: ProducedFile[] = [];
  const errored = finished.predictions.filter((p) => p.resultImageUrl === null && p.resultVideoUrl === null);
  if (errored.length > 0) {
    logger.warn(
      {
        generationId: id,
        errored: errored.map((p) => ({ id: p.id, status: p.status, error: p.errorMessage, category: p.errorCategory })),
      },
      'sartiq predictions without a result were dropped',
    );
  }
  for (const [n, prediction] of finished.predictions.entries()) {
    const url = prediction.resultVideoUrl ?? prediction.resultImageUrl;
    if (!url) continue;
    const video = prediction.resultVideoUrl !== null;
    const extension = video ? '.mp4' : extname(new URL(url).pathname).toLowerCase() || '.jpg';
    const fileName = `${name}-${request.slot.mappingKeyId.replace(/[^A-Za-z0-9_-]/g, '_')}-${n + 1}${extension}`;
    const file = await downloadWithRetry(() => client.download(url, join(dir, fileName), signal), signal);
    files.push({ path: file.path, fileName, bytes: file.bytes, contentType: file.contentType, kind: video ? 'video' : 'photo' });
  }
  if (files.length === 0) {
    const reason = errored[0]?.errorMessage ?? 'no prediction completed';
    throw new ConnectorError('PROVIDER_GENERATION_FAILED', `Sartiq generation ${id} produced nothing: ${reason}`, {
      details: { provider: 'sartiq', generationId: id },
    });
  }
  return files;
}
