/** Step 8 of the guide: Submit Output. Creative Force advances the task when it succeeds. */
import type { ProcessDetail, SubmitResponse } from '../../creative-force/schemas.ts';
import { renderSubmitBody, type SubmissionPlan } from '../build-submission.ts';
import type { CycleContext } from '../cycle-context.ts';

export interface SubmitOutputInput extends Pick<CycleContext, 'client' | 'signal'> {
  detail: ProcessDetail;
  plan: SubmissionPlan;
  /** uploadKey → tempAssetId of every planned file (step 7). */
  uploads: Readonly<Record<string, string>>;
}

export function submitOutput({ client, signal, detail, plan, uploads }: SubmitOutputInput): Promise<SubmitResponse> {
  return client.submitOutput(detail.taskProcessId, renderSubmitBody(plan, uploads), signal);
}
