/**
 * The generation creation endpoints of Sartiq's "Generation Endpoints" reference except refines:
 * `POST /generations/` (on-model), `/generations/agentic`, `/generations/edits`,
 * `/generations/background-fix`, `/generations/image-adjuster`, `/generations/face-fixer` and
 * `/generations/videos`.
 */
import { plannedAttempts } from './agentic.ts';
import {
  createRoute,
  type Draft,
  type ImageLoader,
  type ImageRefs,
  readNumbers,
  readStrings,
  readUuids,
} from './create-route.ts';
import { detail, notEnoughPermissions, notFound } from './errors.ts';
import { WorkTimeline } from './generation.ts';
import { defaultImageSize, type Fit, imageSize, renderFromBase, renderOnModel, type Size } from './render.ts';
import type { Route, RouteContext, SimRequest } from './route.ts';
import type { Checked, FieldReader } from './validation.ts';

/** Documented `GenerationType` values. */
const generationTypes = ['BASE', 'AGENTIC'] as const;
/** Documented `GenerationTool` values (the edit tools). */
const editTools = ['EDIT', 'SUBJECT_SWAP', 'PRODUCT_ENHANCEMENT'] as const;
/** Documented `ImageAdjusterMode` values. */
const adjusterModes = ['auto', 'crop', 'pad', 'scale'] as const;
/** Relative aspect-ratio difference under which `auto` scales instead of padding (default of `tolerance`; not documented). */
const defaultAutoTolerance = 0.1;
/**
 * The evaluators `evaluation_provider` lists ("AI provider for evaluation (anthropic, gemini,
 * openai, mock)"). The field is typed as a string; the simulator refuses any other value.
 */
const evaluationProviders = ['anthropic', 'gemini', 'openai', 'mock'] as const;
/** AgenticGenerationCreate's `shot_type` default. */
const defaultAgenticShotType = 'front_upper_body';
/** `max_attempts` "defaults to orchestrator config"; AgenticShotStatus's `max_attempts` default is 3. */
const defaultMaxAttempts = 3;
/** "Minimum confidence score for acceptance (defaults to 0.7)". */
const defaultMinConfidence = 0.7;
/**
 * The "explicit metadata" a video from `base_image_path` "requires" (VideoGenerationRequest). The
 * seed does not list it; the simulator demands every metadata field of the request but the
 * optional second product (`product2_id`), and answers its 422 `value_error` like a model
 * validator (at `["body"]`), as for "Either prediction_id or base_image_path".
 */
const videoMetadata = ['subject_id', 'product_id', 'style_id', 'shot_type'] as const;

/** `GenerationCreate` fields echoed in `GenerationPublic` under the same name. */
const echoed = {
  strings: [
    'negative_prompt',
    'lighting',
    'framing',
    'perspective',
    'background',
    'tone',
    'pose',
    'extra_prompt',
    'generated_prompt',
    'subject_description',
    'product_description',
    'product2_description',
    'style_description',
    'garment_placement_base_image_url',
  ],
  uuids: ['subject_id', 'product_id', 'product2_id', 'style_id', 'shot_type_id', 'generative_models_id'],
  numbers: ['product_lora_weight', 'subject_lora_weight', 'product2_lora_weight', 'scale_factor'],
} as const;

/** `GenerationCreate` fields only validated: the simulator's images do not depend on them. */
const validatedOnly = {
  strings: [
    'subject_slug',
    'product_slug',
    'product2_slug',
    'style_slug',
    'subject_lora_trigger',
    'product_lora_trigger',
    'product2_lora_trigger',
    'style_lora_trigger',
    'subject_gender',
    'product_gender',
    'status',
  ],
  booleans: [
    'auto_generate_prompt',
    'subject_lora_enabled',
    'product_lora_enabled',
    'product2_lora_enabled',
    'style_lora_enabled',
  ],
} as const;

/** An on-model request (`GenerationCreate`) after validation. */
interface OnModelFields {
  batchSize: number;
  size: Size;
  seed: number | null;
  shotType: string | null;
  product: ImageLoader | undefined;
  publicFields: Record<string, unknown>;
}

