import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { builtInRecipes, type ConvertOptions, convertRecipe, type Recipe, type TaskContext } from '../../src/providers/index.ts';
import type { Service } from '../../src/service.ts';
import { type CreativeForceSimulator, sampleImage } from '../../src/simulators/index.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/** Seeds a task with slot A (two Front assets) and slot B (one Back), runs its first pass to the end. */
async function firstPass(stack: Stack, service: Service, port: number) {
  const { sim } = stack;
  const task = sim.addTask({
    // Context a recipe could ask for; the convert recipe asks for none of it.
    outfitProducts: [
      { roleId: 1 },
      {
        roleId: 2,
        stylingAssets: [{ fileName: 'trousers.jpg', body: await sampleImage({ width: 20, height: 20, format: 'jpeg' }) }],
      },
    ],
    inputs: [await photoInput('Front', 300, 400), await photoInput('Back', 300, 400)],
    slots: [
      { mappingKeyId: 'A', positionName: 'Front', minQuantity: 2, maxQuantity: 2 },
      { mappingKeyId: 'B', positionName: 'Back' },
    ],
  });
  await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
  await stack.waitFor('the first submission', () => sim.submissions(task.taskProcessId).length === 1);
  await stack.idle(service);
  const first = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
  const outputs = (mappingKeyId: string) =>
    first.find((s) => s.mappingKeyId === mappingKeyId)?.assets.map((a) => a.assetId) ?? [];
  return { task, outputs };
}

/** Gateway calls of step 4 (product, job, outfit, annotations), from the simulator's call log. */
function contextCalls(sim: CreativeForceSimulator): string[] {
  return sim
    .callLog()
    .map((c) => `${c.method} ${c.path}`)
    .filter((c) => /\/products\/|\/jobs\/|\/outfits\/|\/annotations/.test(c));
}

describe('rework cycles against the simulator', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('regenerates only the rejected asset: slot A gets KeepOldAsset + RedoAsset, slot B KeepOldAsset only', async () => {
    stack = await startStack('rework');
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const { task, outputs } = await firstPass(stack, service, port);
    const [a1, a2] = outputs('A');
    const [b1] = outputs('B');
    expect(a1 && a2 && b1).toBeTruthy();

    // The reviewer rejects one of the two assets of slot A; Creative Force sends ReadyToWork again.
    sim.addAnnotation(task.taskId, { assetId: a2 ?? null, comment: 'Wrong colour' });
    sim.rejectOutputs(task.taskProcessId, [a2 ?? '']);
    const puts = sim.s3Stats().puts;
    const answer = await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    expect(answer.status).toBe(202);
    await stack.waitFor('the rework submission', () => sim.submissions(task.taskProcessId).length === 2);

    expect(sim.s3Stats().puts - puts).toBe(1);
    const rework = sim.submissions(task.taskProcessId)[1]?.body.submitAssets ?? [];
    const slotA = rework.find((s) => s.mappingKeyId === 'A')?.assets ?? [];
    expect(slotA.map((a) => [a.outputResultTypeId, a.oldOutputAssetId])).toEqual([
      [2, null],
      [3, a2],
    ]);
    expect(slotA[0]?.assetId).toBe(a1);
    expect(rework.find((s) => s.mappingKeyId === 'B')?.assets).toEqual([
      { oldOutputAssetId: null, assetId: b1, outputResultTypeId: 2, assetAttributeId: 0, resourceIds: null, specId: null },
    ]);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    // The convert recipe declares no context: no product, job, outfit or annotation call was made.
    expect(contextCalls(sim)).toEqual([]);
  });

  it("gives a rework recipe the reviewer's comment and marking image", async () => {
    // What the recipe received, read while the cycle's files still exist.
    const seen: { context: TaskContext; markings: Buffer[] }[] = [];
    const noteTaker: Recipe<ConvertOptions> = {
      ...convertRecipe,
      name: 'note-taker',
      needs: () => ({ annotations: true }),
      run: async (run) => {
        const notes = run.context.annotations ?? [];
        const markings = await Promise.all(notes.flatMap((n) => (n.marking ? [readFile(n.marking.path)] : [])));
        seen.push({ context: run.context, markings });
        return convertRecipe.run(run);
      },
    };
    stack = await startStack('notes', { recipe: 'note-taker', recipes: [...builtInRecipes, noteTaker] });
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const { task, outputs } = await firstPass(stack, service, port);
    expect(seen[0]?.context.annotations).toBeUndefined();

    const [rejected = ''] = outputs('B');
    const marking = await sampleImage({ width: 50, height: 50, format: 'png', color: '#ff0000' });
    sim.addAnnotation(task.taskId, {
      assetId: rejected,
      comment: 'Remove the crease on the left sleeve',
      marking: { fileName: 'mark.png', body: marking },
    });
    sim.rejectOutputs(task.taskProcessId, [rejected]);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the rework submission', () => sim.submissions(task.taskProcessId).length === 2);

    const notes = seen[1]?.context.annotations ?? [];
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ assetId: rejected, comment: 'Remove the crease on the left sleeve' });
    expect(notes[0]?.marking?.fileName).toBe('mark.png');
    expect(seen[1]?.markings).toEqual([marking]);
  });

  it('ends a late duplicate delivery (outputs submitted, none rejected) without submitting again', async () => {
    stack = await startStack('late-duplicate');
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const { task } = await firstPass(stack, service, port);
    const gets = sim.s3Stats().gets;

    expect((await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret)).status).toBe(202);
    await stack.idle(service);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(1);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    expect(sim.s3Stats().gets).toBe(gets);
  });

  it('produces a rework that arrives while the first cycle still waits to learn its Submit Output went through', async () => {
    // The answer to the first Submit Output is lost; the cycle retries after its backoff, and in
    // the meantime the reviewer rejects an output and Creative Force sends the rework webhook.
    stack = await startStack('rework-race', { env: { CYCLE_BACKOFF_MS: '3000' } });
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [await photoInput('Front', 300, 400), await photoInput('Back', 300, 400)],
      slots: [
        { mappingKeyId: 'A', positionName: 'Front' },
        { mappingKeyId: 'B', positionName: 'Back' },
      ],
    });
    sim.loseSubmitAnswers(1);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the first submission', () => sim.submissions(task.taskProcessId).length === 1);
    const rejected = sim.outputs(task.taskProcessId).find((o) => o.mappingKeyId === 'B')?.assetId ?? '';
    sim.rejectOutputs(task.taskProcessId, [rejected]);
    const rework = await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    // The first cycle is still waiting for its retry: the webhook is taken for a duplicate of it.
    expect(rework).toMatchObject({ status: 202, body: { duplicate: true } });

    await stack.waitFor('the rework submission', () => sim.submissions(task.taskProcessId).length === 2, 30_000);
    await stack.idle(service);
    expect(sim.submissions(task.taskProcessId)).toHaveLength(2);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
    const slotB = sim.submissions(task.taskProcessId)[1]?.body.submitAssets.find((s) => s.mappingKeyId === 'B');
    expect(slotB?.assets).toEqual([expect.objectContaining({ outputResultTypeId: 3, oldOutputAssetId: rejected })]);
  });
});
