/**
 * What a cycle has done so far, saved in the job data after each step. A retry after a crash
 * reads it and resumes: no second download, no second processing, uploads reused while their
 * tempAssetIds are unsubmitted, and never a second Submit Output.
 *
 * The checkpoint is data from an earlier process, perhaps of an earlier release: it carries a
 * version and is parsed with zod before a cycle resumes on it. A checkpoint of a version this
 * release cannot read fails the cycle with CHECKPOINT_VERSION_UNKNOWN instead of resuming on
 * wrong data; the unversioned shape of the first release (version 1) is still read, and version 2
 * (before pipelines: no stage outputs, no route per slot, no provider source per file) reads as
 * version 3 with those absent. Version 3 is a new version rather than optional fields of version
 * 2, so that a release that reads only version 2 meeting a newer job retries it (a newer version)
 * instead of failing it on a field it does not know.
 */
import { z } from 'zod';
import { type ProcessDetail, processDetailSchema } from '../creative-force/schemas.ts';
import { ConnectorError } from '../errors.ts';
import type { InputFile, InputUrl, LocalFile, ProducedFile, TaskContext } from '../providers/recipe.ts';
import type { SubmissionPlan } from './build-submission.ts';
import { gateRules } from './gate-outputs.ts';
import type { StageOutputs } from './routes.ts';

/** The guide's step names, in the guide's order (step 1, the webhook, happened in the receiver). */
export const cycleSteps = [
  'get-process-detail',
  'download-inputs',
  'get-additional-context',
  'process-assets',
  'upload-outputs',
  'submit-output',
] as const;
export type CycleStep = (typeof cycleSteps)[number];

/** The version this release writes. */
export const checkpointVersion = 3;

/** Step 3's result: the downloaded inputs, or (for a recipe that takes URLs) fresh pre-signed URLs. */
export interface TaskInputs {
  files: InputFile[];
  colorReferences: LocalFile[];
  /** Outputs kept from an earlier cycle that a `from` route starts from (RoutedRequest.keptStill), downloaded. */
  keptStills: InputFile[];
  /** Never saved: pre-signed URLs expire. Null when resumed from a checkpoint. */
  urls: { inputUrls: InputUrl[]; colorReferenceUrls: { fileId: string; fileName: string; url: string }[] } | null;
}

/** Step 4's result: what the recipe declared it needs, fetched. */
export type AdditionalContext = Omit<TaskContext, 'event' | 'colorReferences'>;

export interface Submitted {
  at: string;
  assets: { assetId: string; fileId: string | null }[];
}

/** How a cycle ended without an error. */
export type CycleOutcome = { submitted: Submitted } | { skipped: string };

/** The result of each step, as saved. */
export interface StepResults {
  'get-process-detail': ProcessDetail;
  'download-inputs': TaskInputs;
  'get-additional-context': AdditionalContext;
  'process-assets': SubmissionPlan;
  /** uploadKey → tempAssetId of every planned file. */
  'upload-outputs': Record<string, string>;
  'submit-output': CycleOutcome;
}

/** What a step saves while it runs, so that a retry of the step continues where it stopped. */
export interface StepProgress {
  /** The outputs of each pipeline stage that finished, so a retry runs (and pays for) none of them again. */
  'process-assets': StageOutputs;
  /** uploadKey → tempAssetId of each file already PUT to S3. */
  'upload-outputs': Record<string, string>;
}

export interface Checkpoint {
  version: typeof checkpointVersion;
  /** Results of the steps that finished. A step that runs again drops the results of the steps after it. */
  results: Partial<StepResults>;
  /** Progress of a step that has not finished; dropped with its result. */
  progress: Partial<StepProgress>;
  /**
   * What the recipe asked to remember (e.g. the id of a paid generation in progress). Kept
   * whatever step runs again: losing it would pay for a generation twice.
   */
  recipeMemory: Record<string, unknown>;
  /** Set just before Submit Output is sent, never cleared: a retry first checks whether it went through. */
  submitAttempted: boolean;
  /** Set when the cycle ended; a cycle with an outcome does nothing more. */
  outcome: CycleOutcome | null;
}

