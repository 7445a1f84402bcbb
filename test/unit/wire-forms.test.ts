import { describe, expect, it } from 'vitest';
import { loadEnvConfig } from '../../src/config/env.ts';
import { defaultWireForms } from '../../src/creative-force/contract.ts';
import { applyFieldAliases, idListBody, withKeepOldAssetReference } from '../../src/creative-force/wire-forms.ts';

const keep = {
  oldOutputAssetId: null,
  assetId: 'old-1',
  outputResultTypeId: 2,
  assetAttributeId: 0,
  resourceIds: null,
  specId: null,
} as const;
const redo = { ...keep, assetId: 'temp-1', outputResultTypeId: 3, oldOutputAssetId: 'old-2' } as const;
const body = { submitAssets: [{ mappingKeyId: 'A', assets: [keep, redo] }] };

describe('the ASSUMED wire forms', () => {
  it('send an id list bare or under a field', () => {
    expect(idListBody('array', ['a', 'b'])).toEqual(['a', 'b']);
    expect(idListBody('field:productIds', ['a'])).toEqual({ productIds: ['a'] });
  });

  it('read Creative Force field names under ours, at any depth, never over a field we have', () => {
    const answer = { position: 'Front', items: [{ position: 'Back' }, { position: 'x', positionName: 'kept' }] };
    expect(applyFieldAliases(answer, { positionName: 'position' })).toEqual({
      position: 'Front',
      positionName: 'Front',
      items: [
        { position: 'Back', positionName: 'Back' },
        { position: 'x', positionName: 'kept' },
      ],
    });
    expect(applyFieldAliases(answer, {})).toBe(answer);
  });

  it('name the earlier output of KeepOldAsset as configured, and leave other entries alone', () => {
    expect(withKeepOldAssetReference(body, 'assetId')).toBe(body);
    expect(withKeepOldAssetReference(body, 'oldOutputAssetId').submitAssets[0]?.assets).toEqual([
      { ...keep, assetId: null, oldOutputAssetId: 'old-1' },
      redo,
    ]);
    expect(withKeepOldAssetReference(body, 'both').submitAssets[0]?.assets).toEqual([
      { ...keep, oldOutputAssetId: 'old-1' },
      redo,
    ]);
  });

  it('are read from the environment, defaults as the contract says, a bad value named', () => {
    expect(loadEnvConfig({}).cf.wireForms).toEqual(defaultWireForms);
    const forms = loadEnvConfig({
      CF_BULK_GET_ASSETS_BODY: 'field:assetIds',
      CF_FIELD_ALIASES: '{"positionName":"position"}',
      CF_KEEP_OLD_ASSET_REFERENCE: 'both',
    }).cf.wireForms;
    expect(forms).toEqual({
      idListBodies: { ...defaultWireForms.idListBodies, bulkGetAssets: 'field:assetIds' },
      fieldAliases: { positionName: 'position' },
      keepOldAssetReference: 'both',
    });
    expect(() => loadEnvConfig({ CF_BULK_GET_FILES_BODY: 'object' })).toThrow(
      /CF_BULK_GET_FILES_BODY: must be "array" or "field:<name>"/,
    );
    expect(() => loadEnvConfig({ CF_FIELD_ALIASES: '{positionName' })).toThrow(/CF_FIELD_ALIASES: must be a JSON object/);
    expect(() => loadEnvConfig({ CF_FIELD_ALIASES: '{"positionName":3}' })).toThrow(/CF_FIELD_ALIASES/);
    expect(() => loadEnvConfig({ CF_KEEP_OLD_ASSET_REFERENCE: 'id' })).toThrow(/CF_KEEP_OLD_ASSET_REFERENCE/);
    expect(loadEnvConfig({}).cf.keptOutputDownload).toBe('bulk-get-assets');
    expect(loadEnvConfig({ CF_KEPT_OUTPUT_DOWNLOAD: 'off' }).cf.keptOutputDownload).toBe('off');
    expect(() => loadEnvConfig({ CF_KEPT_OUTPUT_DOWNLOAD: 'false' })).toThrow(/CF_KEPT_OUTPUT_DOWNLOAD/);
  });
});
