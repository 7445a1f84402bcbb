/**
 * The step helper of the cycle, in the spirit of Inngest's `step.run(id, fn)`: a step whose result
 * is in the checkpoint is not run again, and a step's result is saved before the next one starts.
 * `run-cycle.ts` then reads as the guide's steps in order; what "resume" means lives here once.
 */
import type { RecipeMemory } from '../providers/recipe.ts';
import type { SubmissionPlan } from './build-submission.ts';
import {
  type Checkpoint,
  type CycleOutcome,
  type CycleStep,
  cycleSteps,
  readCheckpoint,
  type StepProgress,
  type StepResults,
} from './checkpoint.ts';
import type { CycleContext } from './cycle-context.ts';

/** The job as the cycle sees it: its saved checkpoint and a way to save a new one. */
export interface CycleJob {
  /** The checkpoint as stored in the job (unknown: it is parsed before use). */
  checkpoint: unknown;
  save(checkpoint: Checkpoint): Promise<void>;
  /** Called as each step starts or is resumed (progress for operators and the demo). */
  enterStep(step: CycleStep, resumed: boolean): Promise<void>;
  /** Called when a step that ran has finished and its result is saved. */
  stepFinished(step: CycleStep, durationMs: number): Promise<void>;
  /**
   * Runs a step that is not resumed from its saved result, from its start to its saved result
   * (e.g. inside a trace span); without it the step simply runs.
   */
  runStep?<T>(step: CycleStep, run: () => Promise<T>): Promise<T>;
  /**
   * Called the moment Creative Force is known to have accepted the Submit Output (its answer, or
   * a retry that finds it in the process detail), before anything else is saved: from then on the
   * same TaskProcessId is new work. `reworkPending`: a reviewer has already rejected some of it;
   * `plan`: what was submitted.
   */
  submitted(info: { reworkPending: boolean; plan: SubmissionPlan }): Promise<void>;
}

/** What a running step gets: the cycle's context with a logger bound to the step, and its progress. */
export type StepRun<S extends CycleStep> = CycleContext & {
  /** What this step saved on an earlier attempt before it stopped. */
  progress: (S extends keyof StepProgress ? StepProgress[S] : never) | undefined;
  /** Saves progress of this step at once, so a retry continues from it. */
  saveProgress(value: S extends keyof StepProgress ? StepProgress[S] : never): Promise<void>;
};

export interface StepOptions<S extends CycleStep> {
  /**
   * Whether a saved result can be used as it is (e.g. its files are still on this host's disk).
   * Without it, a saved result is always used.
   */
  reuse?(saved: StepResults[S]): boolean | Promise<boolean>;
  /** What of the result is saved; default all of it. */
  persist?(result: StepResults[S]): StepResults[S];
}

export class CycleSteps {
  readonly #job: CycleJob;
  readonly #context: CycleContext;
  #checkpoint: Checkpoint;

  /** @throws ConnectorError CHECKPOINT_VERSION_UNKNOWN or CHECKPOINT_INVALID (see readCheckpoint). */
  constructor(job: CycleJob, context: CycleContext) {
    this.#job = job;
    this.#context = context;
    this.#checkpoint = readCheckpoint(job.checkpoint);
  }

  /** Set when the cycle has ended: an ended cycle does nothing more. */
  get outcome(): CycleOutcome | null {
    return this.#checkpoint.outcome;
  }

  /** The saved result of a step, if any (whether or not it is still usable). */
  saved<S extends CycleStep>(step: S): StepResults[S] | undefined {
    return this.#checkpoint.results[step];
  }

  /**
   * Runs one step, or resumes it from its saved result when `options.reuse` accepts it. A step
   * that runs drops the results and progress of every later step: they were made from what this
   * step is about to replace.
   */
  async run<S extends CycleStep>(
    step: S,
    fn: (run: StepRun<S>) => Promise<StepResults[S]>,
    options: StepOptions<S> = {},
  ): Promise<StepResults[S]> {
    const saved = this.saved(step);
    if (saved !== undefined && (options.reuse === undefined || (await options.reuse(saved)))) {
      await this.#job.enterStep(step, true);
      return saved;
    }
    const run = () => this.#runStep(step, fn, options);
    return this.#job.runStep ? this.#job.runStep(step, run) : run();
  }

  async #runStep<S extends CycleStep>(
    step: S,
    fn: (run: StepRun<S>) => Promise<StepResults[S]>,
    options: StepOptions<S>,
  ): Promise<StepResults[S]> {
    const progress = (this.#checkpoint.progress as Partial<Record<CycleStep, unknown>>)[step];
    await this.#job.enterStep(step, progress !== undefined);
    const started = performance.now();
    const dropped = dropFrom(this.#checkpoint, step);
    if (dropped) await this.#update(dropped);
    const result = await fn(
      Object.freeze({
        ...this.#context,
        logger: this.#context.logger.child({ step }),
        progress: progress as StepRun<S>['progress'],
        saveProgress: (value: unknown) =>
          this.#update({ ...this.#checkpoint, progress: { ...this.#checkpoint.progress, [step]: value } }),
      }),
    );
    const { [step]: _done, ...progressLeft } = this.#checkpoint.progress as Record<string, unknown>;
    await this.#update({
      ...this.#checkpoint,
      results: { ...this.#checkpoint.results, [step]: options.persist ? options.persist(result) : result },
      progress: progressLeft,
    });
    await this.#job.stepFinished(step, Math.round(performance.now() - started));
    return result;
  }

  /** The progress a step saved before it stopped, if any. */
  progress<S extends keyof StepProgress>(step: S): StepProgress[S] | undefined {
    return this.#checkpoint.progress[step];
  }

  /** The recipe's durable memory: kept whatever step runs again (it holds paid work in progress). */
  get recipeMemory(): RecipeMemory {
    return {
      get: <T>(key: string) => this.#checkpoint.recipeMemory[key] as T | undefined,
      set: (key, value) =>
        this.#update({ ...this.#checkpoint, recipeMemory: { ...this.#checkpoint.recipeMemory, [key]: value } }),
    };
  }

  get submitAttempted(): boolean {
    return this.#checkpoint.submitAttempted;
  }

  /** Records, before Submit Output is sent, that it may reach Creative Force. Never undone. */
  async markSubmitAttempted(): Promise<void> {
    await this.#update({ ...this.#checkpoint, submitAttempted: true });
  }

  /** Ends the cycle with its outcome. */
  async finish(outcome: CycleOutcome): Promise<CycleOutcome> {
    await this.#update({ ...this.#checkpoint, outcome });
    return outcome;
  }

  async #update(next: Checkpoint): Promise<void> {
    await this.#job.save(next);
    this.#checkpoint = next;
  }
}

/**
 * The checkpoint without the results of `step` and the steps after it, nor their progress (the
 * step's own progress is kept: it says where the step stopped); null when there is nothing to drop.
 */
function dropFrom(checkpoint: Checkpoint, step: CycleStep): Checkpoint | null {
  const stale = new Set<string>(cycleSteps.slice(cycleSteps.indexOf(step)));
  const results = without(checkpoint.results, (name) => stale.has(name));
  const progress = without(checkpoint.progress, (name) => stale.has(name) && name !== step);
  const unchanged =
    Object.keys(results).length === Object.keys(checkpoint.results).length &&
    Object.keys(progress).length === Object.keys(checkpoint.progress).length;
  return unchanged ? null : { ...checkpoint, results, progress };
}

function without<T extends object>(record: T, drop: (name: string) => boolean): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([name]) => !drop(name))) as Partial<T>;
}
