/**
 * The orchestration of an agentic generation ("Create a new agentic generation with intelligent
 * retry logic"), as `GET /generations/agentic/{shot_id}/status` shows it (AgenticShotStatus). The
 * seed gives the shapes, not the behaviour; the simulator's choices, strict where it is silent:
 *
 * - Each attempt is one prediction of the agentic generation (its `batch_size` is not used), made
 *   after the previous attempt was evaluated: a client that reads the generation alone sees it
 *   finished between two attempts, while the orchestration is still `processing`.
 * - An attempt generates for the prediction duration, then is evaluated for half of it: it passes
 *   when its confidence (set by the test, `SartiqSimulator.scoreAgenticAttempts`) reaches
 *   `min_confidence_score` ("Minimum confidence score for acceptance (defaults to 0.7)").
 * - The first attempt that passes ends the run `completed` with its image as `final_image_url`
 *   ("Final selected image URL"). When `max_attempts` attempts all fail, the run ends `failed`,
 *   without a final image (the seed does not say whether a best-but-failing image is selected).
 * - Status words: `processing`, `completed`, `failed`, the values the creation answer documents
 *   for `orchestration_status`; `evaluation_status` (values undocumented) is `passed` or `failed`.
 */
import { randomUUID } from 'node:crypto';
import { type Generation, iso, WorkTimeline } from './generation.ts';

/** What an agentic run is created with. */
export interface AgenticRunInit {
  generation: Generation;
  createdAt: number;
  /** The prediction duration of its attempts. */
  durationMs: number;
  maxAttempts: number;
  minConfidence: number;
  /** Confidence of attempt `i` (the last value repeats). */
  scores: readonly number[];
  evaluationProvider: string | null;
  shotType: string;
}

/** How many attempts a run makes: up to the first that passes, at most `maxAttempts`. */
export function plannedAttempts(scores: readonly number[], minConfidence: number, maxAttempts: number): number {
  for (let index = 0; index < maxAttempts; index++) {
    if (scoreOf(scores, index) >= minConfidence) return index + 1;
  }
  return maxAttempts;
}

function scoreOf(scores: readonly number[], index: number): number {
  return scores[Math.min(index, scores.length - 1)] ?? 1;
}

/** One orchestrated shot. */
export class AgenticRun {
  readonly shotId = randomUUID();
  readonly init: AgenticRunInit;

  constructor(init: AgenticRunInit) {
    this.init = init;
  }

  /** `AgenticShotStatus` at `now`. */
  toStatus(now: number): Record<string, unknown> {
    const { generation, minConfidence, maxAttempts, createdAt, durationMs } = this.init;
    const started = generation.predictionsAt(now);
    const attempts = started.map((prediction, index) => {
      const { timeline } = prediction;
      const evaluatedAt = timeline.createdAt + WorkTimeline.attemptSpanMs(durationMs);
      const evaluated = now >= evaluatedAt && timeline.succeeded(now);
      const score = scoreOf(this.init.scores, index);
      const passed = evaluated && score >= minConfidence;
      return {
        attempt: {
          attempt_number: index + 1,
          image_url: timeline.succeeded(now) ? prediction.output.url : null,
          error_message: null,
          started_at: iso(timeline.createdAt),
          completed_at: evaluated ? iso(evaluatedAt) : null,
          generation_metadata: { generation_id: generation.id, prediction_id: prediction.id },
          evaluation_status: evaluated ? (passed ? 'passed' : 'failed') : null,
          confidence_score: evaluated ? score : null,
          detected_shot_type: evaluated ? this.init.shotType : null,
          evaluation_feedback: evaluated
            ? passed
              ? 'The image matches the expected shot type.'
              : `Confidence ${score} is below the minimum of ${minConfidence}.`
            : null,
        },
        evaluated,
        passed,
        score,
        evaluatedAt,
      };
    });
    const final = attempts.find((a) => a.passed);
    const exhausted = !final && attempts.length === maxAttempts && attempts.every((a) => a.evaluated);
    const endedAt = final?.evaluatedAt ?? (exhausted ? attempts.at(-1)?.evaluatedAt : undefined);
    const scores = attempts.filter((a) => a.evaluated).map((a) => a.score);
    return {
      shot_id: this.shotId,
      status: final ? 'completed' : exhausted ? 'failed' : 'processing',
      total_attempts: attempts.length,
      max_attempts: maxAttempts,
      current_attempt: attempts.length > 0 ? attempts.length : null,
      final_image_url: final?.attempt.image_url ?? null,
      best_confidence: scores.length > 0 ? Math.max(...scores) : null,
      error_message: exhausted ? `No attempt reached the minimum confidence score of ${minConfidence}.` : null,
      started_at: iso(createdAt),
      completed_at: endedAt === undefined ? null : iso(endedAt),
      duration_seconds: endedAt === undefined ? null : (endedAt - createdAt) / 1000,
      attempts: attempts.map((a) => a.attempt),
      orchestration_metadata: {
        generation_id: generation.id,
        min_confidence_score: minConfidence,
        evaluation_provider: this.init.evaluationProvider,
      },
    };
  }
}
