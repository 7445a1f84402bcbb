/**
 * The ASSUMED wire forms of the gateway are configuration: a Creative Force that sends id lists in
 * objects, names its fields differently and takes KeepOldAsset by oldOutputAssetId is served by
 * setting the variables alone, first pass and rework alike; with the defaults it is not.
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { builtInRecipes, type ConvertOptions, convertRecipe, type Recipe } from '../../src/providers/index.ts';
import type { CfSimulatorOptions } from '../../src/simulators/index.ts';
import { sampleImage } from '../../src/simulators/index.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/** A Creative Force that speaks other forms than the contract's defaults. */
const otherForms: CfSimulatorOptions['wireForms'] = {
  idListBodies: { bulkGetAssets: 'field:assetIds', bulkGetFiles: 'field:fileIds', stylingAssets: 'field:ids' },
  fieldAliases: { positionName: 'position', isRequired: 'required', outputAssetIds: 'outputIds', markingFileId: 'markingId' },
  keepOldAssetReference: 'oldOutputAssetId',
};

/** The variables that tell the service so. */
const otherFormsEnv = {
  CF_BULK_GET_ASSETS_BODY: 'field:assetIds',
  CF_BULK_GET_FILES_BODY: 'field:fileIds',
  CF_STYLING_ASSETS_BODY: 'field:ids',
  CF_FIELD_ALIASES: JSON.stringify(otherForms?.fieldAliases),
  CF_KEEP_OLD_ASSET_REFERENCE: 'oldOutputAssetId',
};

/** `convert`, also asking for the color references and the outfit (so every id list is sent). */
const convertWithContext: Recipe<ConvertOptions> = {
  ...convertRecipe,
  name: 'convert-with-context',
  needs: () => ({ colorReferences: true, outfit: true }),
};

async function seed(stack: Stack) {
  return stack.sim.addTask({
    inputs: [await photoInput('Front', 300, 400), await photoInput('Back', 400, 300)],
    colorReferences: [{ fileName: 'swatch.png', body: await sampleImage({ width: 32, height: 32, format: 'png', label: 'sw' }) }],
    outfitProducts: [
      { roleId: 1 },
      {
        roleId: 2,
        stylingAssets: [
          { fileName: 'trousers.jpg', body: await sampleImage({ width: 40, height: 40, format: 'jpeg', label: 'T' }) },
        ],
      },
    ],
    slots: [
      { mappingKeyId: 'A', positionName: 'Front' },
      { mappingKeyId: 'B', positionName: 'Back' },
    ],
  });
}

describe('the ASSUMED wire forms of Creative Force', () => {
  let stack: Stack | undefined;
  afterEach(async () => stack?.close());

  it('are served by configuration alone: id lists in objects, other field names, KeepOldAsset by oldOutputAssetId', async () => {
    stack = await startStack('wire-forms', {
      recipe: 'convert-with-context',
      recipes: [...builtInRecipes, convertWithContext],
      simulator: { wireForms: otherForms },
      env: otherFormsEnv,
    });
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const task = await seed(stack);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the first submission', () => sim.submissions(task.taskProcessId).length === 1);
    await stack.idle(service);
    // Slot B got the Back input: its position was read under Creative Force's name.
    const first = sim.submissions(task.taskProcessId)[0]?.body.submitAssets ?? [];
    const b = first.find((s) => s.mappingKeyId === 'B')?.assets[0]?.assetId ?? '';
    expect(await sharp(sim.uploadedObject(b)?.body).metadata()).toMatchObject({ width: 400, height: 300 });

    sim.rejectOutputs(task.taskProcessId, [b]);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the rework submission', () => sim.submissions(task.taskProcessId).length === 2);
    await stack.idle(service);
    const rework = sim.submissions(task.taskProcessId)[1]?.body.submitAssets ?? [];
    const keptA = first.find((s) => s.mappingKeyId === 'A')?.assets[0]?.assetId;
    expect(rework.find((s) => s.mappingKeyId === 'A')?.assets).toEqual([
      expect.objectContaining({ outputResultTypeId: 2, assetId: null, oldOutputAssetId: keptA }),
    ]);
    expect(rework.find((s) => s.mappingKeyId === 'B')?.assets).toEqual([
      expect.objectContaining({ outputResultTypeId: 3, oldOutputAssetId: b }),
    ]);
    expect(sim.rejectedSubmissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toEqual([]);
  });

  it('are not guessed: with the default forms the same Creative Force refuses the calls and the task is reported', async () => {
    stack = await startStack('wire-forms-default', {
      recipe: 'convert-with-context',
      recipes: [...builtInRecipes, convertWithContext],
      simulator: { wireForms: otherForms },
    });
    const { sim } = stack;
    const { port } = await stack.startService('start');
    const task = await seed(stack);
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the failure report', () => sim.statusUpdates(task.taskProcessId).length > 0);
    expect(sim.submissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)[0]?.message).toContain('[CF_REJECTED]');
  });
});
