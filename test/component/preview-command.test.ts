/**
 * `cf-ai-connector preview`: a subfunction's recipe on a real task, as a real process, against the
 * Creative Force and Sartiq simulators; nothing reaches Creative Force but reads.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { PreviewReport } from '../../src/operations/preview-task.ts';
import { type CreativeForceSimulator, SartiqSimulator, sampleImage, type TaskScenario } from '../../src/simulators/index.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startSartiqStack, videoMetadata } from '../helpers/sartiq-stack.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const kept = 'a1a1a1a1-0000-4000-8000-000000000001';
const rejected = 'a2a2a2a2-0000-4000-8000-000000000002';
const keptB = 'b1b1b1b1-0000-4000-8000-000000000003';

/** A task in its rework state: slot A keeps one output and redoes the other, slot B keeps its one. */
async function reworkTask(): Promise<TaskScenario> {
  return {
    inputs: [await photoInput('Front', 300, 400)],
    slots: [
      { mappingKeyId: 'A', positionName: 'Front', minQuantity: 2, maxQuantity: 2 },
      { mappingKeyId: 'B', positionName: 'Front' },
    ],
    outputAssets: [
      { assetId: kept, mappingKeyId: 'A' },
      { assetId: rejected, mappingKeyId: 'A', isRejected: true },
      { assetId: keptB, mappingKeyId: 'B' },
    ],
    annotations: [
      {
        assetId: rejected,
        comment: 'Remove the crease on the left sleeve',
        marking: { fileName: 'mark.png', body: await sampleImage({ width: 40, height: 40, format: 'png', color: '#ff0000' }) },
      },
    ],
  };
}

/** Every call that would change the task: presign, Submit Output, Update Process Status, any PUT. */
function writes(sim: CreativeForceSimulator): string[] {
  return sim
    .callLog()
    .map((c) => `${c.method} ${c.path}`)
    .filter((c) => /get-presigned-url|submit-output|\/status$/.test(c) || c.startsWith('PUT '));
}

async function readReport(dir: string): Promise<PreviewReport> {
  return JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as PreviewReport;
}

