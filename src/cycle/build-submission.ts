/**
 * The Submit Output body, built by pure functions from the process detail and the produced files.
 *
 * A first pass and a rework are the same code path driven by data (guide, "Rework Cycle"):
 * `planWork` reads, per drop box, what earlier outputs exist and which were rejected; it asks the
 * recipe only for what must be produced. `planSubmission` then decides which produced file goes
 * where and as what, before anything is uploaded, so a slot that cannot be filled fails here with
 * its reason instead of being refused by Creative Force after uploads. `renderSubmitBody` fills in
 * the tempAssetIds. Every mappingKeyId of the detail appears in the body, with `assets: []` for an
 * optional slot left empty (else ErrorCode-1554).
 */
import { AssetAttribute, type AssetAttributeId, AssetContentType, OutputResultType } from '../creative-force/contract.ts';
import type { ExpectedOutput, OutputAsset, ProcessDetail, SubmitAsset, SubmitOutputBody } from '../creative-force/schemas.ts';
import { ConnectorError } from '../errors.ts';
import type { ProducedFile, SlotRequest } from '../providers/recipe.ts';
import type { RefusedOutput } from './gate-outputs.ts';

/** What one drop box needs this cycle. */
export interface SlotWork {
  slot: ExpectedOutput;
  /** Earlier outputs re-submitted as KeepOldAsset. */
  keep: OutputAsset[];
  /** Rejected earlier outputs, each replaced by one new file (RedoAsset). */
  redo: OutputAsset[];
  /** True when the slot is filled from scratch by the first-pass rules. */
  fresh: boolean;
}

/** One asset to upload (one tempAssetId) and submit. */
export interface PlannedAsset {
  /** Unique within the plan; names the upload and its tempAssetId. */
  uploadKey: string;
  file: ProducedFile;
  assetAttributeId: AssetAttributeId;
  /** The rejected earlier output this file replaces (RedoAsset), or null (ProcessNewAsset). */
  replaces: string | null;
}

export interface PlannedSlot {
  mappingKeyId: string;
  /** Which route of the subfunction produced the slot's new assets (when it has several stages or routes). */
  route?: string;
  /** Earlier outputs kept as they are (KeepOldAsset). */
  kept: { assetId: string; assetAttributeId: AssetAttributeId }[];
  assets: PlannedAsset[];
}

export interface SubmissionPlan {
  slots: PlannedSlot[];
  /** Produced files not submitted because the slot was full; reported, never an error. */
  dropped: { mappingKeyId: string; fileName: string }[];
  /** Produced files the result gate refused (they were never candidates). */
  refused: RefusedOutput[];
}

const contentTypeName = { 1: 'photo', 2: 'video', 4: 'photo or video' } as const;

/** Whether a produced file's kind fits the slot's content type. */
export function kindFits(slot: ExpectedOutput, kind: ProducedFile['kind']): boolean {
  if (slot.assetContentTypeId === AssetContentType.Both) return true;
  return slot.assetContentTypeId === AssetContentType.Video ? kind === 'video' : kind === 'photo';
}

/** The number of main (+inclip +resource) assets a slot needs at least. */
export function mainMinimum(slot: ExpectedOutput): number {
  return Math.max(slot.minQuantity, slot.isRequired ? 1 : 0);
}

/** The number of alternates a slot needs at least (0 unless required). */
export function alternateMinimum(slot: ExpectedOutput): number {
  return slot.isAlternativeRequired ? Math.max(slot.minAlternative, 1) : 0;
}

const attributeOf = (asset: OutputAsset): AssetAttributeId =>
  ([0, 1, 2, 4] as const).find((a) => a === asset.assetAttributeId) ?? AssetAttribute.Normal;

/** The earlier outputs of a slot: its `outputAssetIds`, else the outputs that name its mappingKeyId. */
function earlierOutputs(detail: ProcessDetail, slot: ExpectedOutput): OutputAsset[] {
  if (slot.outputAssetIds.length > 0) {
    return slot.outputAssetIds.map(
      (assetId) =>
        detail.outputAssets.find((o) => o.assetId === assetId) ?? {
          assetId,
          mappingKeyId: slot.mappingKeyId,
          assetAttributeId: 0,
          isRejected: slot.isRejected,
        },
    );
  }
  return detail.outputAssets.filter((o) => o.mappingKeyId === slot.mappingKeyId);
}

