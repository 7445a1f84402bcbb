/**
 * The task history as one cycle's code sees it: bound to the cycle, and never in its way. Every
 * write is awaited but its failure is only logged: a Redis hiccup costs a line of history, not
 * the cycle.
 */
import type { Logger } from 'pino';
import type { WebhookPayload } from '../creative-force/schemas.ts';
import type { SubmissionPlan } from '../cycle/build-submission.ts';
import type { GatewayClient } from '../cycle/cycle-context.ts';
import type { TaskFacts, TaskHistory } from './task-history.ts';

/** What the history keeps of the webhook that started a cycle. */
export function taskFacts(event: WebhookPayload, recipe: string): TaskFacts {
  return {
    taskProcessId: event.TaskProcessId,
    taskId: event.TaskId,
    productId: event.ProductId ?? null,
    productCode: event.ProductCode ?? null,
    jobId: event.JobId ?? null,
    jobCode: event.JobCode ?? null,
    subfunctionId: event.SubfunctionId,
    subfunctionName: event.SubFunctionName ?? null,
    stepId: event.StepId,
    recipe,
  };
}

/** Per slot: new assets, kept ones and redone ones, as submitted. */
export function submittedSlots(plan: SubmissionPlan) {
  return plan.slots.map((slot) => ({
    mappingKeyId: slot.mappingKeyId,
    ...(slot.route === undefined ? {} : { route: slot.route }),
    new: slot.assets.filter((a) => a.replaces === null).length,
    kept: slot.kept.length,
    redone: slot.assets.filter((a) => a.replaces !== null).length,
  }));
}

export type CycleRecorder = ReturnType<typeof cycleRecorder>;

export function cycleRecorder(history: TaskHistory, cycleJobId: string, logger: Logger) {
  const safely = async (what: string, write: () => Promise<void>) => {
    try {
      await write();
    } catch (err) {
      logger.warn({ err, what }, 'task history not written');
    }
  };
  return {
    received: (connectionId: string, facts: TaskFacts, receivedAt: number, signatureVariant: string | undefined) =>
      safely('received', () =>
        history.received({ connectionId, cycleJobId, facts, at: receivedAt, ...(signatureVariant ? { signatureVariant } : {}) }),
      ),
    attempt: (attempt: number) => safely('attempt', () => history.attemptStarted(cycleJobId, attempt)),
    step: (step: string, phase: 'started' | 'resumed' | 'finished', durationMs?: number) =>
      safely('step', () => history.step(cycleJobId, step, phase, durationMs)),
    submitted: (plan: SubmissionPlan) =>
      safely('submitted', () =>
        history.submitted(cycleJobId, {
          slots: submittedSlots(plan),
          assets: plan.slots.reduce((n, s) => n + s.assets.length + s.kept.length, 0),
          refused: plan.refused.length,
        }),
      ),
    skipped: (reason: string) => safely('skipped', () => history.skipped(cycleJobId, reason)),
    attemptFailed: (error: { attempt: number; code: string; retryable: boolean; message: string; willRetry: boolean }) =>
      safely('attempt failed', () => history.attemptFailed(cycleJobId, error)),
    handedBack: (step: string) => safely('handed back', () => history.handedBack(cycleJobId, step)),
    report: (outcome: 'delivered' | 'undelivered', code: string, error?: string) =>
      safely('report', () => history.report(cycleJobId, outcome, code, error)),
    /** The last success or failure of the connection's credentials with a remote system (`creative-force` or a provider id). */
    credentials: (connectionId: string, system: string, outcome: { ok: true } | { ok: false; code: string }) =>
      safely('credentials', () => history.credentials(connectionId, system, outcome)),
    paid: (work: { provider: string; what: string; id: string; adopted: boolean }) =>
      safely('paid', () => history.paid(cycleJobId, work)),
    /** The gateway client, counting each call of this cycle (by method: one per endpoint). */
    countCalls(client: GatewayClient): GatewayClient {
      return new Proxy(client, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function' || typeof property !== 'string') return value;
          return (...args: unknown[]) => {
            void safely('call', () => history.call(cycleJobId, property));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
  };
}
