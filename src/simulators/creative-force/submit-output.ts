/**
 * Submit Output (step 8) as Creative Force judges it: the KNOWN body shape, every mappingKeyId of
 * the task exactly once (else ErrorCode-1554), single-use uploaded temp assets of the task's
 * workspace, content types that fit the slot, quantity and alternate bounds, and the rework rules
 * of KeepOldAsset / RedoAsset (Vendor Guide, step 8 and "Rework Cycle"). The first violation is answered.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AssetAttribute, type KeepOldAssetReference, OutputResultType } from '../../creative-force/contract.ts';
import type { Reply } from '../harness/http-io.ts';
import { contentTypeFitsSlot } from './content-types.ts';
import { businessError, invalidData, problemDetailsFromIssues } from './gateway-bodies.ts';
import type { SimState, SimTask, TempAsset } from './state.ts';
import type { StoredOutput } from './types.ts';

const submitAssetShape = z.object({
  oldOutputAssetId: z.string().nullish(),
  // Null only where a KeepOldAsset entry names its earlier output by oldOutputAssetId alone.
  assetId: z.string().nullable(),
  outputResultTypeId: z.number().int(),
  assetAttributeId: z.number().int(),
  resourceIds: z.array(z.string()).nullish(),
  specId: z.string().nullish(),
});
const submitBodyShape = z.object({
  submitAssets: z.array(z.object({ mappingKeyId: z.string(), assets: z.array(submitAssetShape) })),
});

/** The verdict on a submission: the response and outputs to store, or the error to answer. */
export type SubmitVerdict =
  | { ok: true; apply: () => { assets: { assetId: string; fileId: string }[] } }
  | { ok: false; reply: Reply; error: { code: string; message: string } };

function refuse(reply: Reply): SubmitVerdict {
  const body = reply.body as { errors?: unknown; title?: string };
  const first = Array.isArray(body.errors) ? (body.errors[0] as { code: string; message: string }) : undefined;
  const error = first ?? { code: 'ProblemDetails', message: JSON.stringify(body.errors ?? body.title) };
  return { ok: false, reply, error };
}

/** How a KeepOldAsset entry names its earlier output, by form (ASSUMED `assetId` with no oldOutputAssetId). */
const keepOldAssetRule: Record<KeepOldAssetReference, string> = {
  assetId: 'in assetId, with no oldOutputAssetId',
  oldOutputAssetId: 'in oldOutputAssetId, with assetId null',
  both: 'in both assetId and oldOutputAssetId',
};

function keptReference(
  a: { assetId: string | null; oldOutputAssetId?: string | null },
  form: KeepOldAssetReference,
): string | null {
  const old = a.oldOutputAssetId ?? null;
  if (form === 'assetId') return old === null ? a.assetId : null;
  if (form === 'oldOutputAssetId') return a.assetId === null ? old : null;
  return a.assetId !== null && a.assetId === old ? old : null;
}

const validResultTypes: readonly number[] = Object.values(OutputResultType);
const validAttributes: readonly number[] = Object.values(AssetAttribute);