/**
 * What each drop box needs: a slot without earlier outputs is filled fresh; on a rework, a slot
 * with nothing rejected keeps every earlier asset and is not processed again, and a partly
 * rejected slot keeps the others and redoes only the rejected ones. A slot flagged rejected whose
 * assets carry no flag of their own is redone whole.
 */
export function planWork(detail: ProcessDetail): SlotWork[] {
  return detail.taskProcessExpectedOutputs.map((slot) => {
    const earlier = earlierOutputs(detail, slot);
    if (earlier.length === 0) return { slot, keep: [], redo: [], fresh: true };
    const anyFlagged = earlier.some((o) => o.isRejected);
    const rejected = (o: OutputAsset) => o.isRejected || (slot.isRejected && !anyFlagged);
    return { slot, keep: earlier.filter((o) => !rejected(o)), redo: earlier.filter(rejected), fresh: false };
  });
}

/** True when the task process has outputs from an earlier run. */
export function isRework(work: readonly SlotWork[]): boolean {
  return work.some((w) => !w.fresh);
}

/** What the recipe must produce: fresh slots by their minimums, reworked slots one per rejected asset. */
export function recipeRequests(work: readonly SlotWork[]): SlotRequest[] {
  return work
    .filter((w) => w.fresh || w.redo.length > 0)
    .map((w) => ({
      slot: w.slot,
      count: w.fresh ? Math.max(1, mainMinimum(w.slot)) + alternateMinimum(w.slot) : w.redo.length,
      replaces: w.redo,
    }));
}

function unfillable(slot: ExpectedOutput, why: string): never {
  throw new ConnectorError('SLOT_UNFILLABLE', `slot ${slot.mappingKeyId}: ${why}`, {
    details: { mappingKeyId: slot.mappingKeyId },
  });
}

function fittingFiles(slot: ExpectedOutput, produced: readonly ProducedFile[]): ProducedFile[] {
  const fitting = produced.filter((f) => kindFits(slot, f.kind));
  if (produced.length > 0 && fitting.length === 0) {
    throw new ConnectorError(
      'SLOT_UNSUPPORTED',
      `slot ${slot.mappingKeyId} expects ${contentTypeName[slot.assetContentTypeId]} content; the recipe produced ${produced[0]?.kind}`,
      { details: { mappingKeyId: slot.mappingKeyId } },
    );
  }
  return fitting;
}

/** A fresh slot: main places first (best-ranked files), the rest as alternates where allowed. */
function planFresh(slot: ExpectedOutput, fitting: ProducedFile[], dropped: SubmissionPlan['dropped']): PlannedAsset[] {
  const mainMin = mainMinimum(slot);
  const mainMax = slot.maxQuantity ?? Number.POSITIVE_INFINITY;
  const altAllowed = slot.isAlternativeAllowed || slot.isAlternativeRequired;
  const altMin = alternateMinimum(slot);
  const altMax = altAllowed ? (slot.maxAlternative ?? Number.POSITIVE_INFINITY) : 0;
  if (mainMax < mainMin) unfillable(slot, `its rules contradict each other (minimum ${mainMin}, maximum ${mainMax})`);
  if (fitting.length === 0 && mainMin === 0) return [];

  // Files the recipe marked itself: inclip/resource count as main, alternates stay alternates.
  const forcedAlternates = fitting.filter((f) => f.assetAttributeId === AssetAttribute.Alternative);
  const candidates = fitting.filter((f) => f.assetAttributeId !== AssetAttribute.Alternative);
  // Keep enough candidates back for the required alternates, never going under the main minimum.
  const reserve = Math.max(0, altMin - forcedAlternates.length);
  const mainCount = Math.min(mainMax, candidates.length, Math.max(mainMin, candidates.length - reserve));
  if (mainCount < mainMin) {
    unfillable(
      slot,
      `needs at least ${mainMin} ${contentTypeName[slot.assetContentTypeId]} asset(s); the recipe produced ${candidates.length}`,
    );
  }
  const main = candidates.slice(0, mainCount);
  const alternates = [...forcedAlternates, ...candidates.slice(mainCount)].slice(0, altMax);
  if (alternates.length < altMin) {
    unfillable(
      slot,
      `requires at least ${altMin} alternate(s); the recipe produced ${alternates.length} beyond the main asset(s)`,
    );
  }
  const used = new Set([...main, ...alternates]);
  for (const f of fitting) if (!used.has(f)) dropped.push({ mappingKeyId: slot.mappingKeyId, fileName: f.fileName });
  return [
    ...main.map((file) => ({ file, assetAttributeId: file.assetAttributeId ?? AssetAttribute.Normal })),
    ...alternates.map((file) => ({ file, assetAttributeId: AssetAttribute.Alternative as AssetAttributeId })),
  ].map((a, i) => ({ ...a, replaces: null, uploadKey: `${slot.mappingKeyId}#${i}` }));
}

