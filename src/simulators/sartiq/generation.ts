/**
 * Generations, their predictions and prediction refines (Sartiq's "Generation Endpoints"), with
 * statuses that follow the clock: the predictions of a generation created at `t` with duration
 * `d` run one after the other, prediction `i` of `n` generating from `t + d·(i+½)/n` and
 * finishing at `t + d·(i+1)/n`. The attempts of an agentic run are predictions too, each taking
 * `d` and appearing only when it starts (agentic.ts). The `*Public` methods give the documented
 * JSON shapes.
 */
import { randomUUID } from 'node:crypto';
import type { GenerationEndpoint } from './types.ts';

/** `PredictionStatus` (and, by this simulator's choice, `RefineStatus`): the documented domain states, lower case. */
export type PredictionStatus = 'pending' | 'generating' | 'completed' | 'error';

/** `GenerationStatus`: the documented domain states, upper case as in the API reference's `"PENDING"`. */
export type GenerationStatus = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED';

/**
 * `error_message` / `error_category` of a prediction the simulator fails. The real texts and the
 * `ErrorCategory` values are not documented; these are this simulator's.
 */
export const predictionFailure = {
  error_message: 'The compute task failed while generating the image.',
  error_category: 'generation_failed',
} as const;

/** When a prediction or refine starts generating and finishes, and whether it fails. */
export class WorkTimeline {
  readonly createdAt: number;
  readonly startsAt: number;
  readonly finishesAt: number;
  readonly fails: boolean;

  constructor(init: { createdAt: number; startsAt: number; finishesAt: number; fails: boolean }) {
    this.createdAt = init.createdAt;
    this.startsAt = init.startsAt;
    this.finishesAt = init.finishesAt;
    this.fails = init.fails;
  }

  /** Work `index` of `count` started together at `createdAt` and spread over `durationMs`. */
  static staggered(createdAt: number, durationMs: number, index: number, count: number, fails: boolean): WorkTimeline {
    return new WorkTimeline({
      createdAt,
      startsAt: createdAt + (durationMs * (index + 0.5)) / count,
      finishesAt: createdAt + (durationMs * (index + 1)) / count,
      fails,
    });
  }

  /**
   * Attempt `index` of an agentic run started at `createdAt`: attempts follow one another, each
   * created `attemptSpanMs(durationMs)` after the previous one, generating for `durationMs` and
   * then evaluated for half of it.
   */
  static attempt(createdAt: number, durationMs: number, index: number, fails: boolean): WorkTimeline {
    const start = createdAt + index * WorkTimeline.attemptSpanMs(durationMs);
    return new WorkTimeline({ createdAt: start, startsAt: start + durationMs / 2, finishesAt: start + durationMs, fails });
  }

  /** How long one agentic attempt lasts, evaluation included. */
  static attemptSpanMs(durationMs: number): number {
    return durationMs * 1.5;
  }

  /** True once the work exists (an agentic attempt exists only from its start). */
  exists(now: number): boolean {
    return now >= this.createdAt;
  }

  status(now: number): PredictionStatus {
    if (now >= this.finishesAt) return this.fails ? 'error' : 'completed';
    return now >= this.startsAt ? 'generating' : 'pending';
  }

  /** True once finished successfully. */
  succeeded(now: number): boolean {
    return this.status(now) === 'completed';
  }

  /** Time of the last status change at `now` (creation while pending). */
  changedAt(now: number): number {
    if (now >= this.finishesAt) return this.finishesAt;
    return now >= this.startsAt ? this.startsAt : this.createdAt;
  }

  /** `duration_seconds` once finished, else `null`. */
  durationSeconds(now: number): number | null {
    return now >= this.finishesAt ? (this.finishesAt - this.startsAt) / 1000 : null;
  }

  /** The `status`, `error_message`, `error_category` and timestamps of a public shape. */
  publicState(now: number): Record<string, unknown> {
    const status = this.status(now);
    const failure = status === 'error' ? predictionFailure : { error_message: null, error_category: null };
    return {
      status,
      ...failure,
      created_at: iso(this.createdAt),
      updated_at: iso(this.changedAt(now)),
    };
  }
}

/** What a refine of a prediction was asked for. */
export interface RefineInit {
  predictionId: string;
  timeline: WorkTimeline;
  /** The public URL of its result image. */
  resultUrl: string;
  width: number | null;
  height: number | null;
  scaleFactor: number | null;
  prompt: string | null;
  refineModelId: string | null;
  refinesRefineId: string | null;
}

/** A refine (upscale) of a prediction's image. */
export class Refine {
  readonly id = randomUUID();
  readonly init: RefineInit;

  constructor(init: RefineInit) {
    this.init = init;
  }

  /** `RefinePublic` at `now`. */
  toPublic(now: number): Record<string, unknown> {
    const { timeline, resultUrl } = this.init;
    const state = timeline.publicState(now);
    return {
      status: state.status,
      result_image_url: timeline.succeeded(now) ? resultUrl : null,
      width: this.init.width,
      height: this.init.height,
      scale_factor: this.init.scaleFactor,
      prompt: this.init.prompt,
      refine_model_id: this.init.refineModelId,
      error_message: state.error_message,
      error_category: state.error_category,
      refines_refine_id: this.init.refinesRefineId,
      id: this.id,
      created_at: state.created_at,
      updated_at: state.updated_at,
      prediction_id: this.init.predictionId,
      task_id: null,
      result_image_media: null,
    };
  }
}

/** The output of a prediction: its kind and public URL. */
export interface PredictionOutput {
  kind: 'image' | 'video';
  url: string;
}

