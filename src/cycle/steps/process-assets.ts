/**
 * Step 5 of the guide: run the recipe, then plan the submission at once, so a slot the output
 * cannot fill fails here (permanent, with its reason) and nothing useless is uploaded.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import { clientForRecipe } from '../../providers/index.ts';
import type {
  InputFile,
  InputUrl,
  ProducedFile,
  Recipe,
  RecipeMemory,
  RecipeRun,
  SlotRequest,
  TaskContext,
} from '../../providers/recipe.ts';
import { planSubmission, type SubmissionPlan } from '../build-submission.ts';
import type { CycleContext } from '../cycle-context.ts';

export async function processAssets(
  ctx: CycleContext,
  recipe: Recipe,
  options: unknown,
  detail: ProcessDetail,
  requests: SlotRequest[],
  inputs: { files: InputFile[]; inputUrls: InputUrl[]; colorReferenceUrls: RecipeRun<unknown>['colorReferenceUrls'] },
  context: TaskContext,
  memory: RecipeMemory,
): Promise<SubmissionPlan> {
  const outputDir = join(ctx.workDir, 'out');
  await mkdir(outputDir, { recursive: true });
  const produced =
    requests.length === 0
      ? new Map<string, ProducedFile[]>()
      : await recipe.run({
          detail,
          requests,
          inputs: inputs.files,
          inputUrls: inputs.inputUrls,
          colorReferenceUrls: inputs.colorReferenceUrls,
          context,
          options,
          outputDir,
          memory,
          client: clientForRecipe(recipe, ctx.providers),
          finalAttempt: ctx.finalAttempt,
          signal: ctx.signal,
          logger: ctx.logger,
        });
  const plan = planSubmission(detail, produced);
  if (plan.dropped.length > 0) ctx.logger.info({ dropped: plan.dropped }, 'produced files left out: their slots were full');
  return plan;
}
