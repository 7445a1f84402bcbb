/**
 * The Sartiq recipes: on-model generation (`sartiq-generate`, optionally agentic or refined), edits
 * (`sartiq-edit`), background fix, image adjusting (resize to a spec), face fix, upscaling
 * (refines), and image-to-video (`sartiq-video`, the only recipe that fills video slots). Each maps
 * its options to the documented request fields of one endpoint and runs the shared generation flow.
 */
import { z } from 'zod';
import { AssetContentType } from '../../creative-force/contract.ts';
import type { ExpectedOutput } from '../../creative-force/schemas.ts';
import { type PollingOptions, pollingOptionsShape } from '../poll.ts';
import { fillTemplate, notesFor, promptWithComments, templateSchema, templateValues, usesField } from '../prompt-template.ts';
import { slotCapacity } from '../provider-work.ts';
import type { ContextNeeds, LocalFile, ProducedFile, ProviderRecipe, SlotRequest } from '../recipe.ts';
import type { SartiqClient } from './client.ts';
import { sartiqProvider } from './errors.ts';
import {
  generateForSlot,
  type SartiqResults,
  type SartiqRun,
  type SartiqSlotWork,
  type SartiqSource,
  uploadedUrl,
} from './generation-run.ts';
import type { SartiqStart } from './lost-start.ts';

/** Sartiq's largest batch in practice; `batch_size` defaults to 4 for generations. */
const maxBatch = 8;

const polling = pollingOptionsShape({ pollIntervalMs: 3_000, deadlineMs: 20 * 60_000 });

/** A Sartiq recipe. */
type SartiqRecipe<Options> = ProviderRecipe<Options, SartiqClient, typeof sartiqProvider>;