/** One image (or video) of a generation. */
export class Prediction {
  readonly id = randomUUID();
  readonly generationId: string;
  readonly seed: number;
  readonly shotType: string | null;
  readonly timeline: WorkTimeline;
  readonly output: PredictionOutput;
  /** Refines of this prediction, oldest first. */
  readonly refines: Refine[] = [];

  constructor(init: {
    generationId: string;
    seed: number;
    shotType: string | null;
    timeline: WorkTimeline;
    output: PredictionOutput;
  }) {
    this.generationId = init.generationId;
    this.seed = init.seed;
    this.shotType = init.shotType;
    this.timeline = init.timeline;
    this.output = init.output;
  }

  /** `PredictionPublic` at `now`. */
  toPublic(now: number): Record<string, unknown> {
    const state = this.timeline.publicState(now);
    const done = this.timeline.succeeded(now);
    const refined = this.refines.filter((r) => r.init.timeline.succeeded(now)).at(-1);
    return {
      seed: this.seed,
      status: state.status,
      result_image_url: done && this.output.kind === 'image' ? this.output.url : null,
      result_video_url: done && this.output.kind === 'video' ? this.output.url : null,
      duration_seconds: this.timeline.durationSeconds(now),
      favourite: false,
      error_message: state.error_message,
      error_category: state.error_category,
      id: this.id,
      created_at: state.created_at,
      updated_at: state.updated_at,
      generation_id: this.generationId,
      shot_type: this.shotType,
      refines: this.refines.map((r) => r.toPublic(now)),
      result_image_media: null,
      result_video_media: null,
      refined_image_url: refined ? refined.init.resultUrl : null,
    };
  }
}

/** The fields of a generation fixed at creation. */
export interface GenerationInit {
  endpoint: GenerationEndpoint;
  ownerId: string;
  organizationId: string | null;
  createdAt: number;
  /** `generation_type`, `generation_strategy`, `tool`, `width`, `height`, … and echoed request fields of `GenerationPublic`. */
  fields: Record<string, unknown>;
}

/** `GenerationPublic` fields the simulator has no value for. */
const generationDefaults: Record<string, unknown> = {
  negative_prompt: null,
  subject_id: null,
  product_id: null,
  subject_image_url: null,
  product_image_url: null,
  product_lora_weight: 1.0,
  subject_lora_weight: 1.0,
  product2_id: null,
  product2_image_url: null,
  product2_lora_weight: 1.0,
  style_id: null,
  style_name: null,
  refine: false,
  revised: false,
  scale_factor: null,
  lighting: null,
  framing: null,
  perspective: null,
  background: null,
  tone: null,
  pose: null,
  generated_prompt: null,
  extra_prompt: null,
  shot_id: null,
  generation_type: 'BASE',
  generation_strategy: 'GENERATE',
  tool: null,
  shot_type_id: null,
  shot_type_string: null,
  subject_description: null,
  product_description: null,
  product2_description: null,
  style_description: null,
  has_subject_lora: false,
  has_product_lora: false,
  has_product2_lora: false,
  has_style_lora: false,
  garment_placement_base_image_url: null,
  reference_images_paths: [],
  generative_models_id: null,
  autogenerated: false,
  shooting_look_id: null,
  subject_image_media: null,
  product_image_media: null,
  product2_image_media: null,
  garment_placement_base_image_media: null,
  reference_images_media: null,
};

/** A created generation and its predictions. */
export class Generation {
  readonly id = randomUUID();
  readonly init: GenerationInit;
  readonly predictions: Prediction[] = [];

  constructor(init: GenerationInit) {
    this.init = init;
  }

  /** The predictions that exist at `now` (an agentic run's later attempts do not yet). */
  predictionsAt(now: number): Prediction[] {
    return this.predictions.filter((p) => p.timeline.exists(now));
  }

  /** PENDING until a prediction starts; COMPLETED / FAILED once all are terminal (FAILED when none completed). */
  status(now: number): GenerationStatus {
    const statuses = this.predictionsAt(now).map((p) => p.timeline.status(now));
    if (statuses.every((s) => s === 'pending')) return 'PENDING';
    if (statuses.some((s) => s === 'pending' || s === 'generating')) return 'PROCESSING';
    return statuses.includes('completed') ? 'COMPLETED' : 'FAILED';
  }

  /** `GenerationPublic` at `now`. */
  toPublic(now: number): Record<string, unknown> {
    const predictions = this.predictionsAt(now);
    const changes = predictions.map((p) => p.timeline.changedAt(now));
    return {
      ...generationDefaults,
      ...this.init.fields,
      id: this.id,
      created_at: iso(this.init.createdAt),
      updated_at: iso(Math.max(this.init.createdAt, ...changes)),
      batch_size: predictions.length,
      status: this.status(now),
      predictions: predictions.map((p) => p.toPublic(now)),
      owner_id: this.init.ownerId,
      organization_id: this.init.organizationId,
    };
  }

  /** `GenerationStats` at `now`; `latest_prediction_status` is the status of the prediction that changed last. */
  stats(now: number): Record<string, unknown> {
    const predictions = this.predictionsAt(now);
    const statuses = predictions.map((p) => p.timeline.status(now));
    let latest: Prediction | undefined;
    for (const p of predictions) {
      if (!latest || p.timeline.changedAt(now) >= latest.timeline.changedAt(now)) latest = p;
    }
    return {
      id: this.id,
      status: this.status(now),
      total: statuses.length,
      completed: statuses.filter((s) => s === 'completed').length,
      error: statuses.filter((s) => s === 'error').length,
      latest_prediction_status: latest ? latest.timeline.status(now) : null,
    };
  }
}

/** A timestamp as the API writes it. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
