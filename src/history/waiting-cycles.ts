/**
 * The cycles in the queue, as the task history reads them: the receiver writes no history record
 * (its webhook path is one BullMQ add), so a cycle is recorded when a worker takes its job, and
 * until then the history lists it from the job itself. The job holds what the record would say:
 * the event, the time received (also in the job id), the connection, the signature variant and
 * the recipe the receiver found.
 */
import type { JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { webhookPayloadSchema } from '../creative-force/schemas.ts';
import { cycleJobIdParts } from '../queue/cycle-job.ts';
import { taskFacts } from './cycle-recorder.ts';
import type { WaitingCycles } from './task-history.ts';

/** Every state a cycle job is in before it ends (a paused queue keeps its jobs in `wait`). */
const unfinished: JobType[] = ['wait', 'prioritized', 'active', 'delayed'];

const jobData = z.object({
  connectionId: z.string(),
  event: webhookPayloadSchema,
  receivedAt: z.iso.datetime(),
  signatureVariant: z.string().optional(),
  recipe: z.string().optional(),
});

/** The waiting cycles of a BullMQ queue of cycle jobs (cycle-job.ts); `redis` reads the jobs' data. */
export function waitingCycles(queue: Pick<Queue, 'getRanges' | 'toKey'>, redis: Redis): WaitingCycles {
  return {
    async ids(connectionId, taskProcessId) {
      const wanted = taskProcessId?.toLowerCase();
      // getRanges reads every state in one Lua script: a job moving on meanwhile is seen once.
      return (await queue.getRanges(unfinished, 0, -1)).flatMap((cycleJobId) => {
        const parts = cycleJobIdParts(cycleJobId);
        if (!parts || parts.connectionId !== connectionId) return [];
        if (wanted !== undefined && parts.taskProcessId.toLowerCase() !== wanted) return [];
        return [{ cycleJobId, at: parts.at }];
      });
    },
    async read(cycleJobIds) {
      if (cycleJobIds.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of cycleJobIds) pipeline.hget(queue.toKey(id), 'data');
      const rows = (await pipeline.exec()) ?? [];
      return cycleJobIds.map((_, i) => {
        const [err, raw] = rows[i] ?? [];
        if (err || typeof raw !== 'string') return null;
        let parsed: z.infer<typeof jobData>;
        try {
          const read = jobData.safeParse(JSON.parse(raw));
          if (!read.success) return null;
          parsed = read.data;
        } catch {
          return null;
        }
        const { connectionId, event, receivedAt, signatureVariant, recipe } = parsed;
        return {
          connectionId,
          receivedAt,
          facts: taskFacts(event, recipe ?? '(none)'),
          ...(signatureVariant ? { signatureVariant } : {}),
        };
      });
    },
  };
}
