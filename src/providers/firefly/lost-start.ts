/**
 * How a lost Firefly start is found (src/providers/paid-start.ts). `POST /batch/execute` takes no
 * idempotency key, and the batch id comes only in its answer; several tasks may share one batch
 * (batch-gatherer.ts), whose execute call only the leader makes. `GET /batches` lists the caller's
 * batches "filtered by status, workflow ID, or creation date" (`createdAfter`), each with its
 * `workflowId` and `createdAt` but not its inputs; `GET /batch/{id}/executions` gives each run's
 * `inputAsset.inputs` ("Input asset data"). So the intent records, per run of the task, a digest
 * of its node inputs exactly as sent (presigned URLs included: each attempt's URLs carry their own
 * signature, so no earlier batch has them); the lost start is the batch of the workflow, created
 * since the intent, whose executions hold those runs one after the other, at the run indexes found
 * there. Every task of a shared batch finds its own runs in it. A batch whose executions do not
 * show their inputs cannot be told apart: with it, nothing is adopted.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { LostStart, StartLookup } from '../paid-start.ts';
import type { BatchAssignment } from './batch-gatherer.ts';
import type { FireflyClient, FireflyExecution, FireflyListedBatch } from './client.ts';
import { fireflyProvider } from './errors.ts';

/** What the intent of a task's runs records. */
export interface FireflyStartFingerprint {
  /** The published workflow's UUID, as sent. */
  workflowId: string;
  /** Per run of the task, in order: the digest of its node inputs (fireflyRunDigest). */
  runs: string[];
}

const fingerprintSchema: z.ZodType<FireflyStartFingerprint> = z.object({
  workflowId: z.string().min(1),
  runs: z.array(z.string().min(1)).min(1),
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The presigned URL of a storage reference, if it is one. */
function urlOf(reference: unknown): string | undefined {
  return isRecord(reference) && typeof reference.presignedUrl === 'string' ? reference.presignedUrl : undefined;
}

/**
 * A digest of one run's node inputs (`node_id` with its text `content`, its file `content` or its
 * `template`): the same for the inputs as sent and as an execution echoes them, whatever the order
 * of the nodes and keys, and whatever else a storage reference carries. Null for inputs of another
 * shape.
 */
export function fireflyRunDigest(inputs: readonly unknown[]): string | null {
  const nodes: string[] = [];
  for (const input of inputs) {
    if (!isRecord(input) || typeof input.node_id !== 'string') return null;
    const { content, template } = input;
    const parts: string[] = [];
    if (typeof content === 'string') parts.push(`text ${content}`);
    else if (Array.isArray(content)) {
      for (const reference of content) {
        const url = urlOf(reference);
        if (url === undefined) return null;
        parts.push(`file ${url}`);
      }
    } else if (content !== undefined) return null;
    if (template !== undefined) {
      const url = urlOf(template);
      if (url === undefined) return null;
      parts.push(`template ${url}`);
    }
    nodes.push(JSON.stringify([input.node_id, parts]));
  }
  return createHash('sha256').update(nodes.sort().join('\n')).digest('hex');
}

/** A workflow id as sent (the UUID) or as listed (`run-workflow_<uuid>`), for comparing. */
function bareWorkflowId(id: string): string {
  return id
    .trim()
    .toLowerCase()
    .replace(/^run-workflow_/, '');
}

/** A listed batch of the workflow, and its executions once read. */
export interface FireflyCandidate {
  batch: FireflyListedBatch;
  executions: readonly FireflyExecution[];
}

/** True when the batch may hold the intent's runs: of its workflow (or naming none), created since `notBefore` (or undated). */
export function fireflyMayHold(fingerprint: FireflyStartFingerprint, notBefore: number, batch: FireflyListedBatch): boolean {
  const workflow = batch.workflowId === null || bareWorkflowId(batch.workflowId) === bareWorkflowId(fingerprint.workflowId);
  return workflow && (batch.createdAt === null || batch.createdAt >= notBefore);
}

/**
 * The rule: the batch whose executions hold the intent's runs, one after the other (as the
 * gatherer queues a task's runs), and at which run indexes. Exactly one such place is adopted;
 * none (with every candidate's inputs shown) means the runs were never started.
 */
export function fireflyLostStart(
  fingerprint: FireflyStartFingerprint,
  candidates: readonly FireflyCandidate[],
): LostStart<BatchAssignment> {
  const found: BatchAssignment[] = [];
  const unreadable: string[] = [];
  for (const { batch, executions } of candidates) {
    const runs = [...executions].sort((a, b) => a.assetIndex - b.assetIndex);
    const digests = runs.map((e) => (e.inputs === null ? null : fireflyRunDigest(e.inputs)));
    // No run that shows its inputs (or none listed yet, though the batch has some): it may be this one.
    if (digests.every((d) => d === null) && Math.max(runs.length, batch.assets.total) > 0) {
      unreadable.push(batch.batchId);
      continue;
    }
    const want = fingerprint.runs;
    for (let at = 0; at + want.length <= runs.length; at++) {
      if (want.every((digest, k) => digests[at + k] === digest)) {
        const runIndexes = runs.slice(at, at + want.length).map((e) => e.assetIndex);
        found.push({ batchId: batch.batchId, runIndexes, totalRuns: Math.max(runs.length, batch.assets.total) });
      }
    }
  }
  const [only, ...more] = found;
  if (only && more.length === 0 && unreadable.length === 0) return { found: 'one', start: only };
  if (!only && unreadable.length === 0) return { found: 'none' };
  return { found: 'several', ids: [...found.map((f) => f.batchId), ...unreadable] };
}

/** The lookup of a task's runs of `fingerprint.workflowId`, in whichever batch ran them. */
export function fireflyStartLookup(
  client: FireflyClient,
  fingerprint: FireflyStartFingerprint,
  call: <T>(fn: () => Promise<T>) => Promise<T>,
  signal: AbortSignal,
): StartLookup<FireflyStartFingerprint, BatchAssignment> {
  return {
    provider: fireflyProvider,
    fingerprintSchema,
    fingerprint: async () => fingerprint,
    clockSkewMs: client.startClockSkewMs,
    // Several tasks may adopt one batch: no claims, and nothing to wait for.
    relookPausesMs: [],
    async find(intent) {
      const listed = await call(() => client.listBatches(intent.notBefore, signal));
      const candidates: FireflyCandidate[] = [];
      for (const batch of listed.filter((b) => fireflyMayHold(intent.fingerprint, intent.notBefore, b))) {
        candidates.push({ batch, executions: await call(() => client.executions(batch.batchId, signal)) });
      }
      return fireflyLostStart(intent.fingerprint, candidates);
    },
  };
}
