/**
 * The Submit Output body, built by pure functions from the process detail and the produced files.
 *
 * `planSubmission` decides which produced file goes to which slot and as what (main or alternate),
 * obeying every first-pass rule of the contract, before anything is uploaded: a slot that cannot
 * be filled fails here with its reason instead of being refused by Creative Force after uploads.
 * `renderSubmitBody` then fills in the tempAssetIds of the uploads. Every mappingKeyId of the
 * detail appears in the body, with `assets: []` for an optional slot left empty (else 1554).
 */
import { AssetAttribute, type AssetAttributeId, AssetContentType, OutputResultType } from '../creative-force/contract.ts';
import type { ExpectedOutput, ProcessDetail, SubmitOutputBody } from '../creative-force/schemas.ts';
import { ConnectorError } from '../errors.ts';
import type { ProducedFile } from '../providers/recipe.ts';

/** One asset to upload (one tempAssetId) and submit. */
export interface PlannedAsset {
  /** Unique within the plan; names the upload and its tempAssetId. */
  uploadKey: string;
  file: ProducedFile;
  assetAttributeId: AssetAttributeId;
}

export interface PlannedSlot {
  mappingKeyId: string;
  assets: PlannedAsset[];
}

export interface SubmissionPlan {
  slots: PlannedSlot[];
  /** Produced files not submitted because the slot was full; reported, never an error. */
  dropped: { mappingKeyId: string; fileName: string }[];
}

/** Whether a produced file's kind fits the slot's content type. */
export function kindFits(slot: ExpectedOutput, kind: ProducedFile['kind']): boolean {
  if (slot.assetContentTypeId === AssetContentType.Both) return true;
  return slot.assetContentTypeId === AssetContentType.Video ? kind === 'video' : kind === 'photo';
}

const contentTypeName = { 1: 'photo', 2: 'video', 4: 'photo or video' } as const;

/** The number of main (+inclip +resource) assets a slot needs at least. */
export function mainMinimum(slot: ExpectedOutput): number {
  return Math.max(slot.minQuantity, slot.isRequired ? 1 : 0);
}

/** The number of alternates a slot needs at least (0 unless required). */
export function alternateMinimum(slot: ExpectedOutput): number {
  return slot.isAlternativeRequired ? Math.max(slot.minAlternative, 1) : 0;
}

function unfillable(slot: ExpectedOutput, why: string): never {
  throw new ConnectorError('SLOT_UNFILLABLE', `slot ${slot.mappingKeyId}: ${why}`, {
    details: { mappingKeyId: slot.mappingKeyId },
  });
}

function planSlot(slot: ExpectedOutput, produced: readonly ProducedFile[], dropped: SubmissionPlan['dropped']): PlannedSlot {
  const fitting = produced.filter((f) => kindFits(slot, f.kind));
  if (fitting.length < produced.length && fitting.length === 0) {
    throw new ConnectorError(
      'SLOT_UNSUPPORTED',
      `slot ${slot.mappingKeyId} expects ${contentTypeName[slot.assetContentTypeId]} content; the recipe produced ${produced[0]?.kind ?? 'nothing'}`,
      { details: { mappingKeyId: slot.mappingKeyId } },
    );
  }
  const mainMin = mainMinimum(slot);
  const mainMax = slot.maxQuantity ?? Number.POSITIVE_INFINITY;
  const altAllowed = slot.isAlternativeAllowed || slot.isAlternativeRequired;
  const altMin = alternateMinimum(slot);
  const altMax = altAllowed ? (slot.maxAlternative ?? Number.POSITIVE_INFINITY) : 0;
  if (mainMax < mainMin) unfillable(slot, `its rules contradict each other (minimum ${mainMin}, maximum ${mainMax})`);

  if (fitting.length === 0 && mainMin === 0) return { mappingKeyId: slot.mappingKeyId, assets: [] };

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

  const assets: PlannedAsset[] = [
    ...main.map((file) => ({ file, assetAttributeId: file.assetAttributeId ?? AssetAttribute.Normal })),
    ...alternates.map((file) => ({ file, assetAttributeId: AssetAttribute.Alternative as AssetAttributeId })),
  ].map((a, i) => ({ ...a, uploadKey: `${slot.mappingKeyId}#${i}` }));
  return { mappingKeyId: slot.mappingKeyId, assets };
}

/** Plans a first-pass submission. Throws SLOT_UNFILLABLE / SLOT_UNSUPPORTED with the slot's reason. */
export function planSubmission(detail: ProcessDetail, produced: ReadonlyMap<string, readonly ProducedFile[]>): SubmissionPlan {
  const dropped: SubmissionPlan['dropped'] = [];
  const slots = detail.taskProcessExpectedOutputs.map((slot) => planSlot(slot, produced.get(slot.mappingKeyId) ?? [], dropped));
  return { slots, dropped };
}

/** The assets of a plan in upload order. */
export function plannedAssets(plan: SubmissionPlan): PlannedAsset[] {
  return plan.slots.flatMap((s) => s.assets);
}

/** Renders the Submit Output body; every planned asset must have its own tempAssetId. */
export function renderSubmitBody(plan: SubmissionPlan, tempAssetIds: Readonly<Record<string, string>>): SubmitOutputBody {
  const used = new Set<string>();
  return {
    submitAssets: plan.slots.map((slot) => ({
      mappingKeyId: slot.mappingKeyId,
      assets: slot.assets.map((asset) => {
        const tempAssetId = tempAssetIds[asset.uploadKey];
        if (!tempAssetId) throw new Error(`no upload for ${asset.uploadKey}`);
        if (used.has(tempAssetId)) throw new Error(`tempAssetId ${tempAssetId} used twice`);
        used.add(tempAssetId);
        return {
          oldOutputAssetId: null,
          assetId: tempAssetId,
          outputResultTypeId: OutputResultType.ProcessNewAsset,
          assetAttributeId: asset.assetAttributeId,
          resourceIds: null,
          specId: null,
        };
      }),
    })),
  };
}
