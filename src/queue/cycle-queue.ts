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

export interface CycleQueueOptions {
  connection: Redis;
  prefix: string;
  attempts: number;
  backoffMs: number;
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
    await this.queue.add(reportFailureJobName, data, {
      jobId: reportFailureJobId(data.cycleJobId),
      attempts: 12,
      backoff: { type: 'exponential', delay: Math.max(1_000, this.backoffMs), jitter: 0.5 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
