/**
 * `POST /generations/refines` (Sartiq's "Generation Endpoints": `RefineGenerationRequest` →
 * `MixedRefineResponse`): each uploaded image (`base_image_urls`, deprecated `base_image_url`)
 * becomes a generation with `batch_size` 1, each prediction (`prediction_ids`) gets a refine;
 * either the refined `width` + `height` or a `scale_factor` of 2, 4 or 8 is required. Inputs that
 * cannot be used go to `failed_uploads` / `failed_refines` instead of failing the request.
 */
import { randomInt } from 'node:crypto';
import type { Prediction } from './generation.ts';
import { imageSize, renderFromBase, type Size } from './render.ts';
import { organizationOf, type Route, type RouteContext, type SimRequest } from './route.ts';
import { type Checked, canonicalUuid, FieldReader, readJsonObject } from './validation.ts';

/** The documented refine scale factors. */
const scaleFactors: readonly number[] = [2, 4, 8];

/** A refine request after validation. */
interface RefineRequest {
  body: Record<string, unknown>;
  organizationId: string | null;
  baseUrls: string[];
  predictionIds: string[];
  /** prediction id → the refine of it to refine again. */
  chain: Map<string, string>;
  width: number | null;
  height: number | null;
  scaleFactor: number | null;
  prompt: string | null;
  refineModelId: string | null;
}

/** Why an input was not used; the texts are this simulator's (not documented). */
const failures = {
  notUploaded: 'File not found in temporary storage',
  notImage: 'File is not a readable image',
  noPrediction: 'Prediction not found',
  forbidden: 'Not enough permissions',
  noResult: 'Prediction has no result image',
  noRefine: 'Refine to chain from not found or not completed',
} as const;

const refinesRoute: Route = {
  method: 'POST',
  path: '/generations/refines',
  handle: async (ctx, req) => {
    const json = readJsonObject(req);
    if (!json.ok) return json.reply;
    const checked = readRefineRequest(new FieldReader(json.value), json.value);
    if (!checked.ok) return checked.reply;
    const request = checked.value;
    const organization = organizationOf(req, request.organizationId);
    if (!organization.ok) return organization.reply;
    const generations: Record<string, unknown>[] = [];
    const failedUploads: Record<string, unknown>[] = [];
    for (const [index, url] of request.baseUrls.entries()) {
      const created = await refineUpload(ctx, req, request, url, organization.value);
      if (typeof created === 'string') failedUploads.push({ index, url, error: created });
      else generations.push(created);
    }
    const refines: Record<string, unknown>[] = [];
    const failedRefines: Record<string, unknown>[] = [];
    for (const predictionId of request.predictionIds) {
      const created = await refinePrediction(ctx, req, request, predictionId);
      if (typeof created === 'string') failedRefines.push({ prediction_id: predictionId, error: created });
      else refines.push(created);
    }
    return {
      status: 200,
      body: {
        total_success: generations.length + refines.length,
        total_failed: failedUploads.length + failedRefines.length,
        generations,
        refines,
        failed_uploads: failedUploads,
        failed_refines: failedRefines,
      },
    };
  },
};

function readRefineRequest(reader: FieldReader, body: Record<string, unknown>): Checked<RefineRequest> {
  const organizationId = reader.uuid('organization_id');
  const legacyUrl = reader.string('base_image_url');
  const baseUrls = [...(reader.strings('base_image_urls') ?? []), ...(legacyUrl === null ? [] : [legacyUrl])];
  const predictionIds = reader.uuids('prediction_ids') ?? [];
  const chain = readChain(reader, predictionIds);
  const width = reader.integer('width', { gt: 0 });
  const height = reader.integer('height', { gt: 0 });
  const scaleFactor = reader.number('scale_factor');
  const prompt = reader.string('prompt');
  const refineModelId = reader.uuid('refine_model_id');
  if (scaleFactor !== null && !scaleFactors.includes(scaleFactor)) {
    reader.valueError('scale_factor must be one of 2.0, 4.0 or 8.0', 'scale_factor');
  }
  if (!['base_image_urls', 'base_image_url', 'prediction_ids'].some((name) => reader.has(name))) {
    reader.valueError('Either base_image_urls or prediction_ids must be provided');
  }
  if (reader.has('width') !== reader.has('height')) reader.valueError('width and height must be provided together');
  if (!['width', 'height', 'scale_factor'].some((name) => reader.has(name))) {
    reader.valueError('Either width and height or scale_factor must be provided');
  }
  const problem = reader.problem();
  if (problem) return { ok: false, reply: problem };
  return {
    ok: true,
    value: { body, organizationId, baseUrls, predictionIds, chain, width, height, scaleFactor, prompt, refineModelId },
  };
}

