/**
 * zod schemas of what the Sartiq Backend API sends us, and the domain types derived from them
 * (docs/providers/sartiq.md). JSON is snake_case; the domain types are camelCase.
 *
 * Parsing is lenient where the sources are thin: unknown fields are dropped, fields the docs give a
 * default get it when missing or null, and status values (whose lists are undocumented, and whose
 * case differs between examples) are compared case-insensitively, an unknown value meaning "not
 * finished yet".
 */
import { z } from 'zod';
import { idLike, numberLike, optionalText } from '../lenient-schemas.ts';

/** Prediction (and refine) statuses that end it: `completed` succeeded, the others failed. */
const finishedStatuses = new Set(['completed', 'error', 'failed']);
const failedStatuses = new Set(['error', 'failed']);
/** Generation statuses that end a generation whatever its predictions say. */
const finishedGenerationStatuses = new Set(['completed', 'failed']);

/** Where a prediction or refine stands, from its status string (any case; unknown = `running`). */
export type SartiqPhase = 'completed' | 'failed' | 'running';

/** The phase of a prediction or refine status: `completed`; `error` / `failed`; anything else running. */
export function sartiqPhase(status: string): SartiqPhase {
  const normalized = status.trim().toLowerCase();
  if (!finishedStatuses.has(normalized)) return 'running';
  return failedStatuses.has(normalized) ? 'failed' : 'completed';
}

/** MediaResourcePublic: only its `url` is used. */
const mediaSchema = z
  .object({ url: optionalText })
  .nullish()
  .transform((v) => v?.url ?? null);

/** `POST /login/access-token`. `expires_in` is documented as 3600; absent means the documented hour. */
export const loginResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: optionalText,
  expires_in: numberLike.pipe(z.number().positive()).nullish(),
});

/** `POST /uploads/presigned-url`. The PUT goes to `uploadUrl`; later calls take `fileUrl`. */
export const presignedUploadSchema = z
  .object({
    upload_url: z.url({ protocol: /^https?$/ }),
    file_url: z.string().min(1),
    expires_in_seconds: numberLike.nullish(),
  })
  .transform((body) => ({
    uploadUrl: body.upload_url,
    fileUrl: body.file_url,
    expiresInSeconds: body.expires_in_seconds ?? null,
  }));
export type SartiqPresignedUpload = z.output<typeof presignedUploadSchema>;

/** One image (or video) of a generation, from PredictionPublic. */
export interface SartiqPrediction {
  id: string;
  /** As sent (PredictionStatus, e.g. `pending`, `generating`, `completed`, `error`); default `pending`. */
  status: string;
  /** Status is completed, error or failed (any case). Unknown statuses are not terminal. */
  terminal: boolean;
  /** Status is error or failed (any case). */
  failed: boolean;
  /** `result_image_url`, else `result_image_media.url`. */
  resultImageUrl: string | null;
  /** `result_video_url`, else `result_video_media.url`. */
  resultVideoUrl: string | null;
  /** The most recent successful refine's result (read-only field of Sartiq). */
  refinedImageUrl: string | null;
  errorMessage: string | null;
  errorCategory: string | null;
  shotType: string | null;
}

export const predictionSchema = z
  .object({
    id: idLike,
    status: optionalText,
    result_image_url: optionalText,
    result_video_url: optionalText,
    result_image_media: mediaSchema,
    result_video_media: mediaSchema,
    refined_image_url: optionalText,
    error_message: optionalText,
    error_category: optionalText,
    shot_type: optionalText,
  })
  .transform((body): SartiqPrediction => {
    const status = body.status ?? 'pending';
    const phase = sartiqPhase(status);
    return {
      id: body.id,
      status,
      terminal: phase !== 'running',
      failed: phase === 'failed',
      resultImageUrl: body.result_image_url ?? body.result_image_media,
      resultVideoUrl: body.result_video_url ?? body.result_video_media,
      refinedImageUrl: body.refined_image_url,
      errorMessage: body.error_message,
      errorCategory: body.error_category,
      shotType: body.shot_type,
    };
  });

