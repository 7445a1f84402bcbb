/**
 * zod schemas of what the Sartiq Backend API sends us, and the domain types derived from them
 * (docs/providers/sartiq.md). JSON is snake_case; the domain types are camelCase.
 *
 * Parsing is lenient where the sources are thin: unknown fields are dropped, fields the docs give a
 * default get it when missing or null, and status values (whose lists are undocumented, and whose
 * case differs between examples) are compared case-insensitively with the configured words
 * (SartiqStatuses), an unknown value meaning "not finished yet". The schemas that read statuses are
 * built from those words by sartiqSchemas.
 */
import { z } from 'zod';
import { idLike, numberLike, optionalDateTime, optionalText } from '../lenient-schemas.ts';
import type { SartiqStatuses, SartiqStatusWords } from './config.ts';

/**
 * The `status`, `terminal` and `failed` of a domain type: the status sent (else its documented
 * default), compared with `words` case-insensitively; a value in neither list is not finished.
 */
function progress(sent: string | null, fallback: string, words: SartiqStatusWords) {
  const status = sent ?? fallback;
  const normalized = status.trim().toLowerCase();
  const is = (list: readonly string[]) => list.some((word) => word.toLowerCase() === normalized);
  const failed = is(words.failed);
  return { status, terminal: failed || is(words.completed), failed };
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

/** One refine of a prediction (RefinePublic). */
export interface SartiqRefine {
  id: string;
  predictionId: string | null;
  /** As sent (RefineStatus, e.g. `pending`); default `pending`. */
  status: string;
  /** The status is one of the refine's completed or failed words. */
  terminal: boolean;
  /** The status is one of the refine's failed words. */
  failed: boolean;
  /** `result_image_url`, else `result_image_media.url`. */
  resultImageUrl: string | null;
  errorMessage: string | null;
  errorCategory: string | null;
  /** `created_at` as epoch ms; null when not sent or unreadable. */
  createdAt: number | null;
}

/** One image (or video) of a generation, from PredictionPublic. */
export interface SartiqPrediction {
  id: string;
  /** As sent (PredictionStatus, e.g. `pending`, `generating`, `completed`, `error`); default `pending`. */
  status: string;
  /** The status is one of the prediction's completed or failed words; unknown statuses are not terminal. */
  terminal: boolean;
  /** The status is one of the prediction's failed words. */
  failed: boolean;
  /** `result_image_url`, else `result_image_media.url`. */
  resultImageUrl: string | null;
  /** `result_video_url`, else `result_video_media.url`. */
  resultVideoUrl: string | null;
  /** "the most recent successful refine's result_image_url" (a read-only field of Sartiq). */
  refinedImageUrl: string | null;
  /** The refines of this prediction (`refines[]`). */
  refines: SartiqRefine[];
  errorMessage: string | null;
  errorCategory: string | null;
  shotType: string | null;
}

/** A generation (GenerationPublic, or AgenticGenerationResponse for the agentic call). */
export interface SartiqGeneration {
  id: string;
  /** As sent (GenerationStatus, e.g. `PENDING`, `PROCESSING`, `COMPLETED`, `FAILED`); default `PENDING`. */
  status: string;
  predictions: SartiqPrediction[];
  /**
   * Finished: every prediction is terminal (and there is at least one), or the generation status
   * is one of its completed or failed words. Results are read from `predictions` once terminal.
   */
  terminal: boolean;
  /** The generation status is one of its failed words, or there are predictions and every one failed. */
  failed: boolean;
  /** `BASE`, `AGENTIC`, … */
  generationType: string | null;
  /** `GENERATE`, `EDITING`, `REFINE`, `VIDEO`, … */
  generationStrategy: string | null;
  tool: string | null;
  organizationId: string | null;
  batchSize: number | null;
  /** The size of the generation's images (required fields of GenerationPublic). */
  width: number | null;
  height: number | null;
  /** Agentic only: the orchestration shot, whose status endpoint tells the run's final image. */
  orchestrationShotId: string | null;
  /** `shot_id` (for an agentic generation, taken for its orchestration shot: docs/providers/sartiq.md). */
  shotId: string | null;
  /** `created_at` as epoch ms; null when not sent or unreadable. */
  createdAt: number | null;
  /** Agentic only: Sartiq's estimate of the time to completion, in seconds (a polling hint). */
  estimatedCompletionTimeS: number | null;
}

/** A generation of `GET /generations/`: as parsed, and its fields as sent (to read the one that shows an input). */
export interface SartiqListedGeneration {
  generation: SartiqGeneration;
  fields: Record<string, unknown>;
}

/** One attempt of an agentic run (AgenticShotAttempt). */
export interface SartiqAgenticAttempt {
  /** 1-based. */
  attemptNumber: number | null;
  imageUrl: string | null;
  /** Evaluation status (values undocumented). */
  evaluationStatus: string | null;
  confidenceScore: number | null;
  errorMessage: string | null;
}

/** Where an agentic run stands (AgenticShotStatus of `GET /generations/agentic/{shot_id}/status`). */
export interface SartiqAgenticStatus {
  shotId: string;
  /** As sent ("Current orchestration status"; `processing`, `completed`, `failed` in the creation answer). */
  status: string;
  /** The status is one of the agentic completed or failed words; unknown statuses are not terminal. */
  terminal: boolean;
  /** The status is one of the agentic failed words. */
  failed: boolean;
  /** "Final selected image URL": the run's one result, once completed. */
  finalImageUrl: string | null;
  /** "Best confidence score achieved". */
  bestConfidence: number | null;
  totalAttempts: number | null;
  maxAttempts: number | null;
  errorMessage: string | null;
  attempts: SartiqAgenticAttempt[];
}

/** The schemas of the answers that carry statuses, reading them with `statuses`. */
export interface SartiqSchemas {
  /** `GET /generations/{id}` and the generation creation calls. */
  generation: z.ZodType<SartiqGeneration>;
  /** `GET /generations/` (GenerationsPublic: `{ data, count }`), the generations of `data`. */
  generationList: z.ZodType<SartiqListedGeneration[]>;
  /** `POST /generations/refines` (MixedRefineResponse), raw failure lists; the client turns them into lines. */
  mixedRefineResponse: z.ZodType<{
    generations: SartiqGeneration[];
    refines: SartiqRefine[];
    failed_uploads: Record<string, unknown>[];
    failed_refines: Record<string, unknown>[];
  }>;
  /** `GET /generations/agentic/{shot_id}/status`. */
  agenticStatus: z.ZodType<SartiqAgenticStatus>;
}

/** The failure entries of a MixedRefineResponse: free-form objects (`{index, url, error}`, `{prediction_id, error}`). */
const failureList = z
  .array(z.record(z.string(), z.unknown()))
  .nullish()
  .transform((v) => v ?? []);

/** A list the docs give a default for: missing or null means empty. */
function listOf<T extends z.ZodType>(item: T) {
  return z
    .array(item)
    .nullish()
    .transform((v): z.output<T>[] => v ?? []);
}

/** Builds the schemas that read statuses with `statuses`. */
export function sartiqSchemas(statuses: SartiqStatuses): SartiqSchemas {
  const refine = z
    .object({
      id: idLike,
      prediction_id: idLike.nullish(),
      status: optionalText,
      result_image_url: optionalText,
      result_image_media: mediaSchema,
      error_message: optionalText,
      error_category: optionalText,
      created_at: optionalDateTime,
    })
    .transform(
      (body): SartiqRefine => ({
        id: body.id,
        predictionId: body.prediction_id ?? null,
        ...progress(body.status, 'pending', statuses.refine),
        resultImageUrl: body.result_image_url ?? body.result_image_media,
        errorMessage: body.error_message,
        errorCategory: body.error_category,
        createdAt: body.created_at,
      }),
    );

  const prediction = z
    .object({
      id: idLike,
      status: optionalText,
      result_image_url: optionalText,
      result_video_url: optionalText,
      result_image_media: mediaSchema,
      result_video_media: mediaSchema,
      refined_image_url: optionalText,
      refines: listOf(refine),
      error_message: optionalText,
      error_category: optionalText,
      shot_type: optionalText,
    })
    .transform(
      (body): SartiqPrediction => ({
        id: body.id,
        ...progress(body.status, 'pending', statuses.prediction),
        resultImageUrl: body.result_image_url ?? body.result_image_media,
        resultVideoUrl: body.result_video_url ?? body.result_video_media,
        refinedImageUrl: body.refined_image_url,
        refines: body.refines,
        errorMessage: body.error_message,
        errorCategory: body.error_category,
        shotType: body.shot_type,
      }),
    );

  const generation = z
    .object({
      id: idLike,
      status: optionalText,
      predictions: listOf(prediction),
      batch_size: numberLike.nullish(),
      width: numberLike.nullish(),
      height: numberLike.nullish(),
      generation_type: optionalText,
      generation_strategy: optionalText,
      tool: optionalText,
      organization_id: optionalText,
      orchestration_shot_id: idLike.nullish(),
      shot_id: idLike.nullish(),
      created_at: optionalDateTime,
      estimated_completion_time: numberLike.nullish(),
    })
    .transform((body): SartiqGeneration => {
      const { predictions } = body;
      const own = progress(body.status, 'PENDING', statuses.generation);
      const any = predictions.length > 0;
      return {
        id: body.id,
        status: own.status,
        predictions,
        terminal: own.terminal || (any && predictions.every((p) => p.terminal)),
        failed: own.failed || (any && predictions.every((p) => p.failed)),
        generationType: body.generation_type,
        generationStrategy: body.generation_strategy,
        tool: body.tool,
        organizationId: body.organization_id,
        batchSize: body.batch_size ?? null,
        width: body.width ?? null,
        height: body.height ?? null,
        orchestrationShotId: body.orchestration_shot_id ?? null,
        shotId: body.shot_id ?? null,
        createdAt: body.created_at,
        estimatedCompletionTimeS: body.estimated_completion_time ?? null,
      };
    });

  const generationList = z
    .object({ data: z.array(z.record(z.string(), z.unknown())), count: numberLike.nullish() })
    .transform((body, ctx): SartiqListedGeneration[] => {
      const listed: SartiqListedGeneration[] = [];
      for (const [index, fields] of body.data.entries()) {
        const parsed = generation.safeParse(fields);
        if (parsed.success) listed.push({ generation: parsed.data, fields });
        else {
          const issue = parsed.error.issues[0];
          ctx.addIssue({
            code: 'custom',
            message: issue?.message ?? 'not a generation',
            path: ['data', index, ...(issue?.path ?? [])],
          });
        }
      }
      return listed;
    });

  const attempt = z
    .object({
      attempt_number: numberLike.nullish(),
      image_url: optionalText,
      evaluation_status: optionalText,
      confidence_score: numberLike.nullish(),
      error_message: optionalText,
    })
    .transform(
      (body): SartiqAgenticAttempt => ({
        attemptNumber: body.attempt_number ?? null,
        imageUrl: body.image_url,
        evaluationStatus: body.evaluation_status,
        confidenceScore: body.confidence_score ?? null,
        errorMessage: body.error_message,
      }),
    );

  const agenticStatus = z
    .object({
      shot_id: idLike,
      status: z.string().trim().min(1),
      total_attempts: numberLike.nullish(),
      max_attempts: numberLike.nullish(),
      final_image_url: optionalText,
      best_confidence: numberLike.nullish(),
      error_message: optionalText,
      attempts: listOf(attempt),
    })
    .transform(
      (body): SartiqAgenticStatus => ({
        shotId: body.shot_id,
        ...progress(body.status, 'processing', statuses.agentic),
        finalImageUrl: body.final_image_url,
        bestConfidence: body.best_confidence ?? null,
        totalAttempts: body.total_attempts ?? null,
        maxAttempts: body.max_attempts ?? null,
        errorMessage: body.error_message,
        attempts: body.attempts,
      }),
    );

  const mixedRefineResponse = z.object({
    total_success: numberLike.nullish(),
    total_failed: numberLike.nullish(),
    generations: listOf(generation),
    refines: listOf(refine),
    failed_uploads: failureList,
    failed_refines: failureList,
  });

  return { generation, generationList, mixedRefineResponse, agenticStatus };
}

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
