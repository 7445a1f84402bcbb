/**
 * Step 5 of the guide: run the recipe, then plan the submission at once, so a slot the output
 * cannot fill fails here (permanent, with its reason) and nothing useless is uploaded.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import { clientForRecipe } from '../../providers/index.ts';
import type { ProducedFile, Recipe, RecipeMemory, SlotRequest, TaskContext } from '../../providers/recipe.ts';
import { planSubmission, type SubmissionPlan } from '../build-submission.ts';
import type { TaskInputs } from '../checkpoint.ts';
import type { CycleContext } from '../cycle-context.ts';

export interface ProcessAssetsInput extends CycleContext {
  recipe: Recipe;
  /** The subfunction's options, validated by the recipe's schema when the configuration loaded. */
  options: unknown;
  detail: ProcessDetail;
  /** What the recipe must produce; empty when every slot is kept or left empty. */
  requests: SlotRequest[];
  inputs: TaskInputs;
  context: TaskContext;
  memory: RecipeMemory;
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
          signal: input.signal,
          logger,
        });
  const plan = planSubmission(detail, produced);
  if (plan.dropped.length > 0) logger.info({ dropped: plan.dropped }, 'produced files left out: their slots were full');
  return plan;
}