/** `refines_refine_ids` (prediction id → refine id), plus the deprecated `refines_refine_id` for a single prediction. */
function readChain(reader: FieldReader, predictionIds: string[]): Map<string, string> {
  const chain = new Map<string, string>();
  for (const [predictionId, refineId] of Object.entries(reader.object('refines_refine_ids') ?? {})) {
    const key = canonicalUuid(predictionId);
    const value = typeof refineId === 'string' ? canonicalUuid(refineId) : undefined;
    if (key === undefined || value === undefined) reader.valueError('keys and values must be UUIDs', 'refines_refine_ids');
    else chain.set(key, value);
  }
  const legacy = reader.uuid('refines_refine_id');
  const [only] = predictionIds;
  if (legacy !== null && only !== undefined && predictionIds.length === 1 && !chain.has(only)) chain.set(only, legacy);
  return chain;
}

/** The refined size of an image of `size`. */
function refinedSize(request: RefineRequest, size: Size): Size {
  if (request.width !== null && request.height !== null) return { width: request.width, height: request.height };
  const factor = request.scaleFactor ?? 1;
  return { width: Math.round(size.width * factor), height: Math.round(size.height * factor) };
}

/** A generation refining an uploaded image (its `GenerationPublic`), or why the upload cannot be used. */
async function refineUpload(
  ctx: RouteContext,
  req: SimRequest,
  request: RefineRequest,
  url: string,
  organizationId: string | null,
): Promise<Record<string, unknown> | string> {
  const found = ctx.state.files.lookup(url, req.now);
  if (found.kind !== 'local') return failures.notUploaded;
  const data = await found.data();
  const size = await imageSize(data);
  if (!size) return failures.notImage;
  const output = refinedSize(request, size);
  const seed = randomInt(0, 2 ** 31 - 1);
  const label = (index: number) => `refine #${index + 1}`;
  const generation = ctx.state.createGeneration({
    batchSize: 1,
    seed,
    shotType: null,
    label,
    renderImage: (index) => renderFromBase(data, { ...output, label: label(index) }, 'fill'),
    body: request.body,
    init: {
      endpoint: 'refines',
      ownerId: req.account.id,
      organizationId,
      createdAt: req.now,
      fields: { ...output, seed, steps: 20, refine: true, scale_factor: request.scaleFactor, generation_strategy: 'REFINE' },
    },
  });
  return generation.toPublic(req.now);
}

/** A refine of a prediction (its `RefinePublic`), or why the prediction cannot be refined. */
async function refinePrediction(
  ctx: RouteContext,
  req: SimRequest,
  request: RefineRequest,
  predictionId: string,
): Promise<Record<string, unknown> | string> {
  const prediction = ctx.state.predictions.get(predictionId);
  const generation = prediction && ctx.state.generations.get(prediction.generationId);
  if (!prediction || !generation) return failures.noPrediction;
  if (!ctx.state.canAccess(req.account, generation)) return failures.forbidden;
  const sourceUrl = refineSource(prediction, request.chain.get(predictionId), req.now);
  if (sourceUrl === undefined) return request.chain.has(predictionId) ? failures.noRefine : failures.noResult;
  const found = ctx.state.files.lookup(sourceUrl, req.now);
  if (found.kind !== 'local') return failures.noResult;
  const data = await found.data();
  const size = await imageSize(data);
  if (!size) return failures.notImage;
  const output = refinedSize(request, size);
  const refine = ctx.state.createRefine({
    prediction,
    ...output,
    scaleFactor: request.scaleFactor,
    prompt: request.prompt,
    refineModelId: request.refineModelId,
    refinesRefineId: request.chain.get(predictionId) ?? null,
    render: () => renderFromBase(data, { ...output, label: 'refine' }, 'fill'),
    now: req.now,
  });
  return refine.toPublic(req.now);
}

/** The URL of the image to refine: the chained refine's result, or the prediction's; `undefined` when not ready. */
function refineSource(prediction: Prediction, refineId: string | undefined, now: number): string | undefined {
  if (refineId === undefined) {
    return prediction.output.kind === 'image' && prediction.timeline.succeeded(now) ? prediction.output.url : undefined;
  }
  const refine = prediction.refines.find((r) => r.id === refineId);
  return refine?.init.timeline.succeeded(now) ? refine.init.resultUrl : undefined;
}

/** The refine creation route. */
export const refineRoutes: readonly Route[] = [refinesRoute];
