/** Step 2 of the guide: Get Process Detail. */
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import type { CycleContext } from '../cycle-context.ts';

export async function getProcessDetail(ctx: CycleContext): Promise<ProcessDetail> {
  return ctx.client.getProcessDetail(ctx.event.TaskProcessId, ctx.signal);
}