/** Drops undefined values, so only what the options set is sent. */
function defined(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

function prompt(run: SartiqRun<unknown>, text: string | undefined, request?: SlotRequest): string | undefined {
  return text === undefined ? undefined : fillTemplate(text, templateValues(run.context, undefined, request));
}

function promptNeeds(...texts: (string | undefined)[]): ContextNeeds {
  const list = texts.filter((t): t is string => t !== undefined);
  return { annotations: usesField(list, 'reviewerComments'), product: usesField(list, 'productName') };
}

/**
 * How `sartiq-generate` and `sartiq-edit` take the reviewers' feedback on a rework, and the
 * outfit's styling files. Sartiq documents no largest number of reference images: the cap is ours.
 */
const feedbackShape = {
  /** On a rework, add the comments on the redone asset to the prompt (`Reviewer feedback: …`) unless it places `{reviewerComments}`. */
  commentsInPrompt: z.boolean().default(true),
  /** On a rework, send the marking images of the redone asset as reference images. */
  markingsAsReferences: z.boolean().default(true),
  /** Send the styling files of the outfit's secondary products (same position first) as reference images. */
  stylingFilesAsReferences: z.boolean().default(false),
  /** The most reference images one request carries (markings first, then styling files, then color references). */
  maxReferenceImages: z.number().int().min(1).max(16).default(4),
};
type FeedbackOptions = z.output<z.ZodObject<typeof feedbackShape>>;

function feedbackNeeds(o: FeedbackOptions, ...texts: (string | undefined)[]): ContextNeeds {
  const needs = promptNeeds(...texts);
  return {
    ...needs,
    annotations: needs.annotations || o.commentsInPrompt || o.markingsAsReferences,
    outfit: o.stylingFilesAsReferences,
  };
}

/** The slot's prompt: the template filled for its drop box, with the reviewers' comments when the options say so. */
function feedbackPrompt(run: SartiqRun<FeedbackOptions>, template: string | undefined, request: SlotRequest): string | undefined {
  return promptWithComments(template, templateValues(run.context, undefined, request), run.options.commentsInPrompt);
}

/** A file to send as a reference image, and the name its upload is remembered by. */
interface Reference {
  file: LocalFile;
  id: string;
}

/** The outfit's styling files for a slot: those of its input's position, else all of them. */
function stylingReferences(run: SartiqRun<unknown>, source: SartiqSource): Reference[] {
  const files = run.context.outfit?.stylingFiles ?? [];
  const tag = source.input.positionTagId;
  const samePosition = tag === null ? [] : files.filter((f) => f.positionTagId === tag);
  return (samePosition.length > 0 ? samePosition : files).map((file) => ({
    file,
    id: `styling:${file.productId}:${file.positionTagId ?? '-'}:${file.fileName}`,
  }));
}

/**
 * The reference images of one slot's request, uploaded: the marking images of the assets it
 * redoes, the outfit's styling files, then `more` (e.g. color references), at most
 * `maxReferenceImages`. Undefined when there are none.
 */
async function referenceUrls(
  run: SartiqRun<FeedbackOptions>,
  request: SlotRequest,
  source: SartiqSource,
  more: Reference[] = [],
): Promise<string[] | undefined> {
  const o = run.options;
  const markings = o.markingsAsReferences
    ? notesFor(run.context, request).flatMap((n) => (n.marking ? [{ file: n.marking, id: `marking:${n.annotationId}` }] : []))
    : [];
  const all = [...markings, ...(o.stylingFilesAsReferences ? stylingReferences(run, source) : []), ...more];
  const sent = all.slice(0, o.maxReferenceImages);
  if (sent.length < all.length) {
    run.logger.info(
      { mappingKeyId: request.slot.mappingKeyId, references: all.length, sent: sent.length },
      'sartiq: reference images beyond maxReferenceImages left out',
    );
  }
  if (sent.length === 0) return undefined;
  const urls: string[] = [];
  for (const reference of sent) urls.push(await uploadedUrl(run, reference.file, reference.id));
  return urls;
}

/** One paid generation per slot. */
const onePerSlot = (requests: readonly SlotRequest[]) => requests.length;

const photoOnly = (name: string) => (slot: ExpectedOutput) =>
  slot.assetContentTypeId === AssetContentType.Video
    ? `slot ${slot.mappingKeyId} expects video; ${name} produces photos (use sartiq-video)`
    : null;

async function eachSlot(
  run: SartiqRun<PollingOptions>,
  work: (request: SlotRequest) => SartiqSlotWork,
): Promise<Map<string, ProducedFile[]>> {
  const result = new Map<string, ProducedFile[]>();
  for (const [index, request] of run.requests.entries()) {
    result.set(request.slot.mappingKeyId, await generateForSlot(run, request, index, work(request)));
  }
  return result;
}

/** The slots of a recipe that makes one generation per slot from its input's URL. */
function eachSlotFrom(
  run: SartiqRun<PollingOptions>,
  name: string,
  create: (request: SlotRequest, inputUrl: string, source: SartiqSource) => SartiqStart | Promise<SartiqStart>,
): Promise<Map<string, ProducedFile[]>> {
  return eachSlot(run, (request) => ({ name, create: (source) => create(request, source.inputUrl, source) }));
}

// ---- sartiq-generate ------------------------------------------------------------------------

/** The evaluators the agentic endpoint documents for `evaluation_provider`. */
const evaluationProviders = ['anthropic', 'gemini', 'openai', 'mock'] as const;

/** The agentic endpoint's default `shot_type`, sent when no shot type is configured for a slot. */
const defaultAgenticShotType = 'front_upper_body';

export const generateOptionsSchema = z
  .strictObject({
    subjectId: z.string().optional(),
    subjectSlug: z.string().optional(),
    styleId: z.string().optional(),
    styleSlug: z.string().optional(),
    /** The shot type of every slot, unless its position has one below. */
    shotType: z.string().optional(),
    /** Position name (e.g. Front, Back) → shot type, so one task produces one matching shot per position. */
    shotTypeByPosition: z.record(z.string(), z.string()).default({}),
    pose: z.string().optional(),
    framing: z.string().optional(),
    background: z.string().optional(),
    lighting: z.string().optional(),
    extraPrompt: templateSchema.optional(),
    negativePrompt: z.string().optional(),
    /** Use /generations/agentic: automatic quality evaluation and retries on Sartiq's side; its final image is the result. */
    agentic: z.boolean().default(false),
    maxAttempts: z.number().int().min(1).max(20).default(3),
    minConfidenceScore: z.number().min(0).max(1).default(0.7),
    /** The evaluator of an agentic run (`evaluation_provider`); Sartiq's default when omitted. */
    evaluationProvider: z.enum(evaluationProviders).optional(),
    /** Refine each image (POST /generations/refines) and submit the refined one. */
    refine: z.boolean().default(false),
    /** Upscale each image by this factor (a refine with `scale_factor`) and submit the upscaled one. */
    scaleFactor: z.union([z.literal(2), z.literal(4), z.literal(8)]).optional(),
    ...feedbackShape,
    /** `reference_image_strength` (0-100, "Influence of the reference image on generation"), sent with reference images. */
    referenceImageStrength: z.number().min(0).max(100).optional(),
    ...polling,
  })
  .refine((o) => !(o.agentic && (o.refine || o.scaleFactor !== undefined)), {
    message:
      'an agentic run yields the one image its evaluator chose, which cannot be refined: drop refine and scaleFactor, or agentic',
    path: ['agentic'],
  });
export type GenerateOptions = z.output<typeof generateOptionsSchema>;

/** Options that give a shot type per slot. */
interface ShotTypeOptions {
  shotType?: string | undefined;
  shotTypeByPosition: Record<string, string>;
}

/** The shot type of a slot: its position's entry (case-insensitive), else the default. */
export function shotTypeFor(slot: ExpectedOutput, options: ShotTypeOptions): string | undefined {
  const position = slot.positionName?.trim().toLowerCase();
  const entry = Object.entries(options.shotTypeByPosition).find(([name]) => name.trim().toLowerCase() === position);
  return entry?.[1] ?? options.shotType;
}

/** Which files a generation of these options yields: the agentic final image, refined images, or the predictions. */
function generateResults(o: GenerateOptions): SartiqResults {
  if (o.agentic) return { from: 'agentic' };
  if (o.scaleFactor !== undefined) return { from: 'refines', size: { scaleFactor: o.scaleFactor } };
  return o.refine ? { from: 'refines', size: 'generation-size' } : { from: 'predictions' };
}

export const generateRecipe: SartiqRecipe<GenerateOptions> = {
  name: 'sartiq-generate',
  provider: sartiqProvider,
  produces: 'photo',
  optionsSchema: generateOptionsSchema,
  needs: (o) => feedbackNeeds(o, o.extraPrompt),
  // The generation, and with refine or scaleFactor the refines of its images (a second paid call).
  paidCalls: (requests, o) => requests.length * (o.refine || o.scaleFactor !== undefined ? 2 : 1),
  cannotFill: (slot, o) =>
    photoOnly('sartiq-generate')(slot) ??
    (o.agentic && slot.minQuantity > 1
      ? `slot ${slot.mappingKeyId} needs at least ${slot.minQuantity} files; an agentic run yields one`
      : null),
  run: (run) => {
    const o = run.options;
    return eachSlot(run, (request) => ({
      name: 'sartiq-generate',
      results: generateResults(o),
      // `refine` and `scale_factor` are not sent: what they do on a generation is undocumented, and
      // the refine is asked for through the documented refines endpoint once the images exist.
      create: async (source) => {
        const references = await referenceUrls(run, request, source);
        return {
          kind: o.agentic ? 'agentic' : 'generate',
          body: defined({
            product_image: source.inputUrl,
            batch_size: slotCapacity(request, maxBatch),
            subject_id: o.subjectId,
            subject_slug: o.subjectSlug,
            style_id: o.styleId,
            style_slug: o.styleSlug,
            shot_type: shotTypeFor(request.slot, o) ?? (o.agentic ? defaultAgenticShotType : undefined),
            pose: o.pose,
            framing: o.framing,
            background: o.background,
            lighting: o.lighting,
            extra_prompt: feedbackPrompt(run, o.extraPrompt, request),
            negative_prompt: o.negativePrompt,
            reference_images_paths: references,
            reference_image_strength: references ? o.referenceImageStrength : undefined,
            ...(o.agentic
              ? {
                  max_attempts: o.maxAttempts,
                  min_confidence_score: o.minConfidenceScore,
                  evaluation_provider: o.evaluationProvider,
                }
              : {}),
          }),
        };
      },
    }));
  },
};

// ---- single-image tools ---------------------------------------------------------------------

export const editOptionsSchema = z.strictObject({
  tool: z.enum(['EDIT', 'SUBJECT_SWAP', 'PRODUCT_ENHANCEMENT']).default('EDIT'),
  prompt: templateSchema.optional(),
  subjectId: z.string().optional(),
  /** Send the task's color reference files as `reference_images` ("reference images for placement"). */
  colorReferencesAsReferences: z.boolean().default(false),
  ...feedbackShape,
  ...polling,
});

/** The task's color reference files, to upload as reference images. */
function colorReferences(run: SartiqRun<unknown>): Reference[] {
  return (run.context.colorReferences ?? []).map((file) => ({ file, id: `color-reference:${file.fileName}` }));
}

/** The task's color reference files, uploaded, as URLs for a Sartiq request. */
async function colorReferenceUrls(run: SartiqRun<unknown>): Promise<string[] | undefined> {
  const files = colorReferences(run);
  if (files.length === 0) return undefined;
  const urls: string[] = [];
  for (const { file, id } of files) urls.push(await uploadedUrl(run, file, id));
  return urls;
}
export const editRecipe: SartiqRecipe<z.output<typeof editOptionsSchema>> = {
  name: 'sartiq-edit',
  provider: sartiqProvider,
  produces: 'photo',
  optionsSchema: editOptionsSchema,
  needs: (o) => ({ ...feedbackNeeds(o, o.prompt), colorReferences: o.colorReferencesAsReferences }),
  paidCalls: onePerSlot,
  cannotFill: photoOnly('sartiq-edit'),
  run: (run) =>
    eachSlotFrom(run, 'sartiq-edit', async (request, base, source) => ({
      kind: 'edit',
      body: defined({
        base_img_path: base,
        tool: run.options.tool,
        prompt: feedbackPrompt(run, run.options.prompt, request),
        subject_id: run.options.subjectId,
        reference_images: await referenceUrls(
          run,
          request,
          source,
          run.options.colorReferencesAsReferences ? colorReferences(run) : [],
        ),
        batch_size: request.count,
      }),
    })),
};

export const backgroundFixOptionsSchema = z.strictObject({
  backgroundPresetId: z.string().optional(),
  framing: z.string().optional(),
  strategy: z.string().optional(),
  /** Send the task's first color reference file as `palette_image_path` (target colour reference). */
  paletteFromColorReference: z.boolean().default(false),
  ...polling,
});
export const backgroundFixRecipe: SartiqRecipe<z.output<typeof backgroundFixOptionsSchema>> = {
  name: 'sartiq-background-fix',
  provider: sartiqProvider,
  produces: 'photo',
  optionsSchema: backgroundFixOptionsSchema,
  needs: (o) => ({ colorReferences: o.paletteFromColorReference }),
  paidCalls: onePerSlot,
  cannotFill: photoOnly('sartiq-background-fix'),
  run: (run) =>
    eachSlotFrom(run, 'sartiq-background-fix', async (request, base) => ({
      kind: 'background-fix',
      body: defined({
        base_img_path: base,
        palette_image_path: run.options.paletteFromColorReference ? (await colorReferenceUrls(run))?.[0] : undefined,
        batch_size: request.count,
        background_preset_id: run.options.backgroundPresetId,
        framing: run.options.framing,
        background_fixer_strategy: run.options.strategy,
      }),
    })),
};

export const imageAdjustOptionsSchema = z
  .strictObject({
    targetWidth: z.number().int().positive().optional(),
    targetHeight: z.number().int().positive().optional(),
    aspectRatio: z.number().positive().optional(),
    mode: z.enum(['auto', 'crop', 'pad', 'scale']).default('auto'),
    tolerance: z.number().min(0).max(1).optional(),
    ...polling,
  })
  .refine((o) => (o.targetWidth !== undefined && o.targetHeight !== undefined) || o.aspectRatio !== undefined, {
    message: 'give targetWidth and targetHeight, or aspectRatio',
  });
export const imageAdjustRecipe: SartiqRecipe<z.output<typeof imageAdjustOptionsSchema>> = {
  name: 'sartiq-image-adjust',
  provider: sartiqProvider,
  produces: 'photo',
  optionsSchema: imageAdjustOptionsSchema,
  needs: () => ({}),
  paidCalls: onePerSlot,
  cannotFill: photoOnly('sartiq-image-adjust'),
  run: (run) =>
    eachSlotFrom(run, 'sartiq-image-adjust', (request, base) => ({
      kind: 'image-adjust',
      body: defined({
        base_img_path: base,
        batch_size: request.count,
        target_width: run.options.targetWidth,
        target_height: run.options.targetHeight,
        aspect_ratio: run.options.aspectRatio,
        mode: run.options.mode,
        tolerance: run.options.tolerance,
      }),
    })),
};

export const faceFixOptionsSchema = z.strictObject({ subjectId: z.string().optional(), ...polling });
export const faceFixRecipe: SartiqRecipe<z.output<typeof faceFixOptionsSchema>> = {
  name: 'sartiq-face-fix',
  provider: sartiqProvider,
  produces: 'photo',
  optionsSchema: faceFixOptionsSchema,
  needs: () => ({}),
  paidCalls: onePerSlot,
  cannotFill: photoOnly('sartiq-face-fix'),
  run: (run) =>
    eachSlotFrom(run, 'sartiq-face-fix', (_request, base) => ({
      kind: 'face-fix',
      body: defined({ base_img_path: base, subject_id: run.options.subjectId }),
    })),
};

export const upscaleOptionsSchema = z.strictObject({
  scaleFactor: z.union([z.literal(2), z.literal(4), z.literal(8)]).default(2),
  prompt: templateSchema.optional(),
  ...polling,
});
export const upscaleRecipe: SartiqRecipe<z.output<typeof upscaleOptionsSchema>> = {
  name: 'sartiq-upscale',
  provider: sartiqProvider,
  produces: 'photo',
  optionsSchema: upscaleOptionsSchema,
  needs: (o) => promptNeeds(o.prompt),
  // One refine of the uploaded input per slot (its one generation).
  paidCalls: onePerSlot,
  cannotFill: photoOnly('sartiq-upscale'),
  run: (run) =>
    eachSlotFrom(run, 'sartiq-upscale', (request, base) => ({
      kind: 'upscale',
      // One generation (of the one uploaded image) per call: POST /generations/refines.
      body: defined({
        base_image_urls: [base],
        scale_factor: run.options.scaleFactor,
        prompt: prompt(run, run.options.prompt, request),
      }),
    })),
};

// ---- sartiq-video ---------------------------------------------------------------------------

/** The metadata `base_image_path` "requires explicit[ly]" (VideoGenerationRequest), as option names. */
const videoMetadata = ['subjectId', 'productId', 'styleId'] as const;

export const videoOptionsSchema = z
  .strictObject({
    prompt: templateSchema,
    negativePrompt: z.string().optional(),
    cfgScale: z.number().min(0).max(2).optional(),
    /**
     * `input`: the video starts from the slot's input image (`base_image_path`, which "requires
     * explicit metadata": the ids and shot type below); when that input is a still Sartiq made in
     * this cycle (an earlier pipeline stage, or another slot's still through `from`) and is that
     * prediction's own image, from the prediction instead (`prediction_id`, which "inherits
     * metadata": the ids are then not sent). `generation`: an on-model still (one image,
     * `POST /generations/`) is generated from the input first, and the video starts from its
     * prediction.
     */
    source: z.enum(['input', 'generation']).default('input'),
    subjectId: z.guid().optional(),
    productId: z.guid().optional(),
    styleId: z.guid().optional(),
    /** The shot type of every slot, unless its position has one below. */
    shotType: z.string().min(1).optional(),
    /** Position name (e.g. Front, Back) → shot type. */
    shotTypeByPosition: z.record(z.string(), z.string().min(1)).default({}),
    ...polling,
  })
  .superRefine((o, ctx) => {
    if (o.source !== 'input') return;
    const missing: string[] = videoMetadata.filter((name) => o[name] === undefined);
    if (o.shotType === undefined && Object.keys(o.shotTypeByPosition).length === 0) missing.push('shotType');
    if (missing.length === 0) return;
    ctx.addIssue({
      code: 'custom',
      path: [missing[0] ?? 'source'],
      message: `a video from the input image needs ${missing.join(', ')} (Sartiq's base_image_path "requires explicit metadata"), or source: generation`,
    });
  });
type VideoOptions = z.output<typeof videoOptionsSchema>;

export const videoRecipe: SartiqRecipe<VideoOptions> = {
  name: 'sartiq-video',
  provider: sartiqProvider,
  produces: 'video',
  optionsSchema: videoOptionsSchema,
  needs: (o) => promptNeeds(o.prompt),
  // The video, and with `source: generation` the still it starts from.
  paidCalls: (requests, o) => requests.length * (o.source === 'generation' ? 2 : 1),
  cannotFill: (slot, o) => {
    if (slot.assetContentTypeId === AssetContentType.Photo) {
      return `slot ${slot.mappingKeyId} expects a photo; sartiq-video produces video`;
    }
    if (o.source === 'input' && shotTypeFor(slot, o) === undefined) {
      return `slot ${slot.mappingKeyId} (position ${slot.positionName ?? 'none'}) has no shot type: a video from the input image needs one (shotType or shotTypeByPosition)`;
    }
    return null;
  },
  run: (run) => {
    const o = run.options;
    const metadata = (request: SlotRequest) => ({
      subject_id: o.subjectId,
      product_id: o.productId,
      style_id: o.styleId,
      shot_type: shotTypeFor(request.slot, o),
    });
    const video = (request: SlotRequest, from: Record<string, unknown>): SartiqStart => ({
      kind: 'video',
      body: defined({
        prompt: prompt(run, o.prompt, request),
        ...from,
        negative_prompt: o.negativePrompt,
        cfg_scale: o.cfgScale,
        batch_size: request.count,
      }),
    });
    return eachSlot(run, (request) => ({
      name: 'sartiq-video',
      still:
        o.source === 'generation'
          ? (productImage) => ({
              kind: 'generate',
              body: defined({ product_image: productImage, batch_size: 1, ...metadata(request) }),
            })
          : undefined,
      // A still another slot or stage made with Sartiq in this cycle: its prediction, which "inherits metadata".
      fromPrediction: o.source === 'input' ? (predictionId) => video(request, { prediction_id: predictionId }) : undefined,
      create: ({ inputUrl, predictionId }) =>
        video(
          request,
          predictionId === undefined ? { base_image_path: inputUrl, ...metadata(request) } : { prediction_id: predictionId },
        ),
    }));
  },
};

export const sartiqRecipes: readonly SartiqRecipe<unknown>[] = [
  generateRecipe,
  editRecipe,
  backgroundFixRecipe,
  imageAdjustRecipe,
  faceFixRecipe,
  upscaleRecipe,
  videoRecipe,
];
