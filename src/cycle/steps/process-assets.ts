/**
 * Step 5 of the guide: run the recipe, pass what it produced through the result gate, then plan
 * the submission at once, so a slot the output cannot fill fails here (permanent, with its reason)
 * and nothing useless, nor anything the gate refused, is uploaded.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import { ConnectorError, isConnectorError } from '../../errors.ts';
import { clientForRecipe } from '../../providers/index.ts';
import type { ProducedFile, Recipe, RecipeMemory, SlotRequest, TaskContext } from '../../providers/recipe.ts';
import { planSubmission, type SubmissionPlan } from '../build-submission.ts';
import type { TaskInputs } from '../checkpoint.ts';
import type { CycleContext } from '../cycle-context.ts';
import { gateOutputs, type OutputChecks, type RefusedOutput } from '../gate-outputs.ts';

/** Step 5 talks to no Creative Force endpoint: it gets no gateway client. */
export interface ProcessAssetsInput extends Omit<CycleContext, 'client'> {
  recipe: Recipe;
  /** The subfunction's options, validated by the recipe's schema when the configuration loaded. */
  options: unknown;
  detail: ProcessDetail;
  /** What the recipe must produce; empty when every slot is kept or left empty. */
  requests: SlotRequest[];
  inputs: TaskInputs;
  context: TaskContext;
  memory: RecipeMemory;
  /** The subfunction's rules for the result gate. */
  checks: OutputChecks;
}

export async function processAssets(input: ProcessAssetsInput): Promise<SubmissionPlan> {
  const { recipe, detail, requests, inputs, logger } = input;
  const outputDir = join(input.workDir, 'out');
  await mkdir(outputDir, { recursive: true });
  const produced =
    requests.length === 0
      ? new Map<string, ProducedFile[]>()
      : await recipe.run({
          detail,
          requests,
          inputs: inputs.files,
          inputUrls: inputs.urls?.inputUrls ?? [],
          colorReferenceUrls: inputs.urls?.colorReferenceUrls ?? [],
          context: input.context,
          options: input.options,
          outputDir,
          memory: input.memory,
          client: clientForRecipe(recipe, input.providers),
          finalAttempt: input.finalAttempt,
          paidWork: input.paidWork,
          signal: input.signal,
          logger,
        });
  const { passed, refused } = await gateOutputs(produced, input.checks, logger);
  const plan = planWithGate(detail, passed, refused);
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
