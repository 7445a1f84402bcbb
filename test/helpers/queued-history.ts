/** A cycle queue and a task history over it, as the service pairs them, on one Redis and prefix. */
import type { Redis } from 'ioredis';
import { TaskHistory } from '../../src/history/task-history.ts';
import { waitingCycles } from '../../src/history/waiting-cycles.ts';
import { CycleQueue } from '../../src/queue/cycle-queue.ts';

/** The queue's cycles that no worker has recorded yet are listed by the history from their jobs. */
export function queuedHistory(redis: Redis, prefix: string): { queue: CycleQueue; history: TaskHistory } {
  const queue = new CycleQueue({ connection: redis, prefix, attempts: 3, backoffMs: 1_000, onError: () => {} });
  const history = new TaskHistory({
    redis,
    prefix,
    retentionDays: 30,
    usageRetentionDays: 400,
    waiting: waitingCycles(queue.queue, redis),
  });
  return { queue, history };
}
