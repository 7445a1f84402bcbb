/** Step 2 of the guide: Get Process Detail. */
import type { ProcessDetail } from '../../creative-force/schemas.ts';
import type { CycleContext, GatewayReader } from '../cycle-context.ts';

export function getProcessDetail({
  client,
  event,
  signal,
}: Pick<CycleContext, 'event' | 'signal'> & { client: GatewayReader }): Promise<ProcessDetail> {
  return client.getProcessDetail(event.TaskProcessId, signal);
}