/** A reworked slot: one new file per rejected asset, in the rejected asset's role. */
function planRedo(work: SlotWork, fitting: ProducedFile[], dropped: SubmissionPlan['dropped']): PlannedAsset[] {
  const { slot, redo } = work;
  if (fitting.length < redo.length) {
    unfillable(slot, `${redo.length} rejected asset(s) to replace; the recipe produced ${fitting.length}`);
  }
  for (const f of fitting.slice(redo.length)) dropped.push({ mappingKeyId: slot.mappingKeyId, fileName: f.fileName });
  return redo.map((old, i) => ({
    uploadKey: `${slot.mappingKeyId}#${i}`,
    file: fitting[i] as ProducedFile,
    assetAttributeId: attributeOf(old),
    replaces: old.assetId,
  }));
}

/**
 * Plans the submission from the produced files that passed the result gate (`refused`: those that
 * did not, carried into the plan for the record). Throws SLOT_UNFILLABLE / SLOT_UNSUPPORTED with
 * the slot's reason.
 */
export function planSubmission(
  detail: ProcessDetail,
  produced: ReadonlyMap<string, readonly ProducedFile[]>,
  refused: readonly RefusedOutput[] = [],
): SubmissionPlan {
  const dropped: SubmissionPlan['dropped'] = [];
  const slots = planWork(detail).map((work): PlannedSlot => {
    const mappingKeyId = work.slot.mappingKeyId;
    const fitting = fittingFiles(work.slot, produced.get(mappingKeyId) ?? []);
    const kept = work.keep.map((o) => ({ assetId: o.assetId, assetAttributeId: attributeOf(o) }));
    if (work.fresh) return { mappingKeyId, kept, assets: planFresh(work.slot, fitting, dropped) };
    return { mappingKeyId, kept, assets: planRedo(work, fitting, dropped) };
  });
  return { slots, dropped, refused: [...refused] };
}

/** The assets of a plan that need an upload, in upload order. */
export function plannedAssets(plan: SubmissionPlan): PlannedAsset[] {
  return plan.slots.flatMap((s) => s.assets);
}

/** Renders the Submit Output body; every planned asset must have its own tempAssetId. */
export function renderSubmitBody(plan: SubmissionPlan, tempAssetIds: Readonly<Record<string, string>>): SubmitOutputBody {
  const used = new Set<string>();
  const kept = (asset: PlannedSlot['kept'][number]): SubmitAsset => ({
    oldOutputAssetId: null,
    assetId: asset.assetId,
    outputResultTypeId: OutputResultType.KeepOldAsset,
    assetAttributeId: asset.assetAttributeId,
    resourceIds: null,
    specId: null,
  });
  const uploaded = (asset: PlannedAsset): SubmitAsset => {
    const tempAssetId = tempAssetIds[asset.uploadKey];
    if (!tempAssetId) throw new Error(`no upload for ${asset.uploadKey}`);
    if (used.has(tempAssetId)) throw new Error(`tempAssetId ${tempAssetId} used twice`);
    used.add(tempAssetId);
    return {
      oldOutputAssetId: asset.replaces,
      assetId: tempAssetId,
      outputResultTypeId: asset.replaces === null ? OutputResultType.ProcessNewAsset : OutputResultType.RedoAsset,
      assetAttributeId: asset.assetAttributeId,
      resourceIds: null,
      specId: null,
    };
  };
  return {
    submitAssets: plan.slots.map((slot) => ({
      mappingKeyId: slot.mappingKeyId,
      assets: [...slot.kept.map(kept), ...slot.assets.map(uploaded)],
    })),
  };
}
