/**
 * Batches and their runs (the Workflow Builder API's OpenAPI spec), with statuses that follow the clock:
 * the runs of a batch accepted at `t` with duration `d` are processed one after the other, run `i`
 * of `n` pending until `t + d·(i+½)/n`, then running until `t + d·(i+1)/n` and until its work
 * (fetching its inputs, rendering its output) is done, then `success` or `failed`. Continue-on-error
 * (the documented default): a failed run does not stop the others. The `*Json` methods give the
 * documented shapes; `outputs[]` entries are ASSUMED (see {@link FireflyExecutionOutput}).
 */
import { randomBytes } from 'node:crypto';
import type { FireflyWorkflow } from './types.ts';

/** Execution (per asset) status, as documented. */
export type FireflyExecutionStatus = 'pending' | 'running' | 'success' | 'failed';

/** Batch status, as documented. */
export type FireflyBatchStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/**
 * One entry of an execution's `outputs[]`: the shape public third-party code reads; unconfirmed.
 * The spec types `outputs` as `object[]` without properties; Adobe is to confirm the shape.
 */
export interface FireflyExecutionOutput {
  /** The workflow's output node. */
  node_id: string;
  /** Always `success` here (entries are listed only for successful runs). */
  status: 'success';
  content: {
    /** A GET URL of the produced PNG, served by the simulator. */
    presignedUrl: string;
    mimeType: 'image/png';
    name: string;
  };
}

/** `BatchAssetCounts`. */
export interface FireflyAssetCounts {
  total: number;
  pending: number;
  processing: number;
  completed: number;
  failed: number;
}

/** The error of a run that failed because {@link Run.forceFailure} was called (the text is the simulator's). */
export const fireflyForcedFailureMessage = 'Workflow execution failed: an action of the workflow reported an error';
/** The error of a run not started because its batch was cancelled (the simulator's choice: such runs end `failed`). */
export const fireflyCancelledRunMessage = 'Execution not started: the batch was cancelled';

/** What processing a run produced. */
export interface RunOutcome {
  /** When the work was done, epoch ms. */
  settledAt: number;
  /** Why the run failed (an input could not be fetched or read), if it did. */
  error?: string;
  /** The produced images, one per output node of the workflow, when the work succeeded. */
  outputs?: { nodeId: string; url: string; name: string }[];
}

/** What a run is created from. */
export interface RunInit {
  batchId: string;
  index: number;
  /** The run's node input mappings as received. */
  rawInputs: unknown[];
  /** The image URLs of the run, in order (the first one is the output's source). */
  imageUrls: string[];
  startsAt: number;
  finishesAt: number;
}

/** One run (asset) of a batch. */
export class Run {
  readonly executionId: string;
  readonly init: RunInit;
  #forced = false;
  #outcome: RunOutcome | undefined;
  #skippedAt: number | undefined;

  constructor(init: RunInit) {
    this.init = init;
    this.executionId = `${init.batchId}_exec-${init.index}`;
  }

  /** True when the run was cancelled before it started (its work must not start). */
  get skipped(): boolean {
    return this.#skippedAt !== undefined;
  }

  /** Makes the run end `failed` (once its time is up). */
  forceFailure(): void {
    this.#forced = true;
  }

  /** Records the result of its work. */
  settle(outcome: RunOutcome): void {
    this.#outcome ??= outcome;
  }

