import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Checkpoint, type CycleStep, checkpointVersion, cycleSteps } from '../../src/cycle/checkpoint.ts';
import type { CycleJob } from '../../src/cycle/cycle-steps.ts';
import { outputChecksSchema } from '../../src/cycle/gate-outputs.ts';
import { runCycle } from '../../src/cycle/run-cycle.ts';
import { type ConnectorError, isConnectorError } from '../../src/errors.ts';
import { convertRecipe, type Recipe } from '../../src/providers/index.ts';
import { type CreativeForceSimulator, sampleImage } from '../../src/simulators/index.ts';
import { type SimulatedGateway, startSimulatedGateway } from '../helpers/simulated-gateway.ts';

const options = { format: 'jpeg', quality: 80, maxWidth: 300 };
const checks = outputChecksSchema.parse(undefined);

let gateway: SimulatedGateway;
let sim: CreativeForceSimulator;
let front: Buffer;
let back: Buffer;
/** How often the recipe ran, in every cycle of this file. */
let recipeRuns = 0;

/** `convert`, counting its runs, and asking step 4 for the product and step 3 for color references. */
const countingConvert: Recipe = {
  ...(convertRecipe as Recipe),
  needs: () => ({ product: true, colorReferences: true }),
  async run(run) {
    recipeRuns += 1;
    return convertRecipe.run(run as Parameters<typeof convertRecipe.run>[0]);
  },
};

class Crash extends Error {}

beforeAll(async () => {
  gateway = await startSimulatedGateway('cycle-resume');
  sim = gateway.sim;
  front = await sampleImage({ width: 600, height: 800, format: 'png', label: 'Front' });
  back = await sampleImage({ width: 600, height: 800, format: 'png', label: 'Back' });
});

afterAll(async () => gateway.close());

/** A task with two photo slots, two inputs and a color reference. */
function addTask() {
  return sim.addTask({
    inputs: [
      { positionName: 'Front', fileName: 'front.png', body: front },
      { positionName: 'Back', fileName: 'back.png', body: back },
    ],
    colorReferences: [{ fileName: 'swatch.png', body: front }],
    slots: [
      { mappingKeyId: '1_Front', positionName: 'Front', isRequired: true, minQuantity: 1, maxQuantity: 1 },
      { mappingKeyId: '2_Back', positionName: 'Back', isRequired: true, minQuantity: 1, maxQuantity: 1 },
    ],
  });
}

function cycleContext(taskProcessId: string, workDir: string) {
  return gateway.cycleContext(taskProcessId, workDir);
}

/**
 * A job as Redis keeps it: each saved checkpoint goes through JSON. With `crashAfter`, the save
 * that stores checkpoint number `crashAfter` (from 1) stores it and then throws: the process died.
 */
function recordingJob(checkpoint: unknown, crashAfter = Number.POSITIVE_INFINITY) {
  const saves: { step: CycleStep | null; checkpoint: Checkpoint }[] = [];
  const entered: { step: CycleStep; resumed: boolean }[] = [];
  const accepted: { reworkPending: boolean }[] = [];
  let step: CycleStep | null = null;
  const job: CycleJob & { stored: unknown } = {
    checkpoint,
    stored: checkpoint,
    async save(next) {
      job.stored = JSON.parse(JSON.stringify(next));
      saves.push({ step, checkpoint: job.stored as Checkpoint });
      if (saves.length === crashAfter) throw new Crash(`killed after save ${crashAfter} (${step})`);
    },
    async enterStep(next, resumed) {
      step = next;
      entered.push({ step: next, resumed });
    },
    async submitted({ reworkPending }) {
      accepted.push({ reworkPending });
    },
    async stepFinished() {},
  };
  return { job, saves, entered, accepted };
}

const cycle = (job: CycleJob, taskProcessId: string, workDir: string) =>
  runCycle(job, cycleContext(taskProcessId, workDir), { routes: [{ stages: [{ recipe: countingConvert, options }] }], checks });

/**
 * Runs a cycle of the task until the process dies right after save number `saveNumber`; the
 * checkpoint it left, and how often it saw Creative Force accept its Submit Output.
 */
async function crashAfterSave(taskProcessId: string, workDir: string, saveNumber: number) {
  const { job, accepted } = recordingJob(undefined, saveNumber);
  await expect(cycle(job, taskProcessId, workDir)).rejects.toBeInstanceOf(Crash);
  return { checkpoint: job.stored as Checkpoint, acceptedBeforeCrash: accepted.length };
}