/**
 * Reads `GenerationCreate`, or with `agentic` `AgenticGenerationCreate`, whose `shot_type` is a
 * string of 1-50 characters defaulting to `front_upper_body` and whose `generation_type` defaults
 * to `AGENTIC`.
 */
function readOnModel(reader: FieldReader, images: ImageRefs, agentic = false): OnModelFields {
  const echoes = {
    ...readStrings(reader, echoed.strings),
    ...readUuids(reader, echoed.uuids),
    ...readNumbers(reader, echoed.numbers),
  };
  readStrings(reader, validatedOnly.strings);
  for (const name of validatedOnly.booleans) reader.boolean(name, true);
  reader.uuid('pose_preset_id');
  reader.number('style_lora_weight');
  reader.number('reference_image_strength', { ge: 0, le: 100 });
  reader.integer('target_width', { ge: 1 });
  reader.integer('target_height', { ge: 1 });
  reader.object('config');
  const batchSize = reader.integer('batch_size', { fallback: 4, nullable: false, ge: 1 }) ?? 4;
  const width = reader.integer('width', { ge: 1 });
  const height = reader.integer('height', { ge: 1 });
  const productImage = reader.string('product_image');
  const product = images.check('product_image', productImage);
  const product2Image = reader.string('product2_image');
  images.check('product2_image', product2Image);
  const shotType = agentic
    ? reader.string('shot_type', { fallback: defaultAgenticShotType, nullable: false, minLength: 1, maxLength: 50 })
    : reader.string('shot_type');
  const shotTypeString = reader.string('shot_type_string');
  const referencePaths = reader.strings('reference_images_paths') ?? [];
  images.references('reference_images_paths', referencePaths);
  const generationType = agentic ? 'AGENTIC' : 'BASE';
  const size = { width: width ?? defaultImageSize.width, height: height ?? defaultImageSize.height };
  return {
    batchSize,
    size,
    seed: reader.integer('seed'),
    shotType: shotType ?? shotTypeString,
    product,
    publicFields: {
      ...echoes,
      ...size,
      shot_type_string: shotTypeString ?? shotType,
      product_image_url: productImage,
      product2_image_url: product2Image,
      reference_images_paths: referencePaths,
      steps: reader.integer('steps', { fallback: 20, nullable: false }) ?? 20,
      // `refine` and `scale_factor` are only echoed: the seed does not say what they do here, so no refine is made.
      refine: reader.boolean('refine', false),
      autogenerated: reader.boolean('autogenerated', false),
      generation_type: reader.choice('generation_type', generationTypes, { fallback: generationType }) ?? generationType,
      generation_strategy: reader.string('generation_strategy') ?? 'GENERATE',
      tool: reader.string('tool'),
    },
  };
}

function planOnModel(
  fields: OnModelFields,
  label: (index: number) => string = (index) => `${fields.shotType ?? 'on-model'} #${index + 1}`,
): Draft {
  return {
    batchSize: fields.batchSize,
    seed: fields.seed,
    shotType: fields.shotType,
    label,
    fields: fields.publicFields,
    renderImage: async (index) => renderOnModel({ ...fields.size, label: label(index) }, await fields.product?.()),
  };
}

const onModelRoute = createRoute({
  endpoint: 'generations',
  path: '/generations/',
  read: readOnModel,
  plan: async (fields) => ok(planOnModel(fields)),
});

/**
 * `POST /generations/agentic`: an on-model generation whose attempts an orchestrator evaluates and
 * retries (agentic.ts); the answer adds `orchestration_shot_id`, the key of its status endpoint.
 */
