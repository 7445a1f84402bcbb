/**
 * What ops see of the running service (the ops token only): the cycle queue's job counts, the
 * failure reports waiting for ops (dead letters), the Creative Force limiter, the workers online.
 */
import type { RateLimiterState } from '../creative-force/index.ts';
import type { CycleQueue } from '../queue/cycle-queue.ts';
import type { DeadLetters } from '../queue/dead-letters.ts';

export interface OpsState {
  at: string;
  /** Jobs of the cycle queue (cycles and failure reports) by BullMQ state. */
  queue: { waiting: number; active: number; delayed: number; prioritized: number; failed: number };
  /** Failure reports that ran out of attempts or were refused: `cf-ai-connector reports`. */
  failureReportsPending: number;
  limiter: RateLimiterState;
  /** The BullMQ worker connections on the queue: one per worker process (CLIENT LIST). */
  workers: { name: string; address: string; ageSeconds: number; idleSeconds: number }[];
}

export interface OpsStateDeps {
  queue: CycleQueue;
  deadLetters: DeadLetters;
  limiter: { state(): Promise<RateLimiterState> };
}

export async function opsState(deps: OpsStateDeps): Promise<OpsState> {
  const [counts, failureReportsPending, limiter, clients] = await Promise.all([
    deps.queue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'),
    deps.deadLetters.count(),
    deps.limiter.state(),
    deps.queue.queue.getWorkers(),
  ]);
  const count = (state: string) => counts[state] ?? 0;
  return {
    at: new Date().toISOString(),
    queue: {
      waiting: count('waiting'),
      active: count('active'),
      delayed: count('delayed'),
      prioritized: count('prioritized'),
      failed: count('failed'),
    },
    failureReportsPending,
    limiter,
    workers: clients.map((client) => ({
      name: client.rawname ?? client.name ?? '',
      address: client.addr ?? '',
      ageSeconds: Number(client.age ?? 0),
      idleSeconds: Number(client.idle ?? 0),
    })),
  };
}
