/**
 * What a cycle has done so far, saved in the job data after each step. A retry after a crash
 * reads it and resumes: no second download, no second processing, uploads reused while their
 * tempAssetIds are unsubmitted, and never a second Submit Output.
 */
import type { ProcessDetail } from '../creative-force/schemas.ts';
import type { InputFile, LocalFile, TaskContext } from '../providers/recipe.ts';
import type { SubmissionPlan } from './build-submission.ts';

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

export interface Checkpoint {
  detail?: ProcessDetail;
  inputs?: InputFile[];
  colorReferences?: LocalFile[];
  context?: Omit<TaskContext, 'event' | 'colorReferences'>;
  plan?: SubmissionPlan;
  /** What the recipe asked to remember (e.g. the id of a paid generation in progress). */
  recipeMemory?: Record<string, unknown>;
  /** uploadKey → tempAssetId of each file already PUT to S3. */
  uploads?: Record<string, string>;
  /** Set just before Submit Output is sent: a retry then first checks whether it went through. */
  submitAttempted?: boolean;
  submitted?: { at: string; assets: { assetId: string; fileId: string | null }[] };
  /** Why the cycle ended without submitting (a late duplicate of an event already served). */
  skipped?: string;
}
