/**
 * Step 4 of the guide: the optional context. Only what the recipe declared is fetched, so a
 * recipe that needs nothing costs no product, job or annotation calls.
 */
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import type { ContextNeeds } from '../../providers/recipe.ts';
import type { Checkpoint } from '../checkpoint.ts';
import type { CycleContext } from '../cycle-context.ts';

export async function getAdditionalContext(
  ctx: CycleContext,
  detail: ProcessDetail,
  needs: ContextNeeds,
): Promise<NonNullable<Checkpoint['context']>> {
  const context: NonNullable<Checkpoint['context']> = {};
  const productId = detail.productId ?? ctx.event.ProductId;
  const jobId = detail.jobId ?? ctx.event.JobId;
  if (needs.product && productId) context.product = await ctx.client.getProduct(productId, ctx.signal);
  if (needs.job && jobId) context.job = await ctx.client.getJob(jobId, ctx.signal);
  if (needs.annotations) context.annotations = await ctx.client.getAnnotations(detail.taskId, ctx.signal);
  return context;
}
