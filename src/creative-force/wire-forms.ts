/**
 * The ASSUMED parts of the gateway's wire format, applied where the client meets the wire: how id
 * lists are sent, the names Creative Force may use for the fields we read, and which field of a
 * KeepOldAsset entry names the earlier output. The defaults are the contract's; each is
 * configurable (src/config/env.ts), so a correction from Creative Force needs no code change.
 */
import { type IdListBody, type KeepOldAssetReference, OutputResultType } from './contract.ts';
import type { SubmitAsset, SubmitOutputBody } from './schemas.ts';

/** The body of a call that sends `ids`, in the configured form. */
export function idListBody(form: IdListBody, ids: readonly string[]): unknown {
  return form === 'array' ? [...ids] : { [form.slice('field:'.length)]: [...ids] };
}

/**
 * Copies each aliased field to our name in every object of an answer (at any depth), unless the
 * object has our name already. `aliases` maps our name to Creative Force's.
 */
export function applyFieldAliases(json: unknown, aliases: Readonly<Record<string, string>>): unknown {
  const pairs = Object.entries(aliases);
  if (pairs.length === 0) return json;
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const record: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) record[key] = walk(child);
    for (const [ours, theirs] of pairs) if (!(ours in record) && theirs in record) record[ours] = record[theirs];
    return record;
  };
  return walk(json);
}

/** A Submit Output body as sent: with `oldOutputAssetId` only, a KeepOldAsset entry has no `assetId`. */
export interface WireSubmitOutputBody {
  submitAssets: { mappingKeyId: string; assets: (Omit<SubmitAsset, 'assetId'> & { assetId: string | null })[] }[];
}

/** The Submit Output body with each KeepOldAsset entry naming its earlier output as configured. */
export function withKeepOldAssetReference(body: SubmitOutputBody, reference: KeepOldAssetReference): WireSubmitOutputBody {
  if (reference === 'assetId') return body;
  return {
    submitAssets: body.submitAssets.map((slot) => ({
      ...slot,
      assets: slot.assets.map((asset) =>
        asset.outputResultTypeId === OutputResultType.KeepOldAsset
          ? { ...asset, oldOutputAssetId: asset.assetId, ...(reference === 'oldOutputAssetId' ? { assetId: null } : {}) }
          : asset,
      ),
    })),
  };
}
