/**
 * Everything the simulator holds: applications, background-removed product assets, started
 * processes, the records tests inspect, and the pending one-off failures.
 */
import { Applications } from './applications.ts';
import type { FeatureSpec } from './features.ts';
import { adCreativeSimulatorPaths } from './paths.ts';
import { RenderProcess, type RenderTask } from './render-process.ts';
import type { DownloadRecord, GenerationRecord, UploadRecord } from './types.ts';

/** A background-removed product image issued by Recommendations (`backgroundRemovedImageAssetId`). */
export interface ProductAsset {
  assetId: string;
  applicationId: string;
  /** PNG with alpha. */
  png: Buffer;
}

/** What starting a process needs; timing and injected failure come from the state. */
export interface ProcessStart {
  feature: FeatureSpec;
  applicationId: string;
  userId: string;
  taskCount: number;
  render: (taskIndex: number) => Promise<Buffer>;
  /** The form as sent, for {@link GenerationRecord}. */
  form: Record<string, string>;
  now: number;
}

/** The simulator's memory. */
export class SimState {
  readonly applications = new Applications();
  readonly assets = new Map<string, ProductAsset>();
  readonly processes = new Map<string, RenderProcess>();
  readonly generations: GenerationRecord[] = [];
  readonly uploads: UploadRecord[] = [];
  readonly downloads: DownloadRecord[] = [];
  /** How many of the next background removals find no foreground. */
  pendingForegroundRefusals = 0;
  /** How many of the next started processes fail. */
  pendingGenerationFailures = 0;
  readonly #publicImages = new Map<string, { process: RenderProcess; index: number }>();
  #taskDurationMs: number;

  constructor(taskDurationMs: number) {
    this.#taskDurationMs = taskDurationMs;
  }

  /** Duration of the processes started from now on. */
  setTaskDuration(ms: number): void {
    this.#taskDurationMs = ms;
  }

  /** Starts a paid process, records it, and consumes one pending generation failure if any. */
  startProcess(start: ProcessStart): RenderProcess {
    const fails = this.pendingGenerationFailures > 0;
    if (fails) this.pendingGenerationFailures--;
    const process = new RenderProcess({
      feature: start.feature,
      applicationId: start.applicationId,
      userId: start.userId,
      taskCount: start.taskCount,
      startedAt: start.now,
      durationMs: this.#taskDurationMs,
      failAfter: fails ? Math.floor(start.taskCount / 2) : null,
      render: start.render,
    });
    this.processes.set(process.processId, process);
    process.tasks.forEach((task, index) => {
      this.#publicImages.set(task.publicImageId, { process, index });
    });
    this.generations.push({ kind: start.feature.kind, processId: process.processId, at: start.now, form: start.form });
    return process;
  }

  /** True (consuming it) when a foreground refusal is pending. */
  takeForegroundRefusal(): boolean {
    if (this.pendingForegroundRefusals === 0) return false;
    this.pendingForegroundRefusals--;
    return true;
  }

  /** The process with this id, when it is of `feature` and belongs to `applicationId`. */
  findProcess(processId: string, feature: FeatureSpec, applicationId: string): RenderProcess | undefined {
    const process = this.processes.get(processId.toLowerCase());
    return process && process.feature.kind === feature.kind && sameId(process.applicationId, applicationId) ? process : undefined;
  }

  /** The public URL of a task's image. */
  publicImageUrl(baseUrl: string, process: RenderProcess, task: RenderTask): string {
    return `${baseUrl}${adCreativeSimulatorPaths.publicImages}${process.feature.imageFolder}/${task.publicImageId}.png`;
  }

  /** The process and task index behind a public image id. */
  publicImage(publicImageId: string): { process: RenderProcess; index: number } | undefined {
    return this.#publicImages.get(publicImageId.toLowerCase());
  }
}

/** GUIDs compare case-insensitively. */
export function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
