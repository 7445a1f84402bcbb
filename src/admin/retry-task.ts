/**
 * The one retry an admin may ask for, shared by the API and the console: a cycle waiting for its
 * backoff runs now, an undelivered failure report is sent again; anything else is refused with the
 * reason (a finished cycle runs again when the task is sent to the step again in Creative Force).
 */
import type { CycleStatus } from '../history/task-history.ts';
import type { CycleQueue } from '../queue/cycle-queue.ts';
import type { DeadLetters } from '../queue/dead-letters.ts';

/** What a retry did: 202 with what was retried, or 409 with the reason it was refused. */
export type RetryOutcome =
  | { code: 202; body: { retried: 'cycle'; cycleJobId: string } }
  | { code: 202; body: { retried: 'failure report'; cycleJobId: string; reportJobId: string } }
  | { code: 409; body: { error: 'not retryable'; status?: CycleStatus; reason: string } };

const refusals: Record<Exclude<CycleStatus, 'retrying' | 'undelivered'>, string> = {
  queued: 'the cycle is queued and will run as soon as a worker is free',
  running: 'the cycle is running now',
  submitted:
    'the cycle has ended: to run the task again, send it to this step again in Creative Force (a rejection there starts a rework)',
  skipped: 'the cycle has ended: to run the task again, send it to this step again in Creative Force',
  failed: 'the failure is being reported to Creative Force; once reported, send the task to this step again in Creative Force',
  reported: 'the cycle failed and Creative Force was told: send the task to this step again in Creative Force to run it again',
};

/** Why a cycle in `status` cannot be retried, or null when it can. */
export function refusalOf(status: CycleStatus): string | null {
  return status === 'retrying' || status === 'undelivered' ? null : refusals[status];
}

/** Runs a cycle waiting for its backoff now, or sends an undelivered failure report again; refuses anything else, saying why. */
export async function retryCycle(
  deps: { queue: CycleQueue; deadLetters: DeadLetters },
  cycleJobId: string,
  status: CycleStatus,
): Promise<RetryOutcome> {
  if (status === 'retrying') {
    const job = await deps.queue.queue.getJob(cycleJobId);
    // The history says "retrying" just before the worker hands the job back to BullMQ's delayed set.
    let state = await job?.getState();
    for (let i = 0; state === 'active' && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await job?.getState();
    }
    if (job && state === 'delayed') {
      await job.promote();
      return { code: 202, body: { retried: 'cycle', cycleJobId } };
    }
    return {
      code: 409,
      body: {
        error: 'not retryable',
        reason: 'the cycle is no longer waiting for a retry: it is running again, or has just ended',
      },
    };
  }
  if (status === 'undelivered') {
    const letter = (await deps.deadLetters.list()).find((l) => l.report.cycleJobId === cycleJobId);
    if (letter) {
      const reportJobId = await deps.queue.resendFailureReport(letter.report);
      await deps.deadLetters.remove(letter.id);
      return { code: 202, body: { retried: 'failure report', cycleJobId, reportJobId } };
    }
    return { code: 409, body: { error: 'not retryable', reason: 'the failure report has already been sent again' } };
  }
  return { code: 409, body: { error: 'not retryable', status, reason: refusals[status] } };
}
