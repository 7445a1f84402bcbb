/**
 * Producer side of the cycle queue: the receiver adds jobs here and answers 202 only after Redis
 * has stored the job. Adding fails fast while Redis is unreachable, and within a deadline
 * otherwise, so an outage becomes a 503 that Creative Force retries, not a request that hangs.
 * (BullMQ needs a connection with an offline queue while it initialises, so the fail-fast rule is
 * applied here rather than with ioredis' enableOfflineQueue: false.)
 */
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WebhookPayload } from '../creative-force/schemas.ts';
import { ConnectorError } from '../errors.ts';
import type { TraceCarrier } from '../observability/tracing.ts';
import {
  type CycleJobData,
  cycleJobName,
  cycleJobOptions,
  cycleQueueName,
  type ReportFailureJobData,
  reportFailureJobId,
  reportFailureJobName,
} from './cycle-job.ts';

/** Attempts of a failure report by default: with its exponential backoff (from CYCLE_BACKOFF_MS), it rides out hours of Creative Force outage. */
export const defaultReportAttempts = 12;

/**
 * Whether an error of `queue.add` came from Redis or the connection to it, recognised by name and
 * code (ioredis' ReplyError and MaxRetriesPerRequestError, Node's E* socket codes, the "Connection
 * is closed." of ioredis) rather than instanceof. BullMQ's own refusals are plain Errors.
 */
function isRedisFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError' || err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || err.message === 'Connection is closed.';
}

export interface CycleQueueOptions {
  connection: Redis;
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** Attempts of one failure report (Update Process Status) before it becomes a dead letter (default 12). */
  reportAttempts?: number;
  /** How long a webhook may wait for Redis to store its job before the answer is 503. */
  addTimeoutMs?: number;
  /**
   * Receives the queue's errors (its connection's, while Redis is unreachable). Required: BullMQ
   * writes the errors of a queue without an `error` listener to the console, one per reconnect.
   */
  onError(err: Error): void;
}

export interface EnqueueResult {
  jobId: string;
  /** True when the event matched a cycle that is still queued or running: nothing new was added. */
  duplicate: boolean;
}

/** What a cycle job carries besides its event: see {@link CycleJobData}. */
export interface CycleAddition {
  trace?: TraceCarrier;
  signatureVariant?: string;
  recipe?: string;
}

export class CycleQueue {
  readonly queue: Queue<CycleJobData | ReportFailureJobData>;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly reportAttempts: number;
  private readonly addTimeoutMs: number;
  private readonly redis: Redis;

  constructor(options: CycleQueueOptions) {
    this.redis = options.connection;
    this.addTimeoutMs = options.addTimeoutMs ?? 5_000;
    this.queue = new Queue(cycleQueueName, {
      connection: options.connection,
      prefix: options.prefix,
    });
    this.queue.on('error', options.onError);
    this.attempts = options.attempts;
    this.backoffMs = options.backoffMs;
    this.reportAttempts = options.reportAttempts ?? defaultReportAttempts;
  }

  /** Retry policy of cycles: bounded attempts, exponential backoff with jitter. */
  private retryPolicy(): JobsOptions {
    return {
      attempts: this.attempts,
      backoff: { type: 'exponential', delay: this.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 50_000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    };
  }

  /**
   * Adds the cycle of a webhook event. Fails with QUEUE_UNAVAILABLE when Redis is the cause (not
   * connected, too slow, a connection error or an error reply), which the receiver answers 503 so
   * that Creative Force retries; with QUEUE_JOB_REFUSED when BullMQ refused the job before Redis
   * saw it (a job id or option it does not accept: a bug, since the event is validated first),
   * which a retry cannot fix. `extra`: the context the cycle's trace continues (tracing.ts), and
   * what the task history shows of the job before a worker takes it (cycle-job.ts).
   */
  async addCycle(connectionId: string, event: WebhookPayload, extra: CycleAddition = {}): Promise<EnqueueResult> {
    const now = Date.now();
    const options = cycleJobOptions(connectionId, event.TaskProcessId, now);
    const { trace, signatureVariant, recipe } = extra;
    const data: CycleJobData = {
      connectionId,
      event,
      receivedAt: new Date(now).toISOString(),
      ...(signatureVariant ? { signatureVariant } : {}),
      ...(recipe ? { recipe } : {}),
      ...(trace ? { trace } : {}),
    };
    const details = { connectionId, jobId: options.jobId };
    if (this.redis.status !== 'ready') {
      throw new ConnectorError('QUEUE_UNAVAILABLE', `Redis is not connected (${this.redis.status})`, { details });
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const job = await Promise.race([
        this.queue.add(cycleJobName, data, { ...this.retryPolicy(), ...options }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new ConnectorError('QUEUE_UNAVAILABLE', `Redis did not store the job within ${this.addTimeoutMs} ms`, {
                  details,
                }),
              ),
            this.addTimeoutMs,
          ).unref();
        }),
      ]);
      const jobId = job.id ?? String(options.jobId);
      return { jobId, duplicate: jobId !== options.jobId };
    } catch (err) {
      if (err instanceof ConnectorError) throw err;
      const code = isRedisFailure(err) || this.redis.status !== 'ready' ? 'QUEUE_UNAVAILABLE' : 'QUEUE_JOB_REFUSED';
      const reason = err instanceof Error ? err.message : String(err);
      throw new ConnectorError(code, `the cycle job was not stored: ${reason}`, { cause: err, details });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Queues the Update Process Status call of a failed cycle; at most one per cycle job. */
  async addFailureReport(data: ReportFailureJobData): Promise<void> {
    await this.#addReport(data, reportFailureJobId(data.cycleJobId));
  }

  /**
   * Queues a dead letter's report again, under a job id of its own (the first report's id is
   * still taken by its failed job, and BullMQ drops a job whose id exists).
   */
  async resendFailureReport(data: ReportFailureJobData, now: number = Date.now()): Promise<string> {
    const jobId = `${reportFailureJobId(data.cycleJobId)}.resent-${now.toString(36)}`;
    await this.#addReport(data, jobId);
    return jobId;
  }

  async #addReport(data: ReportFailureJobData, jobId: string): Promise<void> {
    await this.queue.add(reportFailureJobName, data, {
      jobId,
      attempts: this.reportAttempts,
      backoff: { type: 'exponential', delay: Math.max(1_000, this.backoffMs), jitter: 0.5 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
