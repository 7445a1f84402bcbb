/**
 * Everything the simulator holds besides users and tokens: files, generations, predictions,
 * refines and agentic runs, the records tests inspect, the prediction duration and the pending
 * injected errors and scores.
 */
import { AgenticRun, type AgenticRunInit } from './agentic.ts';
import type { Account } from './auth.ts';
import { FileStore } from './files.ts';
import { Generation, type GenerationInit, Prediction, Refine, type RefineInit, WorkTimeline } from './generation.ts';
import type { GenerationRecord, RefineRecord } from './types.ts';
import { renderVideo, videoContentType } from './video.ts';

/** What creating a generation needs besides its {@link GenerationInit}. */
export interface GenerationStart {
  init: GenerationInit;
  /** The request body, for {@link GenerationRecord}. */
  body: Record<string, unknown>;
  batchSize: number;
  /** First seed; prediction `i` gets `seed + i`. */
  seed: number;
  /** `shot_type` of the predictions. */
  shotType: string | null;
  /** The label of prediction `i`: drawn on its image (or written into its video) and in its EXIF. */
  label: (index: number) => string;
  /** Renders prediction `i`'s JPEG; omitted for videos. */
  renderImage?: (index: number) => Promise<Buffer>;
  /** The predictions are the attempts of an agentic run: one after another, each existing from its start. */
  attempts?: boolean;
}

/** A refine to create; its timeline and result URL come from the state. */
export interface RefineStart extends Omit<RefineInit, 'timeline' | 'resultUrl' | 'predictionId'> {
  prediction: Prediction;
  /** Renders the refined JPEG. */
  render: () => Promise<Buffer>;
  now: number;
}

/** The simulator's memory. */
export class SimState {
  readonly files: FileStore;
  readonly generations = new Map<string, Generation>();
  readonly predictions = new Map<string, Prediction>();
  readonly refines = new Map<string, Refine>();
  /** Agentic runs by `orchestration_shot_id`. */
  readonly agenticRuns = new Map<string, AgenticRun>();
  /** Paid generations created, in order. */
  readonly records: GenerationRecord[] = [];
  /** Prediction refines created, in order. */
  readonly refineRecords: RefineRecord[] = [];
  /** How many predictions of the next generation end in `error`. */
  pendingPredictionErrors = 0;
  /** Confidence scores of the next agentic run's attempts (the last repeats): one passing attempt by default. */
  pendingAgenticScores: readonly number[] = [0.9];
  #durationMs: number;

  constructor(origin: string, durationMs: number) {
    this.files = new FileStore(origin);
    this.#durationMs = durationMs;
  }

  /** Duration of the generations and refines created from now on. */
  get durationMs(): number {
    return this.#durationMs;
  }

  /** Sets {@link durationMs}; `ms` must be a non-negative number. */
  setDuration(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('the prediction duration must be a non-negative number of ms');
    this.#durationMs = ms;
  }

  /** Creates and records a paid generation; its last predictions fail when errors are pending. */
  createGeneration(start: GenerationStart): Generation {
    const { init, batchSize } = start;
    const failures = Math.min(this.pendingPredictionErrors, batchSize);
    this.pendingPredictionErrors = 0;
    const generation = new Generation(init);
    for (let index = 0; index < batchSize; index++) {
      const fails = index >= batchSize - failures;
      const timeline = start.attempts
        ? WorkTimeline.attempt(init.createdAt, this.#durationMs, index, fails)
        : WorkTimeline.staggered(init.createdAt, this.#durationMs, index, batchSize, fails);
      const ready = (now: number) => timeline.succeeded(now);
      const { renderImage } = start;
      const url = renderImage
        ? this.files.addMedia('jpg', { contentType: 'image/jpeg', ready, render: () => renderImage(index) })
        : this.files.addMedia('mp4', {
            contentType: videoContentType,
            ready,
            render: async () => renderVideo(start.label(index)),
          });
      const prediction = new Prediction({
        generationId: generation.id,
        seed: start.seed + index,
        shotType: start.shotType,
        timeline,
        output: { kind: renderImage ? 'image' : 'video', url },
      });
      generation.predictions.push(prediction);
      this.predictions.set(prediction.id, prediction);
    }
    this.generations.set(generation.id, generation);
    this.records.push({ id: generation.id, endpoint: init.endpoint, body: structuredClone(start.body), at: init.createdAt });
    return generation;
  }

  /** Creates a refine of a prediction, finishing after the prediction duration. */
  createRefine(start: RefineStart): Refine {
    const { prediction, render, now, ...fields } = start;
    const timeline = WorkTimeline.staggered(now, this.#durationMs, 0, 1, false);
    const resultUrl = this.files.addMedia('jpg', { contentType: 'image/jpeg', ready: (t) => timeline.succeeded(t), render });
    const refine = new Refine({ ...fields, predictionId: prediction.id, timeline, resultUrl });
    prediction.refines.push(refine);
    this.refines.set(refine.id, refine);
    this.refineRecords.push({ id: refine.id, predictionId: prediction.id, at: now });
    return refine;
  }

  /** Starts the orchestration of an agentic generation (its attempts take the prediction duration). */
  startAgenticRun(init: Omit<AgenticRunInit, 'durationMs'>): AgenticRun {
    const run = new AgenticRun({ ...init, durationMs: this.#durationMs });
    this.agenticRuns.set(run.shotId, run);
    return run;
  }

  /** The scores of the next agentic run, which the run consumes (back to one passing attempt). */
  takeAgenticScores(): readonly number[] {
    const scores = this.pendingAgenticScores;
    this.pendingAgenticScores = [0.9];
    return scores;
  }

  /** True when `account` owns the generation or belongs to its organization. */
  canAccess(account: Account, generation: Generation): boolean {
    const { ownerId, organizationId } = generation.init;
    return ownerId === account.id || (organizationId !== null && account.organizations.has(organizationId));
  }
}