  /** Marks the run as never started, when its batch is cancelled at `now` before its start. */
  skipIfNotStarted(now: number): void {
    if (now < this.init.startsAt && this.#skippedAt === undefined) this.#skippedAt = now;
  }

  status(now: number): FireflyExecutionStatus {
    if (this.#skippedAt !== undefined) return 'failed';
    if (now < this.init.startsAt) return 'pending';
    if (now < this.init.finishesAt || !this.#outcome) return 'running';
    return this.#forced || this.#outcome.error !== undefined ? 'failed' : 'success';
  }

  /** When the run ended, once it has. */
  completedAt(now: number): number | undefined {
    if (this.#skippedAt !== undefined) return this.#skippedAt;
    if (!this.#outcome || now < this.init.finishesAt) return undefined;
    return Math.max(this.init.finishesAt, this.#outcome.settledAt);
  }

  /** When the run started, once it has (a cancelled run never does). */
  startedAt(now: number): number | undefined {
    return this.#skippedAt === undefined && now >= this.init.startsAt ? this.init.startsAt : undefined;
  }

  /** The error message of a failed run, else `null`. */
  error(now: number): string | null {
    if (this.status(now) !== 'failed') return null;
    if (this.#skippedAt !== undefined) return fireflyCancelledRunMessage;
    return this.#forced ? fireflyForcedFailureMessage : (this.#outcome?.error ?? null);
  }

  /** The outputs of a successful run, else none. */
  outputs(now: number): NonNullable<RunOutcome['outputs']> {
    return this.status(now) === 'success' ? (this.#outcome?.outputs ?? []) : [];
  }
}

/** What a batch is created from. */
export interface BatchInit {
  workflow: FireflyWorkflow;
  /** `workflow.workflowId` as sent. */
  requestedWorkflowId: string;
  orgId: string;
  userId: string;
  createdAt: number;
  durationMs: number;
  runs: { rawInputs: unknown[]; imageUrls: string[] }[];
}

/** A batch of runs of one workflow. */
export class Batch {
  readonly id: string;
  readonly init: BatchInit;
  readonly runs: Run[];
  #cancelledAt: number | undefined;
  #previousStatus: FireflyBatchStatus | undefined;

  constructor(init: BatchInit) {
    this.init = init;
    this.id = `batch-run-workflow_${init.workflow.workflowId}-${yyyymmdd(init.createdAt)}-${randomBytes(4).toString('hex')}`;
    const count = init.runs.length;
    this.runs = init.runs.map(
      (run, index) =>
        new Run({
          batchId: this.id,
          index,
          rawInputs: run.rawInputs,
          imageUrls: run.imageUrls,
          startsAt: init.createdAt + (init.durationMs * (index + 0.5)) / count,
          finishesAt: init.createdAt + (init.durationMs * (index + 1)) / count,
        }),
    );
  }

  /** The echoed workflow id: `run-workflow_<uuid>`. */
  get runWorkflowId(): string {
    return `run-workflow_${this.init.workflow.workflowId}`;
  }

  get cancelled(): boolean {
    return this.#cancelledAt !== undefined;
  }

  status(now: number): FireflyBatchStatus {
    if (this.#cancelledAt !== undefined) return 'cancelled';
    const statuses = this.runs.map((run) => run.status(now));
    if (statuses.every((s) => s === 'pending')) return 'pending';
    if (statuses.some((s) => s === 'pending' || s === 'running')) return 'running';
    return statuses.every((s) => s === 'failed') ? 'failed' : 'completed';
  }

  /**
   * Cancels a pending or running batch at `now`: runs not started yet never start (they end
   * `failed`, see {@link fireflyCancelledRunMessage}); running ones complete. Returns the status
   * before, or `undefined` when the batch is already terminal.
   */
  cancel(now: number): FireflyBatchStatus | undefined {
    const before = this.status(now);
    if (before !== 'pending' && before !== 'running') return undefined;
    for (const run of this.runs) run.skipIfNotStarted(now);
    this.#cancelledAt = now;
    this.#previousStatus = before;
    return before;
  }

  /** The status the batch had when cancelled. */
  get previousStatus(): FireflyBatchStatus | undefined {
    return this.#previousStatus;
  }

  counts(now: number): FireflyAssetCounts {
    const counts: FireflyAssetCounts = { total: this.runs.length, pending: 0, processing: 0, completed: 0, failed: 0 };
    for (const run of this.runs) {
      const status = run.status(now);
      if (status === 'pending') counts.pending++;
      else if (status === 'running') counts.processing++;
      else if (status === 'success') counts.completed++;
      else counts.failed++;
    }
    return counts;
  }

  /** When the batch ended (all runs terminal, or cancelled), else `undefined`. */
  completedAt(now: number): number | undefined {
    if (this.#cancelledAt !== undefined) return this.#cancelledAt;
    const ends = this.runs.map((run) => run.completedAt(now));
    if (ends.some((end) => end === undefined)) return undefined;
    return Math.max(...(ends as number[]));
  }

  /** The last change seen at `now`: creation, a run starting or ending, the cancel. */
  updatedAt(now: number): number {
    let latest = this.init.createdAt;
    for (const run of this.runs) {
      latest = Math.max(latest, run.startedAt(now) ?? 0, run.completedAt(now) ?? 0);
    }
    return Math.max(latest, this.#cancelledAt ?? 0);
  }

  /** `BatchExecutionsSummary`. */
  executionsSummary(now: number): Record<string, unknown> {
    const failed = this.runs.filter((run) => run.status(now) === 'failed');
    return {
      total: this.runs.length,
      completed: this.runs.filter((run) => run.status(now) === 'success').length,
      failed: failed.length,
      allExecutionIds: this.runs.map((run) => run.executionId),
      failedExecutionIds: failed.map((run) => run.executionId),
    };
  }

  /** The 202 `BatchExecuteAcceptedResponse`; links are absolute URLs on `base`, as in the spec's example. */
  acceptedJson(now: number, base: string): Record<string, unknown> {
    const links = this.#links(base);
    return {
      batchId: this.id,
      workflowId: this.runWorkflowId,
      status: this.status(now),
      assets: this.counts(now),
      createdAt: iso(this.init.createdAt),
      links: { result: links.result, status: links.status, cancel: links.cancel, executions: links.executions },
    };
  }

  /**
   * `BatchStatusResponse`. With `preview` (`?format=preview`), also `outputs`: one entry per run
   * `{ executionId, assetIndex, status, outputs: FireflyExecutionOutput[] }` — ASSUMED from public
   * third-party code (which reads `outputs[].outputs[].{node_id, status, content.presignedUrl}`);
   * unconfirmed.
   */
  statusJson(now: number, base: string, preview: boolean): Record<string, unknown> {
    const links = this.#links(base);
    const body: Record<string, unknown> = {
      batchId: this.id,
      workflowId: this.runWorkflowId,
      status: this.status(now),
      assets: this.counts(now),
      executions: this.executionsSummary(now),
      createdAt: iso(this.init.createdAt),
      updatedAt: iso(this.updatedAt(now)),
      completedAt: isoOrNull(this.completedAt(now)),
      links: { cancel: links.cancel, executions: links.executions },
    };
    if (preview) {
      body.outputs = this.runs.map((run) => ({
        executionId: run.executionId,
        assetIndex: run.init.index,
        status: run.status(now),
        outputs: this.outputsOf(run, now),
      }));
    }
    return body;
  }

  /** `BatchListItem` of `GET /batches`. */
  listItemJson(now: number): Record<string, unknown> {
    return {
      batchId: this.id,
      workflowId: this.runWorkflowId,
      jobName: this.init.workflow.name ?? this.init.workflow.workflowId,
      status: this.status(now),
      assets: this.counts(now),
      executions: this.executionsSummary(now),
      endpoint: 'batch',
      createdAt: iso(this.init.createdAt),
      updatedAt: iso(this.updatedAt(now)),
      completedAt: isoOrNull(this.completedAt(now)),
    };
  }

  /**
   * `BatchExecutionResult` of a run. `error`, `startedAt`, `completedAt`, `durationMs` are `null`
   * until known. `inputAsset.inputs` is "Input asset data", an array of objects without properties
   * in the spec: the simulator echoes the run's node input mappings as received (ASSUMED; Adobe is
   * to confirm), and names the asset `asset-<index>` (its `assetId` is not documented either).
   */
  executionJson(run: Run, now: number): Record<string, unknown> {
    const startedAt = run.startedAt(now);
    const completedAt = run.completedAt(now);
    return {
      executionId: run.executionId,
      batchId: this.id,
      assetIndex: run.init.index,
      inputAsset: { index: run.init.index, assetId: `asset-${run.init.index}`, inputs: structuredClone(run.init.rawInputs) },
      status: run.status(now),
      error: run.error(now),
      outputs: this.outputsOf(run, now),
      startedAt: isoOrNull(startedAt),
      completedAt: isoOrNull(completedAt),
      durationMs: startedAt !== undefined && completedAt !== undefined ? Math.round(completedAt - startedAt) : null,
    };
  }

  /** The `outputs[]` of a run: one entry per output node once it succeeded, else none. */
  outputsOf(run: Run, now: number): FireflyExecutionOutput[] {
    return run.outputs(now).map((output) => ({
      node_id: output.nodeId,
      status: 'success',
      content: { presignedUrl: output.url, mimeType: 'image/png', name: output.name },
    }));
  }

  #links(base: string): Record<'result' | 'status' | 'cancel' | 'executions', { href: string }> {
    const root = `${base}/batch/${encodeURIComponent(this.id)}`;
    return {
      result: { href: `${root}/status?format=preview` },
      status: { href: `${root}/status` },
      cancel: { href: `${root}/cancel` },
      executions: { href: `${root}/executions` },
    };
  }
}

/** `yyyymmdd` of an epoch-ms time, UTC. */
function yyyymmdd(at: number): string {
  return new Date(at).toISOString().slice(0, 10).replaceAll('-', '');
}

function iso(at: number): string {
  return new Date(Math.round(at)).toISOString();
}

function isoOrNull(at: number | undefined): string | null {
  return at === undefined ? null : iso(at);
}