const agenticRoute = createRoute({
  endpoint: 'agentic',
  path: '/generations/agentic',
  read: (reader, images) => ({
    ...readOnModel(reader, images, true),
    maxAttempts: reader.integer('max_attempts', { ge: 1, le: 20 }) ?? defaultMaxAttempts,
    minConfidence: reader.number('min_confidence_score', { ge: 0, le: 1 }) ?? defaultMinConfidence,
    evaluationProvider: reader.choice('evaluation_provider', evaluationProviders),
  }),
  plan: async (fields, ctx) => {
    const scores = ctx.state.takeAgenticScores();
    const attempts = plannedAttempts(scores, fields.minConfidence, fields.maxAttempts);
    const shotType = fields.shotType ?? defaultAgenticShotType;
    const draft = planOnModel({ ...fields, batchSize: attempts }, (index) => `${shotType} attempt #${index + 1}`);
    return ok({
      ...draft,
      attempts: true,
      onCreated: (generation) => {
        const run = ctx.state.startAgenticRun({
          generation,
          createdAt: generation.init.createdAt,
          maxAttempts: fields.maxAttempts,
          minConfidence: fields.minConfidence,
          scores,
          evaluationProvider: fields.evaluationProvider,
          shotType,
        });
        // The generation's `shot_id` names its orchestration shot. The reference does not say so:
        // GenerationPublic has a `shot_id`, the status endpoint is `/generations/agentic/{shot_id}/status`
        // and AgenticShotStatus carries a `shot_id`; the simulator reads the three as one.
        generation.init.fields.shot_id = run.shotId;
        return {
          shot_id: run.shotId,
          orchestration_shot_id: run.shotId,
          orchestration_status: 'processing',
          message: 'Shot orchestration started',
          estimated_completion_time: (attempts * WorkTimeline.attemptSpanMs(ctx.state.durationMs)) / 1000,
        };
      },
    });
  },
});

/** A request that works on one input image (`base_img_path`) after validation. */
interface BaseImageFields {
  base: ImageLoader | undefined;
  batchSize: number;
  publicFields: Record<string, unknown>;
}

function readBaseImage(reader: FieldReader, images: ImageRefs, withBatch: boolean): BaseImageFields {
  const base = images.check('base_img_path', reader.requiredString('base_img_path'));
  const batchSize = withBatch ? (reader.integer('batch_size', { fallback: 1, nullable: false, ge: 1 }) ?? 1) : 1;
  return { base, batchSize, publicFields: readUuids(reader, ['subject_id', 'product_id']) };
}

/** The base image's bytes and size (the default size when the simulator does not hold it). */
async function loadBase(base: ImageLoader | undefined): Promise<{ data: Buffer | undefined; size: Size }> {
  const data = base ? await base() : undefined;
  const size = (data && (await imageSize(data))) || { ...defaultImageSize };
  return { data, size };
}

/** A draft whose predictions are `base` fitted to `size` with `fit`, labelled `name #i`. */
function baseImageDraft(
  name: string,
  fields: BaseImageFields,
  base: Buffer | undefined,
  size: Size,
  fit: Fit,
  publicFields: Record<string, unknown>,
): Draft {
  const label = (index: number) => `${name} #${index + 1}`;
  return {
    batchSize: fields.batchSize,
    seed: null,
    shotType: null,
    label,
    fields: { ...fields.publicFields, ...publicFields, ...size },
    renderImage: (index) => renderFromBase(base, { ...size, label: label(index) }, fit),
  };
}

const editsRoute = createRoute({
  endpoint: 'edits',
  path: '/generations/edits',
  read: (reader, images) => {
    const fields = readBaseImage(reader, images, true);
    const referenceImages = reader.strings('reference_images') ?? [];
    images.references('reference_images', referenceImages);
    readStrings(reader, ['prompt', 'gender', 'shot_type']);
    reader.uuid('generative_models_id');
    return {
      ...fields,
      width: reader.integer('width', { ge: 1 }),
      height: reader.integer('height', { ge: 1 }),
      tool: reader.choice('tool', editTools, { fallback: 'EDIT' }) ?? 'EDIT',
      workflow: reader.choice('workflow', generationTypes, { fallback: 'BASE', nullable: false }) ?? 'BASE',
      referenceImages,
    };
  },
  plan: async (fields) => {
    const { data, size } = await loadBase(fields.base);
    const output = { width: fields.width ?? size.width, height: fields.height ?? size.height };
    return ok(
      baseImageDraft(fields.tool, fields, data, output, 'cover', {
        generation_type: fields.workflow,
        generation_strategy: 'EDITING',
        tool: fields.tool,
        reference_images_paths: fields.referenceImages,
      }),
    );
  },
});