export function emptyCheckpoint(): Checkpoint {
  return { version: checkpointVersion, results: {}, progress: {}, recipeMemory: {}, submitAttempted: false, outcome: null };
}

// The saved shapes. Each schema is checked against the type it restores, so the two cannot drift.

const localFile = z.object({ path: z.string().min(1), fileName: z.string(), bytes: z.number().int().nonnegative() });
const nullableText = z.string().nullable();
const inputFile = localFile.extend({ assetId: z.string().min(1), positionName: nullableText, positionTagId: nullableText });
const attribute = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(4)]);
const producedFile = localFile.extend({
  contentType: z.string().min(1),
  kind: z.enum(['photo', 'video']),
  assetAttributeId: attribute.optional(),
  source: z.object({ provider: z.string().min(1), id: z.string().min(1) }).optional(),
}) satisfies z.ZodType<ProducedFile>;
const refusedOutput = z.object({ mappingKeyId: z.string(), fileName: z.string(), rule: z.enum(gateRules), reason: z.string() });

const stageOutputs = z.object({
  stages: z.record(z.string(), z.object({ files: z.record(z.string(), z.array(producedFile)), refused: z.array(refusedOutput) })),
}) satisfies z.ZodType<StageOutputs>;

const taskInputs = z
  // keptStills is absent from the checkpoints of releases that did not download kept stills.
  .object({ files: z.array(inputFile), colorReferences: z.array(localFile), keptStills: z.array(inputFile).default([]) })
  .transform((saved): TaskInputs => ({ ...saved, urls: null }));

const additionalContext = z.object({
  product: z.record(z.string(), z.unknown()).optional(),
  job: z.record(z.string(), z.unknown()).optional(),
  outfit: z
    .object({
      outfitId: z.string(),
      products: z.array(z.object({ productId: z.string(), roleId: z.number() })),
      stylingFiles: z.array(localFile.extend({ productId: z.string(), positionTagId: nullableText })),
    })
    .optional(),
  annotations: z
    .array(z.object({ annotationId: z.string(), assetId: nullableText, comment: nullableText, marking: localFile.nullable() }))
    .optional(),
}) satisfies z.ZodType<AdditionalContext>;

const submissionPlan = z.object({
  slots: z.array(
    z.object({
      mappingKeyId: z.string().min(1),
      route: z.string().optional(),
      kept: z.array(z.object({ assetId: z.string().min(1), assetAttributeId: attribute })),
      assets: z.array(
        z.object({
          uploadKey: z.string().min(1),
          file: producedFile,
          assetAttributeId: attribute,
          replaces: nullableText,
        }),
      ),
    }),
  ),
  dropped: z.array(z.object({ mappingKeyId: z.string(), fileName: z.string() })),
  // Absent from the plans of the first release, which had no result gate.
  refused: z.array(refusedOutput).default([]),
}) satisfies z.ZodType<SubmissionPlan>;

const tempAssetIds = z.record(z.string(), z.string().min(1));
const submitted = z.object({
  at: z.string(),
  assets: z.array(z.object({ assetId: z.string(), fileId: z.string().nullable() })),
}) satisfies z.ZodType<Submitted>;
const outcome = z.union([z.object({ submitted }), z.object({ skipped: z.string() })]) satisfies z.ZodType<CycleOutcome>;

