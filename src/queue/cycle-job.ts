/**
 * The job contract between the receiver (producer) and the workers (consumers), and the rule that
 * decides when a webhook starts a cycle.
 *
 * Rule: the same event delivered again while its cycle is queued, delayed for a retry or running
 * starts no second cycle; a rework (the same TaskProcessId after the earlier cycle submitted or
 * ended, whatever its outcome) does. BullMQ deduplication keyed by connection + TaskProcessId gives
 * that: the key lives until the job completes or fails, and the worker releases it as soon as the
 * cycle has submitted, so a rework sent the moment a reviewer acts is never taken for a duplicate.
 * (A late duplicate delivery after submission does start a cycle; that cycle finds outputs with
 * nothing rejected and ends without submitting: see run-cycle.ts.) The job id itself is unique
 * per cycle, because a custom job id that repeats is silently dropped while the old job sits in
 * the completed set, which would lose reworks (taskforcesh/bullmq issues 1337 and 3765).
 */
import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import type { WebhookPayload } from '../creative-force/schemas.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

export const cycleQueueName = 'cycles';
export const cycleJobName = 'cycle';
export const reportFailureJobName = 'report-failure';

/** What a cycle job carries: ids and the event, never file bytes. `checkpoint` is filled by the worker. */
export interface CycleJobData {
  connectionId: string;
  event: WebhookPayload;
  /** When the receiver stored the job (ISO); the same time as the job id's (see {@link cycleJobIdParts}). */
  receivedAt: string;
  /** The signature variant the webhook matched (absent for a cycle the worker queued itself). */
  signatureVariant?: string;
  /**
   * The recipe the receiver found for the subfunction: what the task history shows of a job no
   * worker has taken yet. The worker runs the recipe of its own configuration.
   */
  recipe?: string;
  checkpoint?: unknown;
  /** The webhook's trace context, when tracing is on: every attempt continues that trace. */
  trace?: TraceCarrier;
}

/** What a failure report job carries: enough to tell Creative Force and ops what went wrong. */
export interface ReportFailureJobData {
  connectionId: string;
  taskProcessId: string;
  cycleJobId: string;
  message: string;
  code: string;
  /** The failed cycle's trace context, when tracing is on. */
  trace?: TraceCarrier;
}

/** The deduplication key of a task process's cycle (BullMQ job ids and keys avoid ':'). */
export function cycleDeduplicationId(connectionId: string, taskProcessId: string): string {
  return `${connectionId}.${taskProcessId}`;
}

/**
 * Job options for a new cycle: a fresh job id, deduplicated on connection + TaskProcessId. The id's
 * 32 random bits are the first 8 hex digits of a v4 UUID, all random: `randomUUID` draws from a
 * cache Node fills for 128 UUIDs at a time, where `randomBytes` asks OpenSSL each time, which makes
 * a `getpid` system call (its fork check) for every webhook.
 */
export function cycleJobOptions(connectionId: string, taskProcessId: string, now: number = Date.now()): JobsOptions {
  const dedupId = cycleDeduplicationId(connectionId, taskProcessId);
  return {
    jobId: `${dedupId}.${now.toString(36)}${randomUUID().slice(0, 8)}`,
    deduplication: { id: dedupId },
  };
}

/** A cycle job id's parts: `<connectionId>.<TaskProcessId>.<time, base36><8 hex digits>`. */
const cycleJobIdPattern = /^([a-z0-9][a-z0-9_-]*)\.([0-9A-Fa-f-]{36})\.([0-9a-z]+)[0-9a-f]{8}$/;

/**
 * The connection, TaskProcessId and time (ms) a cycle job id was made with, or null for an id
 * that is not a cycle's (a failure report's, `report.<cycle job id>`, has four parts). The
 * connection id has no '.' and the TaskProcessId is a GUID, so the parts are unambiguous.
 */
export function cycleJobIdParts(jobId: string): { connectionId: string; taskProcessId: string; at: number } | null {
  const match = cycleJobIdPattern.exec(jobId);
  if (!match) return null;
  const at = Number.parseInt(match[3] as string, 36);
  return Number.isSafeInteger(at) ? { connectionId: match[1] as string, taskProcessId: match[2] as string, at } : null;
}

/** A failure report is deduplicated by its cycle job id: reporting twice is harmless. */
export function reportFailureJobId(cycleJobId: string): string {
  return `report.${cycleJobId}`;
}