const backgroundFixRoute = createRoute({
  endpoint: 'background-fix',
  path: '/generations/background-fix',
  read: (reader, images) => {
    const fields = readBaseImage(reader, images, true);
    images.check('palette_image_path', reader.string('palette_image_path'));
    reader.uuid('background_preset_id');
    reader.string('background_fixer_strategy');
    return { ...fields, framing: reader.string('framing') };
  },
  plan: async (fields) => {
    const { data, size } = await loadBase(fields.base);
    return ok(
      baseImageDraft('background-fix', fields, data, size, 'cover', {
        generation_strategy: 'BACKGROUND_FIXING',
        framing: fields.framing,
      }),
    );
  },
});

/** The image adjuster's size request after validation. */
interface AdjusterFields extends BaseImageFields {
  targetWidth: number | null;
  targetHeight: number | null;
  aspectRatio: number | null;
  mode: (typeof adjusterModes)[number];
  tolerance: number;
}

const imageAdjusterRoute = createRoute({
  endpoint: 'image-adjuster',
  path: '/generations/image-adjuster',
  read: (reader, images): AdjusterFields => {
    const fields = readBaseImage(reader, images, true);
    const targetWidth = reader.integer('target_width', { gt: 0 });
    const targetHeight = reader.integer('target_height', { gt: 0 });
    const aspectRatio = reader.number('aspect_ratio', { gt: 0 });
    const mode = reader.choice('mode', adjusterModes, { fallback: 'auto', nullable: false }) ?? 'auto';
    const tolerance = reader.number('tolerance', { ge: 0, le: 1 }) ?? defaultAutoTolerance;
    readStrings(reader, ['resampling', 'scaling_proportions', 'cropping_position']);
    images.references('reference_images', reader.strings('reference_images'));
    for (const side of ['top', 'right', 'bottom', 'left']) reader.number(`margin_${side}`, { ge: 0 });
    if (!['target_width', 'target_height', 'aspect_ratio'].some((name) => reader.has(name))) {
      reader.valueError('target_width, target_height or aspect_ratio must be provided');
    }
    return { ...fields, targetWidth, targetHeight, aspectRatio, mode, tolerance };
  },
  plan: async (fields) => {
    const { data, size } = await loadBase(fields.base);
    const output = adjustedSize(size, fields);
    return ok(
      baseImageDraft(`image-adjuster ${fields.mode}`, fields, data, output, adjusterFit(size, output, fields), {
        generation_strategy: 'IMAGE_ADJUSTING',
      }),
    );
  },
});

/**
 * The adjusted size: both targets as given; one target with the other side from `aspect_ratio`
 * (else the base's ratio); `aspect_ratio` alone → the largest box inside the base for `crop`, the
 * smallest box around it otherwise.
 */
function adjustedSize(base: Size, fields: AdjusterFields): Size {
  const ratio = fields.aspectRatio ?? base.width / base.height;
  const { targetWidth, targetHeight } = fields;
  if (targetWidth !== null && targetHeight !== null) return { width: targetWidth, height: targetHeight };
  if (targetWidth !== null) return { width: targetWidth, height: Math.max(1, Math.round(targetWidth / ratio)) };
  if (targetHeight !== null) return { width: Math.max(1, Math.round(targetHeight * ratio)), height: targetHeight };
  const wider = base.width / base.height > ratio;
  const keepHeight = fields.mode === 'crop' ? wider : !wider;
  return keepHeight
    ? { width: Math.max(1, Math.round(base.height * ratio)), height: base.height }
    : { width: base.width, height: Math.max(1, Math.round(base.width / ratio)) };
}

/** `crop` covers, `pad` contains, `scale` stretches; `auto` stretches within `tolerance` of the base's ratio, else pads. */
function adjusterFit(base: Size, output: Size, fields: AdjusterFields): Fit {
  switch (fields.mode) {
    case 'crop':
      return 'cover';
    case 'pad':
      return 'contain';
    case 'scale':
      return 'fill';
    case 'auto': {
      const difference = Math.abs(output.width / output.height / (base.width / base.height) - 1);
      return difference <= fields.tolerance ? 'fill' : 'contain';
    }
  }
}

