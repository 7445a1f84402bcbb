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

  async addCycle(connectionId: string, event: WebhookPayload): Promise<EnqueueResult> {
    const options = cycleJobOptions(connectionId, event.TaskProcessId);
    const data: CycleJobData = { connectionId, event, receivedAt: new Date().toISOString() };
    if (this.redis.status !== 'ready') throw new Error(`Redis is not connected (${this.redis.status})`);
    const job = await Promise.race([
      this.queue.add(cycleJobName, data, { ...this.retryPolicy(), ...options }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`Redis did not store the job within ${this.addTimeoutMs} ms`)),
          this.addTimeoutMs,
        ).unref(),
      ),
    ]);
    const jobId = job.id ?? String(options.jobId);
    return { jobId, duplicate: jobId !== options.jobId };
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
