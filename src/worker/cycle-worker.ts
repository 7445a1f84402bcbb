/**
 * The BullMQ consumer. This is the one place that turns an error into "retry later" or "fail now":
 * retryable errors are rethrown for BullMQ's bounded exponential backoff with jitter; permanent
 * ones, and the last attempt, queue a failure report (step 6) and fail the job at once.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Job, MetricsTime, type QueueEvents, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Connection } from '../config/connections.ts';
import type { KeptOutputDownload } from '../creative-force/index.ts';
import type { CycleContext, GatewayClient } from '../cycle/cycle-context.ts';
import { resolveRoutes } from '../cycle/routes.ts';
import { runCycle } from '../cycle/run-cycle.ts';
import { studioMessage, updateProcessStatus } from '../cycle/steps/update-process-status.ts';
import { ConnectorError, isConnectorError } from '../errors.ts';
import { type CycleRecorder, cycleRecorder, taskFacts } from '../history/cycle-recorder.ts';
import type { TaskHistory } from '../history/task-history.ts';
import type { CycleOutcomeLabel, ServiceMetrics } from '../observability/metrics.ts';
import { throttledErrorLog } from '../observability/throttled-error-log.ts';
import { type SpanAttributes, type Tracing, tracingOff } from '../observability/tracing.ts';
import type { ProviderClients, RecipeRegistry } from '../providers/index.ts';
import {
  type CycleJobData,
  cycleDeduplicationId,
  cycleJobName,
  cycleQueueName,
  type ReportFailureJobData,
  reportFailureJobName,
} from '../queue/cycle-job.ts';
import type { CycleQueue } from '../queue/cycle-queue.ts';
import type { DeadLetters } from '../queue/dead-letters.ts';

export interface CycleWorkerDeps {
  connection: Redis;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  /** Times a job may be found stalled (its worker died) and restarted before it fails. */
  maxStalledCount: number;
  connections: ReadonlyMap<string, Connection>;
  recipes: RecipeRegistry;
  /** The gateway client of a connection (one per connection, shared by its jobs). */
  clientFor(connection: Connection): GatewayClient;
  /** The AI provider clients of a connection (one set per connection). */
  providersFor(connection: Connection): ProviderClients;
  queue: CycleQueue;
  /** Where a failure report that cannot be delivered is kept for ops. */
  deadLetters: DeadLetters;
  /** What happened to each task, for the admin API and the console. */
  history: TaskHistory;
  workRoot: string;
  maxAssetBytes: number;
  transferTimeoutMs: number;
  /** CF_KEPT_OUTPUT_DOWNLOAD: whether a drop box made from a kept still fetches it. */
  keptOutputDownload: KeptOutputDownload;
  logger: Logger;
  /**
   * Aborted when a shutdown's deadline passes with cycles still running: their transfers stop,
   * and the jobs resume from their checkpoints on another worker.
   */
  abortSignal: AbortSignal;
  /** Optional observer of step changes (the demo prints them). */
  onStep?(event: { jobId: string; taskProcessId: string; step: string; resumed: boolean }): void;
  /** Counts cycles, steps, paid starts and failure reports. */
  metrics?: ServiceMetrics;
  /** Each job is a span continuing the trace its data carries, and each step a span in it. */
  tracing?: Tracing;
}

type AnyJob = Job<CycleJobData | ReportFailureJobData>;

/** BullMQ's failedReason for a job that stalled more often than maxStalledCount. */
const stalledTooOften = 'job stalled more than allowable limit';

