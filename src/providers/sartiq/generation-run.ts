/**
 * The flow every Sartiq recipe shares: upload the slot's input through a presigned URL, create one
 * generation (one paid call), wait for it, download its results. What the results are depends on
 * the recipe (SartiqResults):
 *
 * - `predictions`: once every prediction is terminal and none has a refine still running, each
 *   prediction's video, or its image: the most recent successful refine's (`refined_image_url`)
 *   when it has one, else `result_image_url`. Predictions without a result are dropped and the
 *   slot is judged on what remains.
 * - `refines`: the same wait, then one refine per completed prediction (`POST /generations/refines`
 *   with `prediction_ids`, a second paid call), and each prediction's `refined_image_url` once its
 *   refine completed. The studio asked for the refined image: a prediction whose refine failed is
 *   dropped, never submitted unrefined.
 * - `agentic`: the run's orchestration (`GET /generations/agentic/{shot_id}/status`) until it
 *   completed, then only the image it reports as final (`final_image_url`); the attempts the
 *   evaluator refused are never downloaded.
 *
 * Every paid call's id is saved in the job before its work is polled (generation, orchestration
 * shot, refines), so a retry resumes the same work instead of paying again; a paid call whose
 * answer was lost is looked for before it is made again (lost-start.ts). One deadline
 * (`deadlineMs`) bounds all the waiting of one attempt.
 */
import { mkdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../errors.ts';
import { startPaidWork } from '../paid-start.ts';
import { type PollingOptions, type PollOptions, pollUntil } from '../poll.ts';
import { downloadWithRetry, inputsFor } from '../provider-work.ts';
import type { InputFile, LocalFile, ProducedFile, RecipeRun, SlotRequest } from '../recipe.ts';
import type { SartiqClient, SartiqGeneration, SartiqPrediction, SartiqRefine } from './client.ts';
import { sartiqProvider } from './errors.ts';
import { type SartiqStart, sartiqRefinesLookup, sartiqStartLookup } from './lost-start.ts';

/** What a Sartiq recipe runs with. */
export type SartiqRun<Options> = RecipeRun<Options, SartiqClient>;

/** The size a refine asks for: an upscale factor, or the generation's own width and height (a refine without upscaling). */
export type SartiqRefineSize = { scaleFactor: 2 | 4 | 8 } | 'generation-size';

/** Which files a slot's generation yields (see the file comment). */
export type SartiqResults = { from: 'predictions' } | { from: 'refines'; size: SartiqRefineSize } | { from: 'agentic' };

/** Where a generation starts from: the slot's first input, uploaded, and (with a still) the prediction made from it. */
export interface SartiqSource {
  inputUrl: string;
  input: InputFile;
  /** With SartiqSlotWork.still: the completed prediction of the still generation. */
  predictionId?: string;
}

/** What one recipe asks of the shared flow for one slot. */
export interface SartiqSlotWork {
  /** The recipe's name: in the job's memory keys, the logs and the file names. */
  name: string;
  /** The paid call to make (its kind and body); built only when the job has no generation saved for this slot yet. */
  create: (source: SartiqSource) => SartiqStart | Promise<SartiqStart>;
  /**
   * A generation to make first (another paid call, saved the same way), whose first completed
   * prediction `create` starts from (`source.predictionId`).
   */
  still?: (inputUrl: string) => SartiqStart;
  /**
   * When the slot's input is a Sartiq prediction's own image (an earlier stage's or slot's result,
   * InputFile.source): the start from that prediction instead of an upload of the file.
   */
  fromPrediction?: (predictionId: string) => SartiqStart;
  /** Default `predictions`. */
  results?: SartiqResults;
}

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

/** A generation the job saved: its id and, for an agentic run, its orchestration shot. */
interface SavedGeneration {
  generationId: string;
  shotId?: string;
}

/** A saved generation: a bare id (every kind but agentic, as always), or an agentic run's id and shot. */
const savedGenerationSchema = z.union([
  z
    .string()
    .min(1)
    .transform((generationId): SavedGeneration => ({ generationId })),
  z.object({ generationId: z.string().min(1), shotId: z.string().min(1) }),
]);

/** Refines the job saved: prediction id → refine id. */
const savedRefinesSchema = z.record(z.string(), z.string());

/** A file to download, and what it is. */
interface SartiqResult {
  url: string;
  kind: 'photo' | 'video';
  /** Set when the file is the prediction's own result image (not a refine of it). */
  predictionId?: string;
}

/** What one slot's run works with. */
interface SlotRun {
  run: SartiqRun<PollingOptions>;
  request: SlotRequest;
  work: SartiqSlotWork;
  /** `name:mappingKeyId`, the root of this slot's memory keys. */
  key: string;
  /** When this attempt stops waiting (ms since the epoch). */
  deadline: number;
}

/** Runs one slot's generation and returns its downloaded results; `index` names its output folder. */
export async function generateForSlot(
  run: SartiqRun<PollingOptions>,
  request: SlotRequest,
  index: number,
  work: SartiqSlotWork,
): Promise<ProducedFile[]> {
  const slot: SlotRun = {
    run,
    request,
    work,
    key: `${work.name}:${request.slot.mappingKeyId}`,
    deadline: Date.now() + run.options.deadlineMs,
  };
  const saved = await rememberedGeneration(slot, slot.key, async () => {
    const prediction = work.fromPrediction ? inputPrediction(slot) : undefined;
    return prediction !== undefined && work.fromPrediction ? work.fromPrediction(prediction) : work.create(await sourceOf(slot));
  });
  const results = work.results ?? { from: 'predictions' };
  let files: SartiqResult[];
  if (results.from === 'agentic') {
    files = await agenticResults(slot, saved);
  } else {
    const finished = await waitForGeneration(slot, saved.generationId, settled);
    files = results.from === 'refines' ? await refinedResults(slot, finished, results.size) : predictionResults(slot, finished);
  }
  return download(slot, index, files);
}

/** The Sartiq prediction whose own image the slot's first input is, if it is one. */
function inputPrediction(slot: SlotRun): string | undefined {
  const [input] = inputsFor(slot.request, slot.run.inputs);
  return input?.source?.provider === sartiqProvider ? input.source.id : undefined;
}

/** The slot's first input, uploaded, and the prediction of its still when the work makes one first. */
async function sourceOf(slot: SlotRun): Promise<SartiqSource> {
  const { run, request, work } = slot;
  const [input] = inputsFor(request, run.inputs);
  if (!input) throw new ConnectorError('TASK_INPUT_MISSING', 'the task has no input asset');
  const inputUrl = await uploadedUrl(run, input, input.assetId);
  const { still } = work;
  if (!still) return { inputUrl, input };
  const saved = await rememberedGeneration(slot, `${slot.key}:still`, () => still(inputUrl));
  const finished = await waitForGeneration(slot, saved.generationId, settled);
  const prediction = finished.predictions.find((p) => !p.failed && p.resultImageUrl !== null);
  if (!prediction) throw producedNothing(finished, finished.predictions[0]?.errorMessage ?? 'no prediction completed');
  return { inputUrl, input, predictionId: prediction.id };
}

/**
 * The generation saved under `key`, or the one the start `build` gives makes (the paid call, or
 * the generation a lost answer of it made), saved before it is returned: whatever happens next, a
 * retry resumes it instead of paying again.
 */
async function rememberedGeneration(
  slot: SlotRun,
  key: string,
  build: () => SartiqStart | Promise<SartiqStart>,
): Promise<SavedGeneration> {
  const { run, work, request } = slot;
  const facts = { recipe: work.name, mappingKeyId: request.slot.mappingKeyId };
  const raw = run.memory.get<unknown>(key);
  if (raw !== undefined) {
    const known = savedGenerationSchema.safeParse(raw);
    if (!known.success) throw new ConnectorError('CHECKPOINT_INVALID', `the job's saved Sartiq generation ${key} is not one`);
    run.logger.info({ ...facts, ...known.data }, 'sartiq generation resumed');
    return known.data;
  }
  const start = await build();
  // A created agentic generation names its orchestration shot; an adopted one is known by its `shot_id`.
  const savedOf = (g: SartiqGeneration): SavedGeneration => ({
    generationId: g.id,
    shotId: g.orchestrationShotId ?? (start.kind === 'agentic' ? g.shotId : null) ?? undefined,
  });
  const generation = await startPaidWork(run, {
    intentKey: `${key}:intent`,
    what: `Sartiq ${start.kind}`,
    facts,
    lookup: sartiqStartLookup(run.client, start, run.signal),
    async start() {
      const created = await send(run, start);
      run.logger.info({ ...facts, ...savedOf(created) }, 'sartiq generation created');
      return created;
    },
    record: (g) => {
      const { generationId, shotId } = savedOf(g);
      return run.memory.set(key, shotId ? { generationId, shotId } : generationId); // before polling
    },
    idOf: (g) => g.id,
  });
  return savedOf(generation);
}

/** Makes a paid start: a generation endpoint's call, or an upscale (refines of one uploaded image, its one generation). */
async function send(run: SartiqRun<unknown>, start: SartiqStart): Promise<SartiqGeneration> {
  if (start.kind !== 'upscale') return run.client.createGeneration(start.kind, start.body, run.signal);
  const refined = await run.client.createRefines(start.body, run.signal);
  const [generation] = refined.generations;
  if (generation) return generation;
  throw new ConnectorError(
    'PROVIDER_GENERATION_FAILED',
    `Sartiq refused to upscale the input: ${refined.failed.join('; ') || 'no reason given'}`,
    { details: { provider: sartiqProvider } },
  );
}

/** Every prediction is terminal and none has a refine still running. */
function settled(generation: SartiqGeneration): boolean {
  return generation.terminal && generation.predictions.every((p) => p.refines.every((r) => r.terminal));
}

function polling(slot: SlotRun, what: string): PollOptions {
  const { options, signal } = slot.run;
  return {
    intervalMs: options.pollIntervalMs,
    maxIntervalMs: 15_000,
    deadline: slot.deadline,
    signal,
    what,
    provider: sartiqProvider,
  };
}

/** Polls the generation until `done` holds. */
function waitForGeneration(
  slot: SlotRun,
  id: string,
  done: (generation: SartiqGeneration) => boolean,
): Promise<SartiqGeneration> {
  const { client, signal } = slot.run;
  return pollUntil(
    async () => {
      const generation = await client.getGeneration(id, signal);
      return done(generation) ? generation : undefined;
    },
    polling(slot, `Sartiq generation ${id}`),
  );
}

/** The results of every prediction that has one; the others are logged and dropped. */
function predictionResults(slot: SlotRun, generation: SartiqGeneration): SartiqResult[] {
  const errored = generation.predictions.filter((p) => p.resultImageUrl === null && p.resultVideoUrl === null);
  warnDropped(slot, generation, errored);
  const results = generation.predictions.flatMap((p): SartiqResult[] => {
    if (p.resultVideoUrl !== null) return [{ url: p.resultVideoUrl, kind: 'video' }];
    if (p.refinedImageUrl !== null) return [{ url: p.refinedImageUrl, kind: 'photo' }];
    // The prediction's own image: a later Sartiq request may start from the prediction itself.
    return p.resultImageUrl === null ? [] : [{ url: p.resultImageUrl, kind: 'photo', predictionId: p.id }];
  });
  if (results.length === 0) throw producedNothing(generation, errored[0]?.errorMessage ?? 'no prediction completed');
  return results;
}

/** Refines every completed prediction once (saving the refine ids before polling them) and returns the refined images. */
async function refinedResults(slot: SlotRun, generation: SartiqGeneration, size: SartiqRefineSize): Promise<SartiqResult[]> {
  const { run, key } = slot;
  const completed = generation.predictions.filter((p) => !p.failed && p.resultImageUrl !== null);
  warnDropped(
    slot,
    generation,
    generation.predictions.filter((p) => !completed.includes(p)),
  );
  if (completed.length === 0) {
    throw producedNothing(generation, generation.predictions[0]?.errorMessage ?? 'no prediction completed');
  }
  const refinesKey = `${key}:refines`;
  const known = run.memory.get<unknown>(refinesKey);
  let refineIds: Record<string, string>;
  if (known !== undefined) {
    const parsed = savedRefinesSchema.safeParse(known);
    if (!parsed.success)
      throw new ConnectorError('CHECKPOINT_INVALID', `the job's saved Sartiq refines ${refinesKey} are not ids`);
    refineIds = parsed.data;
    run.logger.info({ generationId: generation.id, refines: refineIds }, 'sartiq refines resumed');
  } else {
    const predictionIds = completed.map((p) => p.id);
    let failed: string[] = [];
    refineIds = await startPaidWork(run, {
      intentKey: `${refinesKey}:intent`,
      what: 'Sartiq refines',
      facts: { recipe: slot.work.name, mappingKeyId: slot.request.slot.mappingKeyId, generationId: generation.id },
      lookup: sartiqRefinesLookup(run.client, { generationId: generation.id, predictionIds }, run.signal),
      async start() {
        const created = await run.client.createRefines(
          { prediction_ids: predictionIds, ...refineSizeFields(generation, size) },
          run.signal,
        );
        failed = created.failed;
        const ids = Object.fromEntries(created.refines.flatMap((r) => (r.predictionId ? [[r.predictionId, r.id]] : [])));
        run.logger.info({ generationId: generation.id, refines: ids, failed }, 'sartiq refines created');
        return ids;
      },
      record: (ids) => run.memory.set(refinesKey, ids), // before polling: a retry resumes these paid refines
      idOf: (ids) => Object.values(ids).join(','),
    });
    if (Object.keys(refineIds).length === 0) {
      throw producedNothing(generation, `Sartiq refused to refine it: ${failed.join('; ') || 'no reason given'}`);
    }
  }
  const refineIn = (g: SartiqGeneration, predictionId: string) => refineOf(g, predictionId, refineIds[predictionId]);
  const ids = Object.keys(refineIds);
  const refined = await waitForGeneration(slot, generation.id, (g) => ids.every((id) => refineIn(g, id)?.refine.terminal));
  const results: SartiqResult[] = [];
  const failed: { predictionId: string; refineId: string | undefined; status: string; error: string | null }[] = [];
  for (const predictionId of ids) {
    const found = refineIn(refined, predictionId);
    const url = found && !found.refine.failed ? (found.prediction.refinedImageUrl ?? found.refine.resultImageUrl) : null;
    if (found && url !== null) results.push({ url, kind: 'photo' });
    else {
      const status = found?.refine.status ?? 'missing';
      failed.push({ predictionId, refineId: refineIds[predictionId], status, error: found?.refine.errorMessage ?? null });
    }
  }
  if (failed.length > 0) run.logger.warn({ generationId: generation.id, failed }, 'sartiq refines without a result were dropped');
  if (results.length === 0) throw producedNothing(generation, failed[0]?.error ?? 'no refine completed');
  return results;
}

/** The refine `refineId` of prediction `predictionId` in `generation`, with its prediction. */
function refineOf(
  generation: SartiqGeneration,
  predictionId: string,
  refineId: string | undefined,
): { prediction: SartiqPrediction; refine: SartiqRefine } | undefined {
  const prediction = generation.predictions.find((p) => p.id === predictionId);
  const refine = prediction?.refines.find((r) => r.id === refineId);
  return prediction && refine ? { prediction, refine } : undefined;
}

/** `scale_factor`, or `width` + `height` of the generation: the refines endpoint requires one of the two. */
function refineSizeFields(generation: SartiqGeneration, size: SartiqRefineSize): Record<string, number> {
  if (size !== 'generation-size') return { scale_factor: size.scaleFactor };
  const { width, height } = generation;
  if (!width || !height) {
    throw new ConnectorError('PROVIDER_BAD_RESPONSE', `Sartiq generation ${generation.id} has no width and height to refine at`, {
      details: { provider: sartiqProvider, generationId: generation.id },
    });
  }
  return { width, height };
}

/** Follows an agentic run's orchestration until it completed and returns its final image (logging its confidence). */
async function agenticResults(slot: SlotRun, saved: SavedGeneration): Promise<SartiqResult[]> {
  const { run } = slot;
  const { generationId, shotId } = saved;
  const details = { provider: sartiqProvider, generationId, shotId };
  if (!shotId) {
    throw new ConnectorError(
      'PROVIDER_BAD_RESPONSE',
      `Sartiq agentic generation ${generationId} has no orchestration_shot_id, so its final image cannot be known`,
      { details },
    );
  }
  const status = await pollUntil(
    async () => {
      const answer = await run.client.getAgenticStatus(shotId, run.signal);
      return answer.terminal ? answer : undefined;
    },
    polling(slot, `Sartiq agentic shot ${shotId}`),
  );
  const facts = {
    ...details,
    status: status.status,
    bestConfidence: status.bestConfidence,
    totalAttempts: status.totalAttempts,
    attempts: status.attempts.map((a) => ({
      attempt: a.attemptNumber,
      confidence: a.confidenceScore,
      evaluation: a.evaluationStatus,
      error: a.errorMessage,
    })),
  };
  if (status.failed || status.finalImageUrl === null) {
    run.logger.warn(facts, 'sartiq agentic run ended without a final image');
    const reason = status.failed ? `failed: ${status.errorMessage ?? 'no reason given'}` : 'completed without a final image';
    throw new ConnectorError('PROVIDER_GENERATION_FAILED', `Sartiq agentic shot ${shotId} ${reason}`, {
      details: { ...details, bestConfidence: status.bestConfidence },
    });
  }
  run.logger.info(facts, 'sartiq agentic run final');
  return [{ url: status.finalImageUrl, kind: 'photo' }];
}

function warnDropped(slot: SlotRun, generation: SartiqGeneration, dropped: SartiqPrediction[]): void {
  if (dropped.length === 0) return;
  slot.run.logger.warn(
    {
      generationId: generation.id,
      errored: dropped.map((p) => ({ id: p.id, status: p.status, error: p.errorMessage, category: p.errorCategory })),
    },
    'sartiq predictions without a result were dropped',
  );
}

function producedNothing(generation: SartiqGeneration, reason: string): ConnectorError {
  return new ConnectorError('PROVIDER_GENERATION_FAILED', `Sartiq generation ${generation.id} produced nothing: ${reason}`, {
    details: { provider: sartiqProvider, generationId: generation.id },
  });
}

/** Downloads the results (already paid: each download is retried on its own) into the slot's folder. */
async function download(slot: SlotRun, index: number, results: SartiqResult[]): Promise<ProducedFile[]> {
  const { run, request, work } = slot;
  const dir = join(run.outputDir, `sartiq-${index}`);
  await mkdir(dir, { recursive: true });
  const files: ProducedFile[] = [];
  for (const [n, result] of results.entries()) {
    const extension = result.kind === 'video' ? '.mp4' : extname(new URL(result.url).pathname).toLowerCase() || '.jpg';
    const fileName = `${work.name}-${request.slot.mappingKeyId.replace(/[^A-Za-z0-9_-]/g, '_')}-${n + 1}${extension}`;
    const file = await downloadWithRetry(() => run.client.download(result.url, join(dir, fileName), run.signal), run.signal);
    files.push({
      path: file.path,
      fileName,
      bytes: file.bytes,
      contentType: file.contentType,
      kind: result.kind,
      ...(result.predictionId ? { source: { provider: sartiqProvider, id: result.predictionId } } : {}),
    });
  }
  return files;
}
