/**
 * Step 5 of the guide: run the subfunction's recipe, pipeline or routes, pass what they produced
 * through the result gate, then plan the submission at once, so a slot the output cannot fill
 * fails here (permanent, with its reason) and nothing useless, nor anything the gate refused, is
 * uploaded. Slots of every route go into the one plan, so into one Submit Output.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import { ConnectorError, isConnectorError } from '../../errors.ts';
import type { ProducedFile, RecipeMemory, TaskContext } from '../../providers/recipe.ts';
import { planSubmission, type SubmissionPlan } from '../build-submission.ts';
import type { TaskInputs } from '../checkpoint.ts';
import type { CycleContext } from '../cycle-context.ts';
import type { OutputChecks, RefusedOutput } from '../gate-outputs.ts';
import type { CycleRoute, RoutedRequest, StageOutputs } from '../routes.ts';
import { runRoutes } from '../run-routes.ts';

/** Step 5 talks to no Creative Force endpoint: it gets no gateway client (and downloads no kept still). */
export interface ProcessAssetsInput extends Omit<CycleContext, 'client' | 'keptOutputDownload'> {
  /** The subfunction's routes, each a pipeline of stages (one route of one stage for a `recipe`). */
  routes: readonly CycleRoute[];
  detail: ProcessDetail;
  /** What must be produced, each with the route that takes it; empty when every slot is kept or left empty. */
  requests: RoutedRequest[];
  inputs: TaskInputs;
  context: TaskContext;
  memory: RecipeMemory;
  /** The subfunction's rules for the result gate. */
  checks: OutputChecks;
  /** The stages an earlier attempt finished (the step's progress). */
  progress?: StageOutputs | undefined;
  /** Saves the stages finished so far; without it (a run that never resumes) nothing is saved. */
  saveProgress?(value: StageOutputs): Promise<void>;
}

/**
 * Step 5: runs the routes (run-routes.ts: every stage's files gated), then plans the submission.
 * Usable on its own (a preview): everything it works with is in its input.
 */
export async function processAssets(input: ProcessAssetsInput): Promise<SubmissionPlan> {
  const { detail, requests, logger } = input;
  await mkdir(join(input.workDir, 'out'), { recursive: true });
  const { passed, refused, routeOf } =
    requests.length === 0
      ? { passed: new Map<string, ProducedFile[]>(), refused: [], routeOf: new Map<string, string>() }
      : await runRoutes({
          ...input,
          saved: input.progress,
          ...(input.saveProgress ? { save: input.saveProgress } : {}),
          ...(input.stageDone ? { stageDone: input.stageDone } : {}),
        });
  const planned = planWithGate(detail, passed, refused);
  const plan = {
    ...planned,
    slots: planned.slots.map((slot) => {
      const route = routeOf.get(slot.mappingKeyId);
      return route === undefined ? slot : { ...slot, route };
    }),
  };
  if (plan.dropped.length > 0) logger.info({ dropped: plan.dropped }, 'produced files left out: their slots were full');
  return plan;
}

/** Plans the slots with the files that passed; a slot left short by the gate fails with the gate's reasons. */
function planWithGate(detail: ProcessDetail, passed: Map<string, ProducedFile[]>, refused: RefusedOutput[]): SubmissionPlan {
  try {
    return planSubmission(detail, passed, refused);
  } catch (err) {
    const mappingKeyId = isConnectorError(err) && err.code === 'SLOT_UNFILLABLE' ? err.details?.mappingKeyId : undefined;
    const here = refused.filter((r) => r.mappingKeyId === mappingKeyId);
    if (here.length === 0) throw err;
    const reasons = here.map((r) => `${r.fileName}: ${r.reason} [${r.rule}]`).join('; ');
    throw new ConnectorError('OUTPUT_CHECK_FAILED', `slot ${mappingKeyId}: the result check refused ${reasons}`, {
      cause: err,
      details: { mappingKeyId, refused: here },
    });
  }
}