/** Directory of one cycle's files; job ids contain only [A-Za-z0-9._-]. */
export function cycleWorkDir(workRoot: string, jobId: string): string {
  return join(workRoot, jobId.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** What a job's span says of it. */
function jobAttributes(job: AnyJob, connectionId: string, taskProcessId: string): SpanAttributes {
  return {
    'cfc.connection_id': connectionId,
    'cfc.task_process_id': taskProcessId,
    'cfc.job_id': String(job.id),
    'cfc.attempt': job.attemptsMade + 1,
  };
}

export function createCycleWorker(deps: CycleWorkerDeps): Worker<CycleJobData | ReportFailureJobData> {
  const tracing = deps.tracing ?? tracingOff;
  const worker = new Worker<CycleJobData | ReportFailureJobData>(
    cycleQueueName,
    async (job, token) => {
      if (job.name === reportFailureJobName) {
        const data = job.data as ReportFailureJobData;
        const attributes = jobAttributes(job, data.connectionId, data.taskProcessId);
        return tracing.span('report-failure', { kind: 'consumer', parent: data.trace, attributes }, () =>
          reportFailure(deps, data, job),
        );
      }
      if (job.name === cycleJobName) {
        const data = job.data as CycleJobData;
        const attributes = jobAttributes(job, data.connectionId, data.event.TaskProcessId);
        return tracing.span('cycle', { kind: 'consumer', parent: data.trace, attributes }, () =>
          processCycle(deps, job as Job<CycleJobData>, token, deps.abortSignal),
        );
      }
      throw new UnrecoverableError(`unknown job name ${job.name}`);
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency,
      lockDuration: deps.lockDurationMs,
      stalledInterval: deps.lockDurationMs,
      maxStalledCount: deps.maxStalledCount,
      // BullMQ's completed and failed counts, which its Prometheus export shows (metrics.ts).
      metrics: { maxDataPoints: MetricsTime.ONE_HOUR },
      autorun: false,
    },
  );

  // BullMQ reports its connections' errors here too, one per reconnect while Redis is down.
  worker.on('error', throttledErrorLog(deps.logger, 'worker error', { level: 'error' }));
  return worker;
}

/**
 * A cycle whose workers keep dying (e.g. out of memory on one huge image) is failed by BullMQ's
 * stalled-job check, inside Redis, where no processor of ours sees it. This listener queues the
 * failure report for those; every worker process listens, and the report's job id makes the
 * extra copies no-ops.
 */
export function reportAbandonedCycles(
  events: QueueEvents,
  deps: Pick<CycleWorkerDeps, 'queue' | 'logger' | 'workRoot' | 'history'>,
): void {
  events.on('failed', ({ jobId, failedReason }) => {
    if (failedReason !== stalledTooOften) return;
    void (async () => {
      const job = await deps.queue.queue.getJob(jobId);
      if (!job || job.name !== cycleJobName) return;
      const data = job.data as CycleJobData;
      deps.logger.error(
        { connectionId: data.connectionId, taskProcessId: data.event.TaskProcessId, jobId, code: 'CYCLE_ABANDONED' },
        'cycle abandoned: its workers kept stopping; reporting to Creative Force',
      );
      const message = studioMessage(
        new ConnectorError(
          'CYCLE_ABANDONED',
          'the connector stopped repeatedly while working on this task (the operator has been alerted)',
        ),
      );
      await cycleRecorder(deps.history, jobId, deps.logger).attemptFailed({
        attempt: job.attemptsMade + 1,
        code: 'CYCLE_ABANDONED',
        retryable: false,
        message,
        willRetry: false,
      });
      await deps.queue.addFailureReport({
        connectionId: data.connectionId,
        taskProcessId: data.event.TaskProcessId,
        cycleJobId: jobId,
        code: 'CYCLE_ABANDONED',
        message,
      });
      await rm(cycleWorkDir(deps.workRoot, jobId), { recursive: true, force: true });
    })().catch((err: unknown) => deps.logger.error({ err, jobId }, 'failure report of an abandoned cycle not queued'));
  });
}

async function processCycle(
  deps: CycleWorkerDeps,
  job: Job<CycleJobData>,
  token: string | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  const { connectionId, event } = job.data;
  const jobId = String(job.id);
  const logger = deps.logger.child({ connectionId, taskProcessId: event.TaskProcessId, jobId });
  const workDir = cycleWorkDir(deps.workRoot, jobId);
  const attempt = job.attemptsMade + 1;
  const finalAttempt = attempt >= (job.opts.attempts ?? 1);
  const record = cycleRecorder(deps.history, jobId, logger);
  const { metrics, tracing = tracingOff } = deps;
  const connection = deps.connections.get(connectionId);
  const sub = connection?.subfunctions[String(event.SubfunctionId)];
  const ended = (outcome: CycleOutcomeLabel) =>
    metrics?.cycleEnded({ connection: connectionId, recipe: sub?.recipe ?? '(none)', outcome });
  if (job.attemptsMade === 0 && job.stalledCounter === 0 && job.data.checkpoint === undefined && job.processedOn) {
    metrics?.queueWaited((job.processedOn - job.timestamp) / 1000);
  }
  let step = 'start';

  try {
    // The cycle's record (until now the history read it from the queue); the first write wins.
    await record.received(
      connectionId,
      taskFacts(event, sub?.recipe ?? '(none)'),
      Date.parse(job.data.receivedAt),
      job.data.signatureVariant,
    );
    await record.attempt(attempt);
    if (!connection) throw new ConnectorError('CONNECTION_UNKNOWN', `connection ${connectionId} is no longer configured`);
    if (!sub) throw new ConnectorError('RECIPE_NOT_CONFIGURED', `subfunction ${event.SubfunctionId} has no recipe`);
    const routes = resolveRoutes(sub.routes, deps.recipes, event.SubfunctionId);

    const ctx: CycleContext = {
      event,
      client: record.countCalls(deps.clientFor(connection)),
      providers: deps.providersFor(connection),
      finalAttempt,
      workDir,
      limits: { maxAssetBytes: deps.maxAssetBytes, transferTimeoutMs: deps.transferTimeoutMs },
      keptOutputDownload: deps.keptOutputDownload,
      signal,
      transferSignal: () => AbortSignal.any([signal, AbortSignal.timeout(deps.transferTimeoutMs)]),
      logger,
      paidWork: async (work) => {
        if (!work.adopted) metrics?.paidGeneration(work.provider);
        await record.paid(work);
      },
      stageDone: ({ stage, resumed, durationMs }) =>
        record.step(`process-assets: ${stage}`, resumed ? 'resumed' : 'finished', resumed ? undefined : durationMs),
    };
    const outcome = await runCycle(
      {
        checkpoint: job.data.checkpoint,
        save: async (checkpoint) => {
          // Every paid call and every Submit Output comes after a save: a job whose lock passed to
          // another worker (a Redis outage longer than the lock) stops here, before either.
          if (!(await ownsLock(deps, job, token))) throw new LockLost(jobId);
          await job.updateData({ ...job.data, checkpoint });
        },
        submitted: async ({ reworkPending, plan }) => {
          // The duplicate window of this task process ends now, not when the job completes.
          await deps.queue.queue.removeDeduplicationKey(cycleDeduplicationId(connectionId, event.TaskProcessId));
          if (reworkPending) {
            logger.warn('a reviewer rejected outputs while the Submit Output answer was lost; starting the rework cycle');
            await deps.queue.addCycle(connectionId, event, { trace: tracing.carrier(), recipe: sub.recipe });
          }
          await record.submitted(plan);
        },
        enterStep: async (next, resumed) => {
          step = next;
          logger.info({ step: next, resumed, attempt }, resumed ? 'step resumed from checkpoint' : 'step started');
          deps.onStep?.({ jobId, taskProcessId: event.TaskProcessId, step: next, resumed });
          await record.step(next, resumed ? 'resumed' : 'started');
          await job.updateProgress({ step: next });
        },
        stepFinished: async (finished, durationMs) => {
          metrics?.stepFinished(finished, durationMs / 1000);
          await record.step(finished, 'finished', durationMs);
        },
        runStep: (next, run) => tracing.span(`step ${next}`, { attributes: { 'cfc.step': next } }, run),
      },
      ctx,
      { routes, checks: sub.checks },
    );
    // From now on the same TaskProcessId is new work (a rework, or a late duplicate that the
    // next cycle recognises and skips): free the deduplication key before the job completes.
    await deps.queue.queue.removeDeduplicationKey(cycleDeduplicationId(connectionId, event.TaskProcessId));
    const submitted = 'submitted' in outcome ? outcome.submitted : undefined;
    if ('skipped' in outcome) await record.skipped(outcome.skipped);
    // A cycle that ended without an error used the connection's credentials successfully.
    await record.credentials(connectionId, 'creative-force', { ok: true });
    if ('submitted' in outcome) {
      const providers = new Set(routes.flatMap((r) => r.stages.flatMap((stage) => stage.recipe.provider ?? [])));
      for (const provider of providers) await record.credentials(connectionId, provider, { ok: true });
    }
    ended(submitted ? 'submitted' : 'skipped');
    logger.info(
      { step: 'done', submitted: submitted?.assets.length ?? 0, skipped: 'skipped' in outcome ? outcome.skipped : undefined },
      'cycle completed',
    );
    deps.onStep?.({ jobId, taskProcessId: event.TaskProcessId, step: 'done', resumed: false });
    await rm(workDir, { recursive: true, force: true });
    return { submitted };
  } catch (err) {
    const retryable = isConnectorError(err) ? err.retryable : !(err instanceof UnrecoverableError);
    if (signal.aborted) {
      ended('handed_back');
      return handBack(job, token, logger, step, err, record);
    }
    if (err instanceof LockLost) {
      ended('lock_lost');
      logger.warn({ step }, 'cycle stopped: its lock expired and another worker may have it now; nothing more is done here');
      throw err;
    }
    const code = isConnectorError(err) ? err.code : 'UNEXPECTED';
    const refusedBy = credentialsRefusedBy(err);
    if (refusedBy) await record.credentials(connectionId, refusedBy, { ok: false, code });
    const willRetry = retryable && !finalAttempt;
    await record.attemptFailed({ attempt, code, retryable, message: studioMessage(err), willRetry });
    ended(willRetry ? 'retrying' : 'failed');
    if (willRetry) {
      logger.warn({ err, step, attempt }, 'cycle attempt failed; will retry');
      throw err;
    }
    logger.error({ err, step, code, attempt }, 'cycle failed; reporting to Creative Force');
    const trace = tracing.carrier();
    await deps.queue.addFailureReport({
      connectionId,
      taskProcessId: event.TaskProcessId,
      cycleJobId: jobId,
      code,
      message: studioMessage(err),
      ...(trace ? { trace } : {}),
    });
    deps.onStep?.({ jobId, taskProcessId: event.TaskProcessId, step: 'failed', resumed: false });
    await rm(workDir, { recursive: true, force: true });
    throw new UnrecoverableError(`${code}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The remote system that refused the connection's credentials, if that is what `err` says. */
function credentialsRefusedBy(err: unknown): string | undefined {
  if (!isConnectorError(err)) return undefined;
  if (err.code === 'CF_AUTH_FAILED' || err.code === 'CF_UNAUTHORIZED') return 'creative-force';
  const provider = err.details?.provider;
  return (err.code === 'PROVIDER_AUTH_FAILED' || err.code === 'PROVIDER_NO_CREDITS') && typeof provider === 'string'
    ? provider
    : undefined;
}

/** The job's lock is no longer this worker's: the cycle must not go on here. */
class LockLost extends Error {
  constructor(jobId: string) {
    super(`the lock of job ${jobId} is no longer held by this worker`);
    this.name = 'LockLost';
  }
}

/** Whether this worker still holds the job's lock (BullMQ keeps it at `<job key>:lock`, valued with the token). */
async function ownsLock(deps: CycleWorkerDeps, job: Job<CycleJobData>, token: string | undefined): Promise<boolean> {
  if (token === undefined) return true;
  return (await deps.connection.get(`${deps.queue.queue.toKey(String(job.id))}:lock`)) === token;
}

/**
 * A cycle stopped by a shutdown past its deadline goes back to the queue as it is: no attempt is
 * used up (a long generation survives any number of rolling deploys) and, on a last attempt, no
 * failure goes unreported, because nothing failed. Another worker resumes it from its checkpoint.
 * When Redis cannot take it back (it is why the shutdown ran late, often), the job keeps its lock
 * until the lock expires, and BullMQ's stalled-job check hands it to another worker.
 */
async function handBack(
  job: Job<CycleJobData>,
  token: string | undefined,
  logger: Logger,
  step: string,
  err: unknown,
  record: CycleRecorder,
): Promise<never> {
  try {
    await job.moveToWait(token);
    await record.handedBack(step);
  } catch (moveErr) {
    logger.warn(
      { err: moveErr, step },
      'cycle stopped by the shutdown; Redis did not take it back, it resumes after its lock expires',
    );
    throw err;
  }
  logger.info(
    { step, attempt: job.attemptsMade + 1 },
    'cycle stopped by the shutdown; back in the queue, without using an attempt',
  );
  throw new WaitingError();
}

async function reportFailure(deps: CycleWorkerDeps, data: ReportFailureJobData, job: AnyJob): Promise<void> {
  const logger = deps.logger.child({
    connectionId: data.connectionId,
    taskProcessId: data.taskProcessId,
    jobId: job.id,
    step: 'update-process-status',
  });
  const attempt = job.attemptsMade + 1;
  const lastAttempt = attempt >= (job.opts.attempts ?? 1);
  // Kept for ops (`cf-ai-connector reports`) before the job fails for good: no failure is lost.
  const deadLetter = async (error: string) => {
    await deps.deadLetters.add({ id: String(job.id), report: data, error, attempts: attempt, at: new Date().toISOString() });
    deps.metrics?.failureReport(data.connectionId, 'dead_lettered');
    await cycleRecorder(deps.history, data.cycleJobId, logger).report('undelivered', data.code, error);
    logger.error({ code: data.code, error }, 'failure report not delivered; kept as a dead letter');
  };
  const connection = deps.connections.get(data.connectionId);
  if (!connection) {
    await deadLetter(`CONNECTION_UNKNOWN: connection ${data.connectionId} is no longer configured`);
    throw new UnrecoverableError(`connection ${data.connectionId} is not configured`);
  }
  if (attempt > 1) {
    // Update Process Status is a PUT of the same status and message: repeating it is harmless.
    logger.info(
      { code: data.code, attempt },
      'sending the failure report again (an earlier attempt may have reached Creative Force)',
    );
  }
  try {
    await updateProcessStatus(deps.clientFor(connection), data.taskProcessId, data.message);
  } catch (err) {
    const refused = isConnectorError(err) && !err.retryable;
    const reason = isConnectorError(err) ? `${err.code}: ${err.message}` : String(err);
    if (refused || lastAttempt) {
      await deadLetter(reason);
      throw new UnrecoverableError(reason);
    }
    deps.metrics?.failureReport(data.connectionId, 'retrying');
    logger.warn({ err, code: data.code, attempt }, 'failure report not delivered; will retry');
    throw err;
  }
  deps.metrics?.failureReport(data.connectionId, 'delivered');
  logger.info({ code: data.code, message: data.message }, 'failure reported to Creative Force');
  await cycleRecorder(deps.history, data.cycleJobId, logger).report('delivered', data.code);
}
