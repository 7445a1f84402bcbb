/**
 * The product: steps 2 to 8 of the Creative Force guide, in the guide's order, each run through
 * the step helper (a step whose result is saved is not run again). Step 6 (Update Process Status)
 * runs in the worker when a cycle finally fails.
 */

import type { Logger } from 'pino';
import type { ProcessDetail } from '../creative-force/schemas.ts';
import { isRework, plannedAssets, planWork, type SlotWork, type SubmissionPlan } from './build-submission.ts';
import type { CycleOutcome } from './checkpoint.ts';
import type { CycleContext } from './cycle-context.ts';
import { type CycleJob, CycleSteps } from './cycle-steps.ts';
import type { OutputChecks } from './gate-outputs.ts';
import { type CycleRoute, keptStillIds, routedRequests, routeInputsAs, routeNeeds } from './routes.ts';
import { downloadInputs, filesPresent } from './steps/download-inputs.ts';
import { contextFiles, getAdditionalContext } from './steps/get-additional-context.ts';
import { getProcessDetail } from './steps/get-process-detail.ts';
import { processAssets } from './steps/process-assets.ts';
import { submitOutput } from './steps/submit-output.ts';
import { uploadOutputs } from './steps/upload-outputs.ts';

/** What the subfunction runs, its recipes looked up. */
export interface CycleRecipe {
  /** One route of one stage for a `recipe`, one route of several for a `pipeline`, else the `route` list. */
  routes: readonly CycleRoute[];
  /** The subfunction's rules for the result gate. */
  checks: OutputChecks;
}

/** Earlier outputs and none rejected: the task process has what it needs, there is no work. */
export function nothingToRedo(work: readonly SlotWork[]): boolean {
  return isRework(work) && !work.some((w) => w.redo.length > 0 || w.slot.isRejected);
}

/** True when every planned file is uploaded already or still on this host's disk. */
async function planUsable(plan: SubmissionPlan, uploads: Readonly<Record<string, string>>): Promise<boolean> {
  return filesPresent(
    plannedAssets(plan)
      .filter((a) => !uploads[a.uploadKey])
      .map((a) => a.file),
  );
}

/**
 * Whether a Submit Output was accepted since `before` was read: the task process now has outputs it
 * did not have then (or, as before any rework, outputs and none rejected).
 */
function submissionLanded(before: ProcessDetail, now: ProcessDetail): boolean {
  const known = new Set(before.outputAssets.map((o) => o.assetId));
  return now.outputAssets.some((o) => !known.has(o.assetId)) || nothingToRedo(planWork(now));
}

async function skip(steps: CycleSteps, logger: Logger, reason: string): Promise<CycleOutcome> {
  logger.info({ reason }, 'nothing to do');
  return steps.finish({ skipped: reason });
}

/**
 * Runs (or resumes) one cycle of a task process.
 *
 * @throws ConnectorError with the code of what failed; the worker decides retry or fail.
 */
export async function runCycle(job: CycleJob, ctx: CycleContext, cycleRecipe: CycleRecipe): Promise<CycleOutcome> {
  const { routes } = cycleRecipe;
  const inputsAs = routeInputsAs(routes);
  const steps = new CycleSteps(job, ctx);
  if (steps.outcome) return steps.outcome;

  // Step 2. Everything after it is planned from the process detail alone.
  const detail = await steps.run('get-process-detail', (run) => getProcessDetail(run));
  const work = planWork(detail);
  if (nothingToRedo(work)) {
    // A late duplicate delivery of an event already served, not a rework: submitting again would
    // be refused (or worse, accepted).
    return skip(steps, ctx.logger, 'the task process already has its outputs and none is rejected');
  }
  const requests = routedRequests(work, routes, ctx.logger, ctx.keptOutputDownload);
  const keptStills = keptStillIds(requests);
  const needs = routeNeeds(routes, requests);
  const rework = isRework(work);
  if (rework) {
    ctx.logger.info(
      { redo: work.reduce((n, w) => n + w.redo.length, 0), keep: work.reduce((n, w) => n + w.keep.length, 0) },
      'rework: only the rejected outputs are produced again',
    );
  }

  // Steps 3 to 5 make the plan. A saved plan whose files are all uploaded or still on this host's
  // disk needs none of them again, whatever became of their own files.
  const savedPlan = steps.saved('process-assets');
  const uploaded = steps.saved('upload-outputs') ?? steps.progress('upload-outputs') ?? {};
  const planReady = savedPlan !== undefined && (await planUsable(savedPlan, uploaded));
  const nothingToProduce = requests.length === 0; // every slot left empty or kept as it was

  const inputs = await steps.run(
    'download-inputs',
    (run) =>
      nothingToProduce
        ? Promise.resolve({ files: [], colorReferences: [], keptStills: [], urls: null })
        : downloadInputs({ ...run, detail, as: inputsAs, colorReferences: needs.colorReferences === true, keptStills }),
    {
      // URLs are fresh for each attempt: a recipe taking URLs resumes only with a ready plan.
      reuse: async (saved) =>
        planReady ||
        (inputsAs !== 'urls' &&
          keptStills.every((id) => saved.keptStills.some((f) => f.assetId === id)) &&
          (await filesPresent([...saved.files, ...saved.colorReferences, ...saved.keptStills]))),
      persist: (result) => ({ ...result, urls: null }),
    },
  );

  const context = await steps.run(
    'get-additional-context',
    (run) => (nothingToProduce ? Promise.resolve({}) : getAdditionalContext({ ...run, detail, needs, rework })),
    { reuse: async (saved) => planReady || (await filesPresent(contextFiles(saved))) },
  );

  const plan = await steps.run(
    'process-assets',
    (run) =>
      processAssets({
        ...run,
        routes,
        detail,
        requests,
        inputs,
        context: {
          event: ctx.event,
          ...context,
          ...(needs.colorReferences && inputsAs !== 'urls' ? { colorReferences: inputs.colorReferences } : {}),
        },
        memory: steps.recipeMemory,
        checks: cycleRecipe.checks,
      }),
    { reuse: () => planReady },
  );

  const uploads = await steps.run('upload-outputs', (run) => uploadOutputs({ ...run, detail, plan }));

  const outcome = await steps.run('submit-output', async (run) => {
    if (steps.submitAttempted) {
      const now = await getProcessDetail(run);
      if (submissionLanded(detail, now)) {
        // An earlier attempt's Submit Output reached Creative Force but its answer was lost
        // (timeout, crash). Submitting again would be refused and turn a finished task into a
        // reported failure; and when a reviewer has already rejected some of it, the rework
        // webhook may have been taken for a duplicate of this cycle: it is started from here.
        const reworkPending = planWork(now).some((w) => w.redo.length > 0 || w.slot.isRejected);
        await job.submitted({ reworkPending, plan });
        const reason = "an earlier attempt's Submit Output was accepted";
        run.logger.info({ reason, reworkPending }, 'nothing to do');
        return { skipped: reason };
      }
    }
    await steps.markSubmitAttempted();
    const response = await submitOutput({ ...run, detail, plan, uploads });
    await job.submitted({ reworkPending: false, plan });
    return {
      submitted: {
        at: new Date().toISOString(),
        assets: response.assets.map((a) => ({ assetId: a.assetId, fileId: a.fileId ?? null })),
      },
    };
  });
  return steps.finish(outcome);
}
