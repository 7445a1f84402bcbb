/**
 * One started generation (an `imageRenderProcessId`) and its tasks: when each finishes, the
 * progress objects describing it (AdCreative's "Enums and Descriptions" and "Product Photoshoot
 * API" pages), and its rendered images.
 */
import { randomUUID } from 'node:crypto';
import type { FeatureSpec } from './features.ts';

/**
 * `renderState` / `requestRenderState` values. Documented: 1 for queued tasks in the start answer,
 * 5 for completed. `rendering` and `failed` are NOT documented; they are this simulator's choice.
 */
export const renderStates = { queued: 1, rendering: 2, completed: 5, failed: 6 } as const;

/** The `errorMessage` of a failed process (the real text is not documented). */
export const generationFailureMessage = 'The render engine could not generate the image.';

/** A task of a process. */
export interface RenderTask {
  taskId: string;
  /** Id in the task's `publicImageUrl`, distinct from the task id as in the docs' samples. */
  publicImageId: string;
}

/** What a process needs at creation. */
export interface RenderProcessInit {
  feature: FeatureSpec;
  applicationId: string;
  userId: string;
  taskCount: number;
  startedAt: number;
  /** Time until the last task finishes; task i of n finishes at `startedAt + durationMs * (i + 1) / n`. */
  durationMs: number;
  /** Make the process fail after this many tasks completed (at the time the next one would have). */
  failAfter: number | null;
  /** Renders a task's image (PNG); called at most once per task. */
  render: (taskIndex: number) => Promise<Buffer>;
}

/** Where a process stands at some instant. */
interface Snapshot {
  completed: number;
  failed: boolean;
}

/** A started generation. */
export class RenderProcess {
  readonly feature: FeatureSpec;
  readonly processId = randomUUID();
  readonly applicationId: string;
  readonly userId: string;
  readonly tasks: readonly RenderTask[];
  readonly #startedAt: number;
  readonly #durationMs: number;
  readonly #failAfter: number | null;
  readonly #render: (taskIndex: number) => Promise<Buffer>;
  readonly #images = new Map<number, Promise<Buffer>>();

  constructor(init: RenderProcessInit) {
    this.feature = init.feature;
    this.applicationId = init.applicationId;
    this.userId = init.userId;
    this.tasks = Array.from({ length: init.taskCount }, () => ({ taskId: randomUUID(), publicImageId: randomUUID() }));
    this.#startedAt = init.startedAt;
    this.#durationMs = init.durationMs;
    this.#failAfter = init.failAfter === null ? null : Math.min(init.failAfter, init.taskCount - 1);
    this.#render = init.render;
  }

  /** The index of a task of this process, or -1. */
  taskIndex(taskId: string): number {
    const id = taskId.toLowerCase();
    return this.tasks.findIndex((t) => t.taskId === id);
  }

  /** True when the task has finished rendering at `now`. */
  isTaskDone(index: number, now: number): boolean {
    return index >= 0 && index < this.#snapshot(now).completed;
  }

  /** The rendered image of a task (PNG), rendered on first use. */
  image(index: number): Promise<Buffer> {
    let image = this.#images.get(index);
    if (!image) {
      image = this.#render(index);
      this.#images.set(index, image);
    }
    return image;
  }

  /** The start answer: queued tasks as a `taskId → renderState` map; `isSuccessful` false as in the documented sample. */
  startBody(): Record<string, unknown> {
    return {
      ...this.#head(renderStates.queued, 0),
      tasks: Object.fromEntries(this.tasks.map((t) => [t.taskId, renderStates.queued])),
      renderType: this.feature.renderType,
      isSuccessful: false,
      errorMessage: '',
    };
  }

  /** A `CheckUserProgress` item at `now`; `imageUrl` gives the public URL of a finished task. */
  progressBody(now: number, imageUrl: (task: RenderTask) => string): Record<string, unknown> {
    const { completed, failed } = this.#snapshot(now);
    const done = !failed && completed === this.tasks.length;
    const requestState = failed ? renderStates.failed : done ? renderStates.completed : renderStates.rendering;
    return {
      ...this.#head(requestState, completed),
      taskUrls: this.tasks.map((task, index) => {
        const finished = index < completed;
        const state = finished ? renderStates.completed : failed ? renderStates.failed : renderStates.rendering;
        return { taskId: task.taskId, renderState: state, publicImageUrl: finished ? imageUrl(task) : null };
      }),
      renderType: this.feature.renderType,
      isSuccessful: done,
      errorMessage: failed ? generationFailureMessage : '',
    };
  }

  #head(requestRenderState: number, completed: number): Record<string, unknown> {
    return {
      messageType: this.feature.messageType,
      requestRenderState,
      applicationId: this.applicationId,
      userId: this.userId,
      imageRenderProcessId: this.processId,
      totalTaskCount: this.tasks.length,
      completedTaskCount: completed,
      progress: Math.floor((completed * 100) / this.tasks.length),
    };
  }

  #snapshot(now: number): Snapshot {
    const n = this.tasks.length;
    const finishedBy = (count: number) => this.#startedAt + (this.#durationMs * count) / n;
    let completed = 0;
    while (completed < n && finishedBy(completed + 1) <= now) completed++;
    if (this.#failAfter !== null && completed > this.#failAfter) return { completed: this.#failAfter, failed: true };
    return { completed, failed: false };
  }
}