const checkpointSchema = z.object({
  version: z.literal(checkpointVersion),
  results: z
    .object({
      // The saved detail went through this schema once; it reads its own output unchanged.
      'get-process-detail': processDetailSchema.optional(),
      'download-inputs': taskInputs.optional(),
      'get-additional-context': additionalContext.optional(),
      'process-assets': submissionPlan.optional(),
      'upload-outputs': tempAssetIds.optional(),
      'submit-output': outcome.optional(),
    })
    .strict(),
  progress: z.object({ 'process-assets': stageOutputs.optional(), 'upload-outputs': tempAssetIds.optional() }).strict(),
  recipeMemory: z.record(z.string(), z.unknown()),
  submitAttempted: z.boolean(),
  outcome: outcome.nullable(),
}) satisfies z.ZodType<Checkpoint>;

/** Version 2: the shape of version 3 without what pipelines added, all of it optional there. */
const versionTwoSchema = checkpointSchema
  .extend({ version: z.literal(2) })
  .transform((v2): Checkpoint => ({ ...v2, version: checkpointVersion }));

/** The unversioned checkpoint of the first release, converted to the current shape. */
const versionOneSchema = z
  .object({
    detail: processDetailSchema.optional(),
    inputs: z.array(inputFile).optional(),
    colorReferences: z.array(localFile).optional(),
    context: additionalContext.optional(),
    plan: submissionPlan.optional(),
    recipeMemory: z.record(z.string(), z.unknown()).optional(),
    uploads: tempAssetIds.optional(),
    submitAttempted: z.boolean().optional(),
    submitted: submitted.optional(),
    skipped: z.string().optional(),
  })
  .strict()
  .transform((v1): Checkpoint => {
    const results: Partial<StepResults> = {};
    if (v1.detail) results['get-process-detail'] = v1.detail;
    if (v1.inputs)
      results['download-inputs'] = { files: v1.inputs, colorReferences: v1.colorReferences ?? [], keptStills: [], urls: null };
    if (v1.context) results['get-additional-context'] = v1.context;
    if (v1.plan) results['process-assets'] = v1.plan;
    const ended: CycleOutcome | null = v1.submitted
      ? { submitted: v1.submitted }
      : v1.skipped !== undefined
        ? { skipped: v1.skipped }
        : null;
    if (ended && 'submitted' in ended) results['submit-output'] = ended;
    return {
      version: checkpointVersion,
      results,
      // Version 1 did not say whether its uploads were complete: the upload step checks.
      progress: v1.uploads ? { 'upload-outputs': v1.uploads } : {},
      recipeMemory: v1.recipeMemory ?? {},
      submitAttempted: v1.submitAttempted ?? false,
      outcome: ended,
    };
  });

/**
 * Reads the checkpoint of a job: none (a first attempt) gives an empty one.
 *
 * @throws ConnectorError CHECKPOINT_VERSION_UNKNOWN for a version this release does not read:
 *   retryable when it is newer (during a rolling deploy a newer worker may take the job), not
 *   retryable when older.
 * @throws ConnectorError CHECKPOINT_INVALID when a known version does not have its shape.
 */
export function readCheckpoint(saved: unknown): Checkpoint {
  if (saved === undefined || saved === null) return emptyCheckpoint();
  const version = typeof saved === 'object' && 'version' in saved ? saved.version : undefined;
  if (version !== undefined && version !== 2 && version !== checkpointVersion) {
    const newer = typeof version === 'number' && version > checkpointVersion;
    throw new ConnectorError(
      'CHECKPOINT_VERSION_UNKNOWN',
      `the saved progress of this task has version ${JSON.stringify(version)}; this release reads versions 1 to ${checkpointVersion}`,
      { retryable: newer, details: { version } },
    );
  }
  const schema = version === undefined ? versionOneSchema : version === 2 ? versionTwoSchema : checkpointSchema;
  const parsed = schema.safeParse(saved);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConnectorError(
      'CHECKPOINT_INVALID',
      `the saved progress of this task is unreadable: ${issue?.path.join('.') || '(checkpoint)'}: ${issue?.message}`,
      { details: { version: version ?? 1 } },
    );
  }
  return parsed.data;
}