describe('cf-ai-connector preview', () => {
  let stack: Stack | undefined;
  let sartiq: SartiqSimulator | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await stack?.close();
    await sartiq?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    stack = undefined;
    sartiq = undefined;
    dir = undefined;
  });

  it('writes what a rework would redo and keep, with the report, and makes no write call to Creative Force', async () => {
    stack = await startStack('preview-convert');
    const { sim } = stack;
    const task = sim.addTask(await reworkTask());
    dir = await mkdtemp(join(tmpdir(), 'cfc-preview-test-'));
    const out = join(dir, 'out');

    const run = await runCli(['preview', 'acme', '54', '--task', task.taskProcessId, '--out', out], stack.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 paid provider call(s)');
    expect(run.stdout).toContain(`drop box A (Front), convert: keep ${kept}; A/1-`);
    expect(run.stdout).toContain(`redoes ${rejected} (normal)`);
    expect(run.stdout).toContain(`drop box B (Front), convert: keep ${keptB}\n`);

    const report = await readReport(out);
    expect(report).toMatchObject({ recipe: 'convert', rework: true, skipped: null, paidCalls: 0, paidWork: [] });
    expect(
      report.slots.map((s) => [s.mappingKeyId, s.kept.map((k) => k.assetId), s.files.map((f) => [f.as, f.replaces])]),
    ).toEqual([
      ['A', [kept], [['redone', rejected]]],
      ['B', [keptB], []],
    ]);
    const file = report.slots[0]?.files[0]?.file ?? '';
    expect((await sharp(join(out, file)).metadata()).format).toBe('jpeg');
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain(`redoes ${rejected}`);

    // Reads only: no presign, Submit Output or Update Process Status call arrived.
    expect(sim.callLog().some((c) => c.path.endsWith(`/task-processes/${task.taskProcessId}`))).toBe(true);
    expect(writes(sim)).toEqual([]);
    expect(sim.submissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);

    // A second run into the same directory is refused rather than mixed with the first.
    const again = await runCli(['preview', 'acme', '54', '--task', task.taskProcessId, '--out', out], stack.env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not empty');
  });

  it('announces its paid Sartiq calls, makes none without --yes, and with it sends the reviewer feedback', async () => {
    sartiq = await SartiqSimulator.start({ predictionDurationMs: 200 });
    const credentials = { email: 'preview@studio.example', password: randomBytes(12).toString('hex') };
    sartiq.addAccount(credentials);
    stack = await startStack('preview-sartiq', {
      recipe: 'sartiq-edit',
      subfunctionOptions: { prompt: 'retouch', pollIntervalMs: 100 },
      sartiq: { baseUrl: sartiq.baseUrl, credentials },
    });
    const { sim } = stack;
    const task = sim.addTask(await reworkTask());
    dir = await mkdtemp(join(tmpdir(), 'cfc-preview-test-'));
    const out = join(dir, 'out');
    const args = ['preview', 'acme', '54', '--task', task.taskProcessId, '--out', out];

    const refused = await runCli(args, stack.env);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain('rework: 1 rejected asset(s) to redo; 1 drop box(es) to produce; 1 paid provider call(s)');
    expect(refused.stderr).toContain('rerun with --yes');
    expect(sartiq.generationCount()).toBe(0);
    expect(sartiq.uploads()).toEqual([]);

    const run = await runCli([...args, '--yes'], stack.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const generations = sartiq.generations();
    expect(generations).toHaveLength(1);
    expect(generations[0]?.body.prompt).toBe('retouch. Reviewer feedback: Remove the crease on the left sleeve');
    expect(generations[0]?.body.reference_images).toHaveLength(1);
    const report = await readReport(out);
    expect(report.paidCalls).toBe(1);
    expect(report.paidWork).toEqual([expect.objectContaining({ provider: 'sartiq', id: generations[0]?.id, adopted: false })]);
    expect(report.slots[0]?.files.map((f) => f.as)).toEqual(['redone']);
    expect(writes(sim)).toEqual([]);
    expect(sim.submissions(task.taskProcessId)).toEqual([]);
  });

  it('previews a video redone alone from its kept still, fetching the still with a read', async () => {
    const still = await sampleImage({ width: 400, height: 600, format: 'jpeg', label: 'kept still' });
    ({ sartiq, stack } = await startSartiqStack('preview-kept-still', {
      subfunction: {
        route: [
          {
            when: { contentType: 'video' },
            from: { slot: { position: 'Front' } },
            recipe: 'sartiq-video',
            options: { prompt: 'the model turns slowly', ...videoMetadata, shotType: 'front_full_body', pollIntervalMs: 100 },
          },
          { recipe: 'sartiq-generate', options: { shotTypeByPosition: { Front: 'front_full_body' }, pollIntervalMs: 100 } },
        ],
      },
    }));
    const { sim } = stack;
    const task = sim.addTask({
      inputs: [await photoInput('Front', 300, 400)],
      slots: [
        { mappingKeyId: '1_Front', positionName: 'Front' },
        { mappingKeyId: '3_Video', positionName: 'Front', assetContentTypeId: 2 },
      ],
      outputAssets: [
        { assetId: kept, mappingKeyId: '1_Front', fileName: 'front.jpg', body: still },
        { assetId: rejected, mappingKeyId: '3_Video', fileName: 'video.mp4', isRejected: true },
      ],
    });
    dir = await mkdtemp(join(tmpdir(), 'cfc-preview-test-'));
    const out = join(dir, 'out');

    const run = await runCli(['preview', 'acme', '54', '--task', task.taskProcessId, '--out', out, '--yes'], stack.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const generations = sartiq.generations();
    expect(generations.map((g) => g.endpoint)).toEqual(['videos']);
    const baseImage = await fetch(String(generations[0]?.body.base_image_path));
    expect(Buffer.from(await baseImage.arrayBuffer()).equals(still)).toBe(true);
    const report = await readReport(out);
    expect(
      report.slots.map((s) => [s.mappingKeyId, s.kept.map((k) => k.assetId), s.files.map((f) => [f.as, f.replaces])]),
    ).toEqual([
      ['1_Front', [kept], []],
      ['3_Video', [], [['redone', rejected]]],
    ]);
    expect(writes(sim)).toEqual([]);
  });

  it('refuses an unknown subfunction, a missing --task and a subfunction that is not a number with exit 2', async () => {
    stack = await startStack('preview-usage');
    for (const [args, message] of [
      [['preview', 'acme', '99', '--task', 'x'], 'has no subfunction 99 (it has 54)'],
      [['preview', 'acme', '54'], 'needs --task'],
      [['preview', 'acme', 'front', '--task', 'x'], 'a subfunction id is a number'],
      [['preview', 'nobody', '54', '--task', 'x'], 'no connection "nobody"'],
    ] as const) {
      const run = await runCli(args, stack.env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain(message);
    }
    expect(stack.sim.callLog()).toEqual([]);
  });
});