/** Judges a Submit Output body against a task process; nothing changes until `apply()` is called. */
export function judgeSubmission(
  state: SimState,
  task: SimTask,
  body: unknown,
  keepOldAssetReference: KeepOldAssetReference = 'assetId',
): SubmitVerdict {
  const shape = submitBodyShape.safeParse(body);
  if (!shape.success) return refuse(problemDetailsFromIssues(shape.error.issues));
  const submitAssets = shape.data.submitAssets.map((group) => ({
    mappingKeyId: group.mappingKeyId,
    assets: group.assets.map((a) => ({
      oldOutputAssetId: a.oldOutputAssetId ?? null,
      assetId: a.assetId,
      /** The earlier output a KeepOldAsset entry names, in the form this instance expects; null when it does not. */
      kept: keptReference(a, keepOldAssetReference),
      outputResultTypeId: a.outputResultTypeId as 1 | 2 | 3,
      assetAttributeId: a.assetAttributeId as 0 | 1 | 2 | 4,
      resourceIds: a.resourceIds ?? null,
      specId: a.specId ?? null,
    })),
  }));
  if (task.state !== 'inProgress') return refuse(invalidData('task process is not in progress'));

  const expectedKeys = task.slots.map((s) => s.base.mappingKeyId);
  const submittedKeys = submitAssets.map((g) => g.mappingKeyId);
  const duplicate = submittedKeys.find((key, i) => submittedKeys.indexOf(key) !== i);
  if (duplicate !== undefined) return refuse(invalidData(`mappingKeyId ${duplicate} appears more than once`));
  if (submittedKeys.length !== expectedKeys.length || submittedKeys.some((key) => !expectedKeys.includes(key))) {
    return refuse(businessError(400, 'ErrorCode-1554', 'SubmitMappingKeyMismatch'));
  }

  const usedTemp = new Set<string>();
  const redone = new Set<string>();
  const kept = new Set<string>();
  const plan: { mappingKeyId: string; items: { temp: TempAsset | null; assetId: string; assetAttributeId: number }[] }[] = [];

  for (const [g, group] of submitAssets.entries()) {
    const slot = task.slots.find((s) => s.base.mappingKeyId === group.mappingKeyId)?.base;
    if (!slot) return refuse(businessError(400, 'ErrorCode-1554', 'SubmitMappingKeyMismatch'));
    const earlier = task.outputs.filter((o) => o.mappingKeyId === group.mappingKeyId);
    const items: (typeof plan)[number]['items'] = [];
    let mains = 0;
    let alternates = 0;

    for (const [i, asset] of group.assets.entries()) {
      const where = `submitAssets[${g}].assets[${i}]`;
      if (!validResultTypes.includes(asset.outputResultTypeId)) {
        return refuse(invalidData(`${where}.outputResultTypeId ${asset.outputResultTypeId} is not 1, 2 or 3`));
      }
      if (!validAttributes.includes(asset.assetAttributeId)) {
        return refuse(invalidData(`${where}.assetAttributeId ${asset.assetAttributeId} is not 0, 1, 2 or 4`));
      }
      if (asset.assetAttributeId === AssetAttribute.Alternative) alternates++;
      else mains++;

      if (asset.outputResultTypeId === OutputResultType.KeepOldAsset) {
        if (asset.kept === null)
          return refuse(invalidData(`${where}: KeepOldAsset must name its asset ${keepOldAssetRule[keepOldAssetReference]}`));
        const keptId = asset.kept;
        const old = earlier.find((o) => o.assetId === keptId);
        if (!old || old.isRejected) {
          return refuse(invalidData(`${where}: KeepOldAsset ${keptId} is not a non-rejected output of ${group.mappingKeyId}`));
        }
        if (kept.has(keptId)) return refuse(invalidData(`${where}: asset ${keptId} is kept twice`));
        kept.add(keptId);
        items.push({ temp: null, assetId: keptId, assetAttributeId: asset.assetAttributeId });
        continue;
      }
      if (asset.assetId === null) return refuse(invalidData(`${where}.assetId is required`));

      if (asset.outputResultTypeId === OutputResultType.ProcessNewAsset && asset.oldOutputAssetId !== null) {
        return refuse(invalidData(`${where}: ProcessNewAsset takes no oldOutputAssetId`));
      }
      if (asset.outputResultTypeId === OutputResultType.RedoAsset) {
        const old = earlier.find((o) => o.assetId === asset.oldOutputAssetId);
        if (!old?.isRejected) {
          return refuse(
            invalidData(
              `${where}: RedoAsset oldOutputAssetId ${asset.oldOutputAssetId} is not a rejected output of ${group.mappingKeyId}`,
            ),
          );
        }
        if (redone.has(old.assetId)) return refuse(invalidData(`${where}: output ${old.assetId} is redone twice`));
        redone.add(old.assetId);
      }
      const temp = state.tempAssets.get(asset.assetId);
      if (!temp) return refuse(invalidData(`${where}: asset ${asset.assetId} is not a temporary asset`));
      if (!temp.uploaded) return refuse(invalidData(`${where}: asset ${asset.assetId} has not been uploaded`));
      if (temp.usedBy !== null || usedTemp.has(temp.tempAssetId)) {
        return refuse(invalidData(`${where}: temporary asset ${asset.assetId} was already submitted`));
      }
      if (temp.clientId !== task.clientId) {
        return refuse(invalidData(`${where}: asset ${asset.assetId} belongs to another workspace`));
      }
      if (!contentTypeFitsSlot(temp.contentType, slot.assetContentTypeId)) {
        return refuse(
          invalidData(
            `${where}: ${temp.contentType} does not fit assetContentTypeId ${slot.assetContentTypeId} of ${group.mappingKeyId}`,
          ),
        );
      }
      usedTemp.add(temp.tempAssetId);
      items.push({ temp, assetId: temp.tempAssetId, assetAttributeId: asset.assetAttributeId });
    }

    // An optional slot may be left empty; anything submitted must respect the slot's bounds.
    if (group.assets.length > 0 || slot.isRequired) {
      const minMain = slot.isRequired ? Math.max(1, slot.minQuantity) : slot.minQuantity;
      if (mains < minMain) {
        return refuse(invalidData(`${group.mappingKeyId} needs at least ${minMain} main/inclip/resource assets, got ${mains}`));
      }
      if (slot.maxQuantity !== null && mains > slot.maxQuantity) {
        return refuse(
          invalidData(`${group.mappingKeyId} takes at most ${slot.maxQuantity} main/inclip/resource assets, got ${mains}`),
        );
      }
      if (alternates > 0 && !slot.isAlternativeAllowed) {
        return refuse(invalidData(`${group.mappingKeyId} does not accept alternates`));
      }
      const minAlternates = slot.isAlternativeRequired ? Math.max(1, slot.minAlternative) : 0;
      if (alternates < minAlternates) {
        return refuse(invalidData(`${group.mappingKeyId} needs at least ${minAlternates} alternates, got ${alternates}`));
      }
      if (slot.maxAlternative !== null && alternates > slot.maxAlternative) {
        return refuse(invalidData(`${group.mappingKeyId} takes at most ${slot.maxAlternative} alternates, got ${alternates}`));
      }
    }
    plan.push({ mappingKeyId: group.mappingKeyId, items });
  }

  return {
    ok: true,
    apply: () => {
      const outputs: StoredOutput[] = [];
      const assets: { assetId: string; fileId: string }[] = [];
      for (const group of plan) {
        for (const item of group.items) {
          let output: StoredOutput;
          if (item.temp === null) {
            const old = task.outputs.find((o) => o.assetId === item.assetId) as StoredOutput;
            output = { ...old, assetAttributeId: item.assetAttributeId, isRejected: false };
          } else {
            item.temp.usedBy = task.taskProcessId;
            state.registerOutputAsset(item.temp, item.assetAttributeId);
            output = {
              assetId: item.temp.tempAssetId,
              fileId: randomUUID(),
              mappingKeyId: group.mappingKeyId,
              assetAttributeId: item.assetAttributeId,
              isRejected: false,
              contentType: item.temp.contentType,
            };
          }
          outputs.push(output);
          assets.push({ assetId: output.assetId, fileId: output.fileId });
        }
      }
      // The drop boxes now hold exactly what was submitted; CF advances the task.
      task.outputs = outputs;
      task.state = 'submitted';
      for (const slot of task.slots) {
        slot.pinnedRejected = undefined;
        slot.pinnedOutputAssetIds = undefined;
      }
      return { assets };
    },
  };
}
