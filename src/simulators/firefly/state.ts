/**
 * What the simulator holds besides credentials and tokens: the published workflows, the batches,
 * the records tests inspect, the run duration and the run failures tests asked for.
 */
import { Batch } from './batch.ts';
import type { ExecuteRequest } from './execute-request.ts';
import { isUuid } from './execute-request.ts';
import type { FireflyBatchRecord, FireflyCredential, FireflyWorkflow } from './types.ts';

/** The simulator's memory. */
export class FireflyState {
  readonly workflows = new Map<string, FireflyWorkflow>();
  /** Batches by id, in creation order. */
  readonly batches = new Map<string, Batch>();
  /** Paid batches, in order. */
  readonly records: FireflyBatchRecord[] = [];
  /** Run indexes to fail in the next batch accepted. */
  #nextBatchFailures = new Set<number>();
  #durationMs: number;

  constructor(durationMs: number) {
    this.#durationMs = checkDuration(durationMs);
  }

  /** Registers (or replaces) a published workflow; throws on an invalid definition. */
  addWorkflow(workflow: FireflyWorkflow): void {
    if (!isUuid(workflow.workflowId)) throw new Error(`workflowId must be a UUID: ${workflow.workflowId}`);
    const ids = workflow.inputNodes.map((node) => node.nodeId);
    if (ids.some((id) => typeof id !== 'string' || id === '')) throw new Error('input node ids must be non-empty strings');
    if (new Set(ids).size !== ids.length) throw new Error('input node ids must be unique');
    if (workflow.inputNodes.some((node) => node.kind !== 'image' && node.kind !== 'text')) {
      throw new Error("input node kinds must be 'image' or 'text'");
    }
    const outputs = workflow.outputNodeIds;
    if (outputs && (outputs.length === 0 || outputs.some((id) => typeof id !== 'string' || id === ''))) {
      throw new Error('output node ids must be a non-empty list of non-empty strings');
    }
    if (outputs && new Set(outputs).size !== outputs.length) throw new Error('output node ids must be unique');
    const id = workflow.workflowId.toLowerCase();
    this.workflows.set(id, { ...structuredClone(workflow), workflowId: id });
  }

  /** The workflow of a UUID, any case. */
  workflow(workflowId: string): FireflyWorkflow | undefined {
    return this.workflows.get(workflowId.toLowerCase());
  }

  /** Sets the duration of the batches accepted from now on; `ms` must be a non-negative number. */
  setDuration(ms: number): void {
    this.#durationMs = checkDuration(ms);
  }

  /** Makes run `runIndex` of the next accepted batch fail. */
  failInNextBatch(runIndex: number): void {
    this.#nextBatchFailures.add(runIndex);
  }

  /** Creates and records a paid batch; runs queued by {@link failInNextBatch} are made to fail. */
  createBatch(request: ExecuteRequest, workflow: FireflyWorkflow, caller: FireflyCredential, now: number): Batch {
    const batch = new Batch({
      workflow,
      requestedWorkflowId: request.workflowId,
      orgId: caller.orgId,
      userId: caller.userId,
      createdAt: now,
      durationMs: this.#durationMs,
      runs: request.runs.map((run, index) => ({
        rawInputs: request.rawRuns[index] ?? [],
        imageUrls: run.flatMap((input) => (input.kind === 'image' ? input.urls : [])),
      })),
    });
    for (const index of this.#nextBatchFailures) batch.runs[index]?.forceFailure();
    this.#nextBatchFailures = new Set();
    this.batches.set(batch.id, batch);
    this.records.push({
      batchId: batch.id,
      workflowId: request.workflowId,
      runs: structuredClone(request.rawRuns),
      at: now,
      cancelled: false,
    });
    return batch;
  }

  /** The batch of an id when the caller (same org and user) created it. */
  batchOf(batchId: string, caller: FireflyCredential): Batch | undefined {
    const batch = this.batches.get(batchId);
    return batch && batch.init.orgId === caller.orgId && batch.init.userId === caller.userId ? batch : undefined;
  }

  /** Notes a cancel in the records. */
  markCancelled(batchId: string): void {
    const record = this.records.find((r) => r.batchId === batchId);
    if (record) record.cancelled = true;
  }
}

function checkDuration(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new Error('the execution duration must be a non-negative number of ms');
  return ms;
}