const faceFixerRoute = createRoute({
  endpoint: 'face-fixer',
  path: '/generations/face-fixer',
  read: (reader, images) => {
    const fields = readBaseImage(reader, images, false);
    reader.uuid('generative_models_id');
    return fields;
  },
  plan: async (fields) => {
    const { data, size } = await loadBase(fields.base);
    return ok(baseImageDraft('face-fixer', fields, data, size, 'cover', { generation_strategy: 'FACE_FIXING' }));
  },
});

/** A video request after validation. */
interface VideoFields {
  predictionId: string | null;
  base: ImageLoader | undefined;
  batchSize: number;
  width: number | null;
  height: number | null;
  shotType: string | null;
  publicFields: Record<string, unknown>;
}

const videosRoute = createRoute({
  endpoint: 'videos',
  path: '/generations/videos',
  read: (reader, images): VideoFields => {
    reader.requiredString('prompt');
    reader.number('cfg_scale', { ge: 0, le: 2 });
    const predictionId = reader.uuid('prediction_id');
    const basePath = reader.string('base_image_path');
    const base = images.check('base_image_path', basePath);
    if (!reader.has('prediction_id') && !reader.has('base_image_path')) {
      reader.valueError('Either prediction_id or base_image_path must be provided');
    }
    const missing = videoMetadata.filter((name) => !reader.has(name));
    if (basePath !== null && missing.length > 0) {
      reader.valueError(`base_image_path requires explicit metadata: ${missing.join(', ')} must be provided`);
    }
    return {
      predictionId,
      base,
      batchSize: reader.integer('batch_size', { fallback: 1, nullable: false, ge: 1 }) ?? 1,
      width: reader.integer('width', { ge: 1 }),
      height: reader.integer('height', { ge: 1 }),
      shotType: reader.string('shot_type'),
      publicFields: {
        ...readStrings(reader, ['negative_prompt']),
        ...readUuids(reader, ['subject_id', 'product_id', 'product2_id', 'style_id', 'generative_models_id']),
      },
    };
  },
  plan: async (fields, ctx, req) => {
    const source = await videoSourceSize(fields, ctx, req);
    if (!source.ok) return source;
    const label = (index: number) => `video #${index + 1}`;
    return ok({
      batchSize: fields.batchSize,
      seed: null,
      shotType: fields.shotType,
      label,
      fields: {
        ...fields.publicFields,
        width: fields.width ?? source.value.width,
        height: fields.height ?? source.value.height,
        generation_strategy: 'VIDEO',
      },
    });
  },
});

/**
 * The size of a video's source image: the prediction's generation size (404 / 403 when the
 * prediction is unknown or not the user's, 400 when it has no image yet), else the base image's.
 */
async function videoSourceSize(fields: VideoFields, ctx: RouteContext, req: SimRequest): Promise<Checked<Size>> {
  if (fields.predictionId === null) return ok((await loadBase(fields.base)).size);
  const prediction = ctx.state.predictions.get(fields.predictionId);
  const generation = prediction && ctx.state.generations.get(prediction.generationId);
  if (!prediction || !generation) return { ok: false, reply: notFound('Prediction') };
  if (!ctx.state.canAccess(req.account, generation)) return { ok: false, reply: notEnoughPermissions() };
  if (!prediction.timeline.succeeded(req.now)) return { ok: false, reply: detail(400, 'Prediction has no result image') };
  const { width, height } = generation.init.fields;
  return ok(typeof width === 'number' && typeof height === 'number' ? { width, height } : { ...defaultImageSize });
}

function ok<T>(value: T): Checked<T> {
  return { ok: true, value };
}

/** The creation routes of this file. */
export const generationRoutes: readonly Route[] = [
  onModelRoute,
  agenticRoute,
  editsRoute,
  backgroundFixRoute,
  imageAdjusterRoute,
  faceFixerRoute,
  videosRoute,
];