/** Gateway calls of one task process: process-detail reads, and every call by path. */
function detailReads(taskProcessId: string): number {
  return sim.callLog().filter((c) => c.method === 'GET' && c.path.endsWith(`/task-processes/${taskProcessId}`)).length;
}

function callsTo(path: string): number {
  return sim.callLog().filter((c) => c.path === `/v1${path}`).length;
}

/** The saves of a full cycle, and after which of them a step's result is in the checkpoint. */
async function referenceRun() {
  const task = addTask();
  const workDir = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
  const { job, saves } = recordingJob(undefined);
  await cycle(job, task.taskProcessId, workDir);
  await rm(workDir, { recursive: true, force: true });
  return saves;
}

describe('runCycle resumes from its checkpoint', () => {
  it('at every step boundary and inside the upload and submit steps, with nothing done twice', async () => {
    const saves = await referenceRun();
    // The boundaries: each step's result saved, the first upload of two, the mark set just before
    // Submit Output is sent, and the outcome.
    const boundaries = saves.flatMap(({ step, checkpoint }, index) => {
      const before = saves[index - 1]?.checkpoint;
      const label =
        cycleSteps.find((s) => s in checkpoint.results && !(before && s in before.results)) ??
        (step === 'upload-outputs' && Object.keys(checkpoint.progress['upload-outputs'] ?? {}).length === 1
          ? 'mid upload'
          : checkpoint.submitAttempted && !before?.submitAttempted
            ? 'submit marked'
            : checkpoint.outcome && !before?.outcome
              ? 'outcome'
              : null);
      return label ? [{ index: index + 1, label }] : [];
    });
    expect(boundaries.map((b) => b.label)).toEqual([
      'get-process-detail',
      'download-inputs',
      'get-additional-context',
      'process-assets',
      'mid upload',
      'upload-outputs',
      'submit marked',
      'submit-output',
      'outcome',
    ]);
    expect(boundaries.at(-1)?.index).toBe(saves.length);

    for (const boundary of boundaries) {
      const task = addTask();
      const workDir = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
      const runsBefore = recipeRuns;
      const s3Before = sim.s3Stats();
      const productCallsBefore = callsTo(`/products/${task.productId}`);

      const { checkpoint: left, acceptedBeforeCrash } = await crashAfterSave(task.taskProcessId, workDir, boundary.index);
      expect(left.version).toBe(checkpointVersion);

      const resumed = recordingJob(left);
      const outcome = await cycle(resumed.job, task.taskProcessId, workDir);
      await rm(workDir, { recursive: true, force: true });

      const what = `resumed after ${boundary.label}`;
      expect(outcome, what).toHaveProperty('submitted');
      expect(sim.submissions(task.taskProcessId), what).toHaveLength(1);
      // The acceptance is announced once, by whichever run saw it, and as no rework.
      expect(acceptedBeforeCrash + resumed.accepted.length, `${what}: acceptances`).toBe(1);
      expect(
        resumed.accepted.every((a) => !a.reworkPending),
        what,
      ).toBe(true);
      expect(sim.rejectedSubmissions(task.taskProcessId), what).toHaveLength(0);
      expect(sim.statusUpdates(task.taskProcessId), what).toEqual([]);
      expect(recipeRuns - runsBefore, `${what}: recipe runs`).toBe(1);
      // Two inputs and one color reference downloaded once; two outputs uploaded once.
      expect(sim.s3Stats().gets - s3Before.gets, `${what}: S3 downloads`).toBe(3);
      expect(sim.s3Stats().puts - s3Before.puts, `${what}: S3 uploads`).toBe(2);
      expect(callsTo(`/products/${task.productId}`) - productCallsBefore, `${what}: product reads`).toBe(1);
      // Read once, and once more by a retry of a Submit Output that may have been sent already.
      const submitRunsAgain = left.submitAttempted && !('submit-output' in left.results);
      expect(detailReads(task.taskProcessId), `${what}: detail reads`).toBe(submitRunsAgain ? 2 : 1);
      // An ended cycle does nothing; else every step is entered, the finished ones as resumed.
      expect(
        resumed.entered.map((e) => e.step),
        what,
      ).toEqual(left.outcome ? [] : [...cycleSteps]);
      for (const { step, resumed: wasResumed } of resumed.entered) {
        if (step in left.results) expect(wasResumed, `${what}: ${step}`).toBe(true);
      }
    }
  });

  it('on another host after the uploads: nothing downloaded again, one submission', async () => {
    const saves = await referenceRun();
    const uploadsDone = saves.findIndex((s) => 'upload-outputs' in s.checkpoint.results) + 1;
    const task = addTask();
    const firstHost = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
    const { checkpoint: left } = await crashAfterSave(task.taskProcessId, firstHost, uploadsDone);
    await rm(firstHost, { recursive: true, force: true }); // that host's disk is gone with it

    const s3Before = sim.s3Stats();
    const runsBefore = recipeRuns;
    const secondHost = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
    const resumed = recordingJob(left);
    const outcome = await cycle(resumed.job, task.taskProcessId, secondHost);
    await rm(secondHost, { recursive: true, force: true });

    expect(outcome).toHaveProperty('submitted');
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.s3Stats().gets - s3Before.gets).toBe(0);
    expect(recipeRuns - runsBefore).toBe(0);
  });

  it('from the unversioned checkpoint of the first release', async () => {
    const saves = await referenceRun();
    const task = addTask();
    const workDir = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
    const uploadsDone = saves.findIndex((s) => 'upload-outputs' in s.checkpoint.results) + 1;
    const { checkpoint: current } = await crashAfterSave(task.taskProcessId, workDir, uploadsDone);
    const inputs = current.results['download-inputs'];
    // What the first release saved at the same point (src/cycle/checkpoint.ts before version 2).
    const v1 = {
      detail: current.results['get-process-detail'],
      inputs: inputs?.files,
      colorReferences: inputs?.colorReferences,
      context: current.results['get-additional-context'],
      plan: current.results['process-assets'],
      recipeMemory: {},
      uploads: current.results['upload-outputs'],
    };
    const s3Before = sim.s3Stats();
    const runsBefore = recipeRuns;

    const resumed = recordingJob(v1);
    const outcome = await cycle(resumed.job, task.taskProcessId, workDir);
    await rm(workDir, { recursive: true, force: true });

    expect(outcome).toHaveProperty('submitted');
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.s3Stats().gets - s3Before.gets).toBe(0);
    expect(sim.s3Stats().puts - s3Before.puts).toBe(0);
    expect(recipeRuns - runsBefore).toBe(0);
    expect((resumed.job.stored as Checkpoint).version).toBe(checkpointVersion);
  });

  it('from a version 2 checkpoint (before pipelines), which reads as the current version', async () => {
    const saves = await referenceRun();
    const task = addTask();
    const workDir = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
    const uploadsDone = saves.findIndex((s) => 'upload-outputs' in s.checkpoint.results) + 1;
    const { checkpoint } = await crashAfterSave(task.taskProcessId, workDir, uploadsDone);
    // A single recipe's checkpoint has none of what version 3 added: it is a version 2 one but for the number.
    expect(JSON.stringify(checkpoint)).not.toMatch(/"route"|"source"|"stages"/);
    const runsBefore = recipeRuns;

    const resumed = recordingJob({ ...checkpoint, version: 2 });
    const outcome = await cycle(resumed.job, task.taskProcessId, workDir);
    await rm(workDir, { recursive: true, force: true });

    expect(outcome).toHaveProperty('submitted');
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(recipeRuns - runsBefore).toBe(0);
    expect((resumed.job.stored as Checkpoint).version).toBe(checkpointVersion);
  });

  describe('a pipeline resumed after its configuration changed', () => {
    /** convert, then convert again at `width`: the second stage's files are `width` wide. */
    const pipelineCycle = (job: CycleJob, taskProcessId: string, workDir: string, width: number) =>
      runCycle(job, cycleContext(taskProcessId, workDir), {
        routes: [
          {
            stages: [
              { recipe: countingConvert, options },
              { recipe: countingConvert, options: { ...options, maxWidth: width } },
            ],
          },
        ],
        checks,
      });

    /** A cycle of a new task that stops right after both stages' outputs are saved, before step 5's result. */
    async function stoppedAfterStages(workDir: string) {
      const task = addTask();
      let stagesSaved = 0;
      const { job } = recordingJob(undefined);
      const save = job.save.bind(job);
      job.save = async (next) => {
        await save(next);
        if (Object.keys(next.progress['process-assets']?.stages ?? {}).length === 2 && stagesSaved++ === 0) {
          throw new Crash('killed after the second stage');
        }
      };
      await expect(pipelineCycle(job, task.taskProcessId, workDir, 200)).rejects.toBeInstanceOf(Crash);
      return { task, checkpoint: job.stored as Checkpoint };
    }

    /** The widths of the submitted images. */
    async function submittedWidths(taskProcessId: string) {
      const assets = sim.submissions(taskProcessId)[0]?.body.submitAssets.flatMap((slot) => slot.assets) ?? [];
      return Promise.all(assets.map(async (a) => (await sharp(sim.uploadedObject(a.assetId)?.body).metadata()).width));
    }

    it('runs again only the stage whose options changed, the stage before it resumed', async () => {
      const workDir = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
      const { task, checkpoint } = await stoppedAfterStages(workDir);
      const runsBefore = recipeRuns;

      const resumed = recordingJob(checkpoint);
      expect(await pipelineCycle(resumed.job, task.taskProcessId, workDir, 150)).toHaveProperty('submitted');
      await rm(workDir, { recursive: true, force: true });

      // Stage 1 (one run for both drop boxes) is resumed; stage 2 runs once per file, at its new width.
      expect(recipeRuns - runsBefore).toBe(2);
      expect(await submittedWidths(task.taskProcessId)).toEqual([150, 150]);
    });

    it('runs again a stage saved without the options hash (by an earlier release)', async () => {
      const workDir = await mkdtemp(join(tmpdir(), 'cfc-cycle-resume-'));
      const { task, checkpoint } = await stoppedAfterStages(workDir);
      const stages = checkpoint.progress['process-assets']?.stages ?? {};
      // An earlier release's keys: `<route>.<stage>.<recipe>`.
      const unhashed = Object.fromEntries(
        Object.entries(stages).map(([key, value]) => [key.split('.').slice(0, 3).join('.'), value]),
      );
      expect(Object.keys(unhashed)).toEqual(['0.0.convert', '0.1.convert']);
      const runsBefore = recipeRuns;

      const resumed = recordingJob({ ...checkpoint, progress: { 'process-assets': { stages: unhashed } } });
      expect(await pipelineCycle(resumed.job, task.taskProcessId, workDir, 200)).toHaveProperty('submitted');
      await rm(workDir, { recursive: true, force: true });

      expect(recipeRuns - runsBefore).toBe(3);
      expect(await submittedWidths(task.taskProcessId)).toEqual([200, 200]);
    });
  });

  it.each([
    { name: 'a newer version', checkpoint: { version: checkpointVersion + 1, results: {} }, retryable: true },
    { name: 'an older version', checkpoint: { version: 0 }, retryable: false },
    { name: 'a version that is not a number', checkpoint: { version: '2' }, retryable: false },
  ])('fails on $name with CHECKPOINT_VERSION_UNKNOWN, before any call', async ({ checkpoint, retryable }) => {
    const task = addTask();
    const { job, saves } = recordingJob(checkpoint);
    const err = await cycle(job, task.taskProcessId, tmpdir()).catch((e: unknown) => e);
    expect(isConnectorError(err)).toBe(true);
    expect((err as ConnectorError).code).toBe('CHECKPOINT_VERSION_UNKNOWN');
    expect((err as ConnectorError).retryable).toBe(retryable);
    expect(detailReads(task.taskProcessId)).toBe(0);
    expect(saves).toEqual([]);
  });

  it('fails on a checkpoint of the current version without its shape, naming the field', async () => {
    const task = addTask();
    const checkpoint = {
      version: checkpointVersion,
      results: {
        'process-assets': { slots: [{ mappingKeyId: '1_Front', kept: [], assets: [{ uploadKey: 'x' }] }], dropped: [] },
      },
      progress: {},
      recipeMemory: {},
      submitAttempted: false,
      outcome: null,
    };
    const { job } = recordingJob(checkpoint);
    const err = await cycle(job, task.taskProcessId, tmpdir()).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe('CHECKPOINT_INVALID');
    expect((err as ConnectorError).retryable).toBe(false);
    expect((err as Error).message).toContain('results.process-assets.slots.0.assets.0.file');
    expect(detailReads(task.taskProcessId)).toBe(0);
  });
});