/** A generation (GenerationPublic, or AgenticGenerationResponse for the agentic call). */
export interface SartiqGeneration {
  id: string;
  /** As sent (GenerationStatus, e.g. `PENDING`, `PROCESSING`, `COMPLETED`, `FAILED`); default `PENDING`. */
  status: string;
  predictions: SartiqPrediction[];
  /**
   * Finished: every prediction is terminal (and there is at least one), or the generation status
   * is COMPLETED or FAILED (any case). Results are read from `predictions` once terminal.
   */
  terminal: boolean;
  /** The generation status is FAILED, or there are predictions and every one failed. */
  failed: boolean;
  /** `BASE`, `AGENTIC`, … */
  generationType: string | null;
  /** `GENERATE`, `EDITING`, `REFINE`, `VIDEO`, … */
  generationStrategy: string | null;
  tool: string | null;
  organizationId: string | null;
  batchSize: number | null;
  /** Agentic only: the orchestration shot (its own status endpoint is documented as temporary). */
  orchestrationShotId: string | null;
  /** Agentic only: Sartiq's estimate of the time to completion, in seconds (a polling hint). */
  estimatedCompletionTimeS: number | null;
}

export const generationSchema = z
  .object({
    id: idLike,
    status: optionalText,
    predictions: z.array(predictionSchema).nullish(),
    batch_size: numberLike.nullish(),
    generation_type: optionalText,
    generation_strategy: optionalText,
    tool: optionalText,
    organization_id: optionalText,
    orchestration_shot_id: idLike.nullish(),
    estimated_completion_time: numberLike.nullish(),
  })
  .transform((body): SartiqGeneration => {
    const status = body.status ?? 'PENDING';
    const predictions = body.predictions ?? [];
    const normalized = status.trim().toLowerCase();
    const any = predictions.length > 0;
    return {
      id: body.id,
      status,
      predictions,
      terminal: finishedGenerationStatuses.has(normalized) || (any && predictions.every((p) => p.terminal)),
      failed: normalized === 'failed' || (any && predictions.every((p) => p.failed)),
      generationType: body.generation_type,
      generationStrategy: body.generation_strategy,
      tool: body.tool,
      organizationId: body.organization_id,
      batchSize: body.batch_size ?? null,
      orchestrationShotId: body.orchestration_shot_id ?? null,
      estimatedCompletionTimeS: body.estimated_completion_time ?? null,
    };
  });

/** One refine of a prediction (RefinePublic); RefineStatus values are undocumented, read like predictions'. */
export interface SartiqRefine {
  id: string;
  predictionId: string | null;
  status: string;
  terminal: boolean;
  failed: boolean;
  /** `result_image_url`, else `result_image_media.url`. */
  resultImageUrl: string | null;
  errorMessage: string | null;
  errorCategory: string | null;
}

export const refineSchema = z
  .object({
    id: idLike,
    prediction_id: idLike.nullish(),
    status: optionalText,
    result_image_url: optionalText,
    result_image_media: mediaSchema,
    error_message: optionalText,
    error_category: optionalText,
  })
  .transform((body): SartiqRefine => {
    const status = body.status ?? 'pending';
    const phase = sartiqPhase(status);
    return {
      id: body.id,
      predictionId: body.prediction_id ?? null,
      status,
      terminal: phase !== 'running',
      failed: phase === 'failed',
      resultImageUrl: body.result_image_url ?? body.result_image_media,
      errorMessage: body.error_message,
      errorCategory: body.error_category,
    };
  });

/** The failure entries of a MixedRefineResponse: free-form objects (`{index, url, error}`, `{prediction_id, error}`). */
const failureList = z
  .array(z.record(z.string(), z.unknown()))
  .nullish()
  .transform((v) => v ?? []);

/** `POST /generations/refines` (MixedRefineResponse), raw; the client turns failures into lines. */
export const mixedRefineResponseSchema = z.object({
  total_success: numberLike.nullish(),
  total_failed: numberLike.nullish(),
  generations: z
    .array(generationSchema)
    .nullish()
    .transform((v) => v ?? []),
  refines: z
    .array(refineSchema)
    .nullish()
    .transform((v) => v ?? []),
  failed_uploads: failureList,
  failed_refines: failureList,
});

/** One entry of a FastAPI validation error (HTTPValidationError). */
export const validationIssueSchema = z.object({
  loc: z
    .array(z.union([z.string(), z.number()]))
    .nullish()
    .transform((v) => v ?? []),
  msg: z.string(),
  type: optionalText,
});

/** A FastAPI error body: `{"detail": "..."}` or `{"detail": [{loc, msg, type, …}]}`; any other detail is kept raw. */
export const fastApiErrorSchema = z.object({
  detail: z.union([z.string(), z.array(validationIssueSchema), z.unknown()]),
});
