/** Step 8 of the guide: Submit Output. Creative Force advances the task when it succeeds. */
import type { ProcessDetail, SubmitResponse } from '../../creative-force/schemas.ts';
import { renderSubmitBody, type SubmissionPlan } from '../build-submission.ts';
import type { CycleContext } from '../cycle-context.ts';

export async function submitOutput(
  ctx: CycleContext,
  detail: ProcessDetail,
  plan: SubmissionPlan,
  uploads: Record<string, string>,
): Promise<SubmitResponse> {
  return ctx.client.submitOutput(detail.taskProcessId, renderSubmitBody(plan, uploads), ctx.signal);
}
