/**
 * The product: steps 2 to 8 of the Creative Force guide, in the guide's order, with a checkpoint
 * after each step. Step 6 (Update Process Status) runs in the worker when a cycle finally fails.
 */

import { ConnectorError } from '../errors.ts';
import type { Recipe, RecipeMemory } from '../providers/recipe.ts';
import {
  isRework,
  mainMinimum,
  plannedAssets,
  planWork,
  recipeRequests,
  type SlotWork,
  type SubmissionPlan,
} from './build-submission.ts';
import type { Checkpoint, CycleStep } from './checkpoint.ts';
import type { CycleContext } from './cycle-context.ts';
import { downloadColorReferences, downloadInputs, filesPresent, resolveInputUrls } from './steps/download-inputs.ts';
import { contextFiles, getAdditionalContext } from './steps/get-additional-context.ts';
import { getProcessDetail } from './steps/get-process-detail.ts';
import { processAssets } from './steps/process-assets.ts';
import { submitOutput } from './steps/submit-output.ts';
import { uploadOutputs } from './steps/upload-outputs.ts';

/** The job as the cycle sees it: its saved checkpoint and a way to save a new one. */
export interface CycleJob {
  checkpoint: Checkpoint;
  save(checkpoint: Checkpoint): Promise<void>;
  /** Called as each step starts (progress for operators and the demo). */
  enterStep(step: CycleStep, resumed: boolean): Promise<void>;
}

export interface CycleRecipe {
  recipe: Recipe;
  options: unknown;
}

/** Earlier outputs and none rejected: the task process has what it needs, there is no work. */
function nothingToRedo(work: readonly SlotWork[]): boolean {
  return isRework(work) && !work.some((w) => w.redo.length > 0 || w.slot.isRejected);
}

/** True when every planned file is uploaded already or still on this host's disk. */
async function planUsable(plan: SubmissionPlan, uploads: Record<string, string>): Promise<boolean> {
  return filesPresent(
    plannedAssets(plan)
      .filter((a) => !uploads[a.uploadKey])
      .map((a) => a.file),
  );
}

export async function runCycle(job: CycleJob, ctx: CycleContext, { recipe, options }: CycleRecipe): Promise<Checkpoint> {
  const cp: Checkpoint = { ...job.checkpoint };
  const save = () => job.save(cp);
  const taskLogger = ctx.logger;
  // Every log line of a step carries the step's name.
  const enterStep = async (step: CycleStep, resumed: boolean) => {
    ctx.logger = taskLogger.child({ step });
    await job.enterStep(step, resumed);
  };
  if (cp.submitted || cp.skipped) return cp;

  await enterStep('get-process-detail', cp.detail !== undefined);
  if (!cp.detail) {
    cp.detail = await getProcessDetail(ctx);
    await save();
  }
  const detail = cp.detail;
  const work = planWork(detail);
  const rework = isRework(work);
  if (nothingToRedo(work)) {
    // Earlier outputs and none rejected: the work was submitted already and this event is a late
    // duplicate delivery, not a rework. Submitting again would be refused (or worse, accepted).
    cp.skipped = 'the task process already has its outputs and none is rejected';
    ctx.logger.info({ reason: cp.skipped }, 'nothing to do');
    await save();
    return cp;
  }

  // Before any download or paid work: can the recipe fill what must be produced at all? An
  // optional slot filled from scratch is left empty instead; a required or reworked one fails.
  const requests = recipeRequests(work).filter(({ slot, replaces }) => {
    const reason = recipe.cannotFill(slot, options);
    if (reason && (mainMinimum(slot) > 0 || replaces.length > 0)) {
      throw new ConnectorError('SLOT_UNSUPPORTED', reason, { details: { mappingKeyId: slot.mappingKeyId } });
    }
    if (reason) ctx.logger.info({ mappingKeyId: slot.mappingKeyId, reason }, 'optional slot left empty');
    return reason === null;
  });
  if (rework) {
    ctx.logger.info(
      { redo: work.reduce((n, w) => n + w.redo.length, 0), keep: work.reduce((n, w) => n + w.keep.length, 0) },
      'rework: only the rejected outputs are produced again',
    );
  }

  if (!cp.plan || !(await planUsable(cp.plan, cp.uploads ?? {}))) {
    const needs = recipe.needs(options);
    const inputsReady = cp.inputs !== undefined && (await filesPresent([...cp.inputs, ...(cp.colorReferences ?? [])]));
    await enterStep('download-inputs', inputsReady);
    let urls: Awaited<ReturnType<typeof resolveInputUrls>> = { inputUrls: [], colorReferenceUrls: [] };
    if (requests.length === 0) {
      cp.inputs = []; // a rework with nothing rejected: every slot is kept, nothing to process
    } else if (recipe.inputsAs === 'urls') {
      // The service fetches the inputs itself: fresh URLs each attempt (they expire), no download.
      urls = await resolveInputUrls(ctx, detail, needs.colorReferences === true);
      cp.inputs = [];
    } else if (!inputsReady || !cp.inputs) {
      cp.inputs = await downloadInputs(ctx, detail);
      if (needs.colorReferences) cp.colorReferences = await downloadColorReferences(ctx, detail);
      await save();
    }

    const contextReady = cp.context !== undefined && (await filesPresent(contextFiles(cp.context)));
    await enterStep('get-additional-context', contextReady);
    if (!contextReady || !cp.context) {
      cp.context = requests.length === 0 ? {} : await getAdditionalContext(ctx, detail, needs, { rework });
      await save();
    }

    await enterStep('process-assets', false);
    const context = { event: ctx.event, ...cp.context, ...(cp.colorReferences ? { colorReferences: cp.colorReferences } : {}) };
    const memory: RecipeMemory = {
      get: <T>(key: string) => cp.recipeMemory?.[key] as T | undefined,
      set: async (key, value) => {
        cp.recipeMemory = { ...cp.recipeMemory, [key]: value };
        await save();
      },
    };
    cp.plan = await processAssets(ctx, recipe, options, detail, requests, { files: cp.inputs, ...urls }, context, memory);
    // Uploads of an earlier plan are not reused: their files may differ from the new outputs.
    cp.uploads = {};
    await save();
  }
  const plan = cp.plan;

  await enterStep('upload-outputs', Object.keys(cp.uploads ?? {}).length > 0);
  cp.uploads = await uploadOutputs(ctx, detail, plan, cp.uploads ?? {}, async (uploads) => {
    cp.uploads = uploads;
    await save();
  });

  await enterStep('submit-output', cp.submitAttempted === true);
  if (cp.submitAttempted && nothingToRedo(planWork(await getProcessDetail(ctx)))) {
    // An earlier attempt's Submit Output reached Creative Force but its answer was lost (timeout,
    // crash): the task now has its outputs and none rejected. Submitting again would be refused
    // and turn a finished task into a reported failure.
    cp.skipped = "an earlier attempt's Submit Output was accepted";
    ctx.logger.info({ reason: cp.skipped }, 'nothing to do');
    await save();
    return cp;
  }
  cp.submitAttempted = true;
  await save();
  const response = await submitOutput(ctx, detail, plan, cp.uploads);
  cp.submitted = {
    at: new Date().toISOString(),
    assets: response.assets.map((a) => ({ assetId: a.assetId, fileId: a.fileId ?? null })),
  };
  await save();
  return cp;
}
