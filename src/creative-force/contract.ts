/**
 * The Creative Force contract in one place (docs/creative-force-contract.md describes it).
 *
 * Items tagged KNOWN are stated by Creative Force's public documentation (the "Custom Cloud
 * Automation Connector: Vendor Guide" and the API documentation). Items tagged ASSUMED are not:
 * each one has a default and an environment override, so a correction from Creative Force needs
 * no code change. docs/creative-force-contract.md lists them under "To confirm with Creative Force".
 */

import { ConnectorError } from '../errors.ts';

/** Gateway paths relative to CF_API_BASE_URL. `{name}` placeholders are URL-encoded values. */
export interface GatewayPaths {
  /** ASSUMED, override CF_PATH_PROCESS_DETAIL. */
  processDetail: string;
  /** ASSUMED, override CF_PATH_UPDATE_STATUS. */
  updateStatus: string;
  /** ASSUMED, override CF_PATH_SUBMIT_OUTPUT. */
  submitOutput: string;
  /** ASSUMED, override CF_PATH_ANNOTATIONS. */
  annotations: string;
  /** ASSUMED, override CF_PATH_STYLING_ASSETS. */
  stylingAssets: string;
  bulkGetAssets: string;
  bulkGetFiles: string;
  product: string;
  job: string;
  outfitProducts: string;
  presignedUpload: string;
}

export const defaultGatewayPaths: Readonly<GatewayPaths> = Object.freeze({
  processDetail: '/cloud-automation/task-processes/{taskProcessId}',
  updateStatus: '/cloud-automation/task-processes/{taskProcessId}/status',
  submitOutput: '/cloud-automation/task-processes/{taskProcessId}/submit-output',
  annotations: '/tasks/{taskId}/annotations',
  stylingAssets: '/outfits/styling-assets',
  bulkGetAssets: '/assets/bulk-get-assets',
  bulkGetFiles: '/files/bulk-get-files',
  product: '/products/{productId}',
  job: '/jobs/{jobId}',
  outfitProducts: '/outfits/{outfitId}/products',
  presignedUpload: '/assets/get-presigned-url',
});

/** The environment variable that overrides each ASSUMED path. */
export const assumedPathEnv = {
  processDetail: 'CF_PATH_PROCESS_DETAIL',
  updateStatus: 'CF_PATH_UPDATE_STATUS',
  submitOutput: 'CF_PATH_SUBMIT_OUTPUT',
  annotations: 'CF_PATH_ANNOTATIONS',
  stylingAssets: 'CF_PATH_STYLING_ASSETS',
} as const satisfies Partial<Record<keyof GatewayPaths, string>>;

/** ASSUMED: the `status` value of the Update Process Status body; override CF_FAILED_STATUS. */
export const defaultFailedStatus = 'Failed';

/** The field names of the Update Process Status body: `{ [status]: "Failed", [message]: "<why>" }`. */
export interface StatusBodyFields {
  status: string;
  message: string;
}

/** ASSUMED: `{ "status", "message" }`; overrides in {@link statusBodyFieldEnv}. */
export const defaultStatusBodyFields: Readonly<StatusBodyFields> = Object.freeze({ status: 'status', message: 'message' });

/** The environment variable that overrides each field name of the Update Process Status body. */
export const statusBodyFieldEnv = {
  status: 'CF_STATUS_FIELD',
  message: 'CF_MESSAGE_FIELD',
} as const satisfies Record<keyof StatusBodyFields, string>;

/**
 * How a list of ids is sent: `array` (a bare JSON array) or `field:<name>` (an object holding the
 * array under that name). ASSUMED for every call that takes one; overrides in {@link idListBodyEnv}.
 */
export type IdListBody = 'array' | `field:${string}`;

/** The calls that send a list of ids, and their ASSUMED body forms. */
export interface IdListBodies {
  bulkGetAssets: IdListBody;
  bulkGetFiles: IdListBody;
  stylingAssets: IdListBody;
}

export const defaultIdListBodies: Readonly<IdListBodies> = Object.freeze({
  bulkGetAssets: 'array',
  bulkGetFiles: 'array',
  stylingAssets: 'field:productIds',
});

export const idListBodyEnv = {
  bulkGetAssets: 'CF_BULK_GET_ASSETS_BODY',
  bulkGetFiles: 'CF_BULK_GET_FILES_BODY',
  stylingAssets: 'CF_STYLING_ASSETS_BODY',
} as const satisfies Record<keyof IdListBodies, string>;

/**
 * The field names of the gateway's answers that are ASSUMED (the process detail's items, the bulk,
 * annotation and styling answers): `CF_FIELD_ALIASES` maps our name to the name Creative Force
 * sends, e.g. `{"positionName":"position"}`. Empty by default.
 */
export const fieldAliasesEnv = 'CF_FIELD_ALIASES';

/**
 * Which field of a KeepOldAsset entry carries the earlier output's id (ASSUMED `assetId`, with
 * `oldOutputAssetId` null): `assetId`, `oldOutputAssetId`, or `both`. Override in
 * {@link keepOldAssetReferenceEnv}.
 */
export const keepOldAssetReferences = ['assetId', 'oldOutputAssetId', 'both'] as const;
export type KeepOldAssetReference = (typeof keepOldAssetReferences)[number];
export const defaultKeepOldAssetReference: KeepOldAssetReference = 'assetId';
export const keepOldAssetReferenceEnv = 'CF_KEEP_OLD_ASSET_REFERENCE';

/**
 * How a kept output's file is fetched, for a drop box made from it on a rework (a video redone
 * alone from its kept still, docs/recipes.md). ASSUMED: the guide documents bulk-get-assets for
 * input assets only; an output asset is an asset with an assetId, so `bulk-get-assets` asks that
 * call for its download URL too. `off` refuses such a drop box (SLOT_UNFILLABLE) before any
 * download. Override in {@link keptOutputDownloadEnv}.
 */
export const keptOutputDownloads = ['bulk-get-assets', 'off'] as const;
export type KeptOutputDownload = (typeof keptOutputDownloads)[number];
export const defaultKeptOutputDownload: KeptOutputDownload = 'bulk-get-assets';
export const keptOutputDownloadEnv = 'CF_KEPT_OUTPUT_DOWNLOAD';

/** The ASSUMED wire forms together, as the gateway client is configured with them. */
export interface WireForms {
  idListBodies: IdListBodies;
  /** Our field name → Creative Force's. */
  fieldAliases: Readonly<Record<string, string>>;
  keepOldAssetReference: KeepOldAssetReference;
}

export const defaultWireForms: Readonly<WireForms> = Object.freeze({
  idListBodies: defaultIdListBodies,
  fieldAliases: Object.freeze({}),
  keepOldAssetReference: defaultKeepOldAssetReference,
});

/** KNOWN: bulk-get-files takes at most this many ids per request. */
export const bulkGetFilesLimit = 100;

/**
 * ASSUMED caps of the two calls several tasks may share (src/creative-force/shared-calls.ts): the
 * guide documents no limit for bulk-get-assets nor for the files of one pre-signed URL request, so
 * the service stays at bulk-get-files' KNOWN 100 (CF_BULK_GET_ASSETS_MAX_IDS, CF_PRESIGN_MAX_FILES).
 */
export const defaultSharedCallCaps: Readonly<SharedCallCaps> = Object.freeze({ bulkGetAssetIds: 100, presignFiles: 100 });

/** How many entries one bulk-get-assets or pre-signed URL request may carry. */
export interface SharedCallCaps {
  bulkGetAssetIds: number;
  presignFiles: number;
}

/** KNOWN: the rate limit of the gateway, per egress IP. */
export const gatewayRequestsPerSecond = 20;

/** KNOWN: the OAuth scope of the gateway. */
export const gatewayScope = 'cfgateway';

/** KNOWN: physicalFileTypeId for output files in the pre-signed URL request. */
export const outputPhysicalFileTypeId = 2;

/** KNOWN: the step ids of the Cloud Automation levels (25 default, L1-L4 26-29, L5 40). */
export const cloudAutomationStepIds = [25, 26, 27, 28, 29, 40] as const;

export const OutputResultType = { ProcessNewAsset: 1, KeepOldAsset: 2, RedoAsset: 3 } as const;
export const AssetAttribute = { Normal: 0, Inclip: 1, Resource: 2, Alternative: 4 } as const;
export const AssetContentType = { Photo: 1, Video: 2, Both: 4 } as const;

export type OutputResultTypeId = (typeof OutputResultType)[keyof typeof OutputResultType];
export type AssetAttributeId = (typeof AssetAttribute)[keyof typeof AssetAttribute];
export type AssetContentTypeId = (typeof AssetContentType)[keyof typeof AssetContentType];

/** The webhook signature header (KNOWN name). */
export const signatureHeader = 'x-cf-signature';

/**
 * ASSUMED signature recipe: base64(HMAC-SHA256(key = base64decode(secret), raw body)).
 * A connection may pin any variant of the family by name, or use `auto` to accept all of them.
 */
export const signatureVariants = [
  'b64key-sha256-base64',
  'b64key-sha256-hex',
  'b64key-sha1-base64',
  'b64key-sha1-hex',
  'utf8key-sha256-base64',
  'utf8key-sha256-hex',
  'utf8key-sha1-base64',
  'utf8key-sha1-hex',
] as const;
export type SignatureVariant = (typeof signatureVariants)[number];
export const defaultSignatureVariant: SignatureVariant = 'b64key-sha256-base64';

/**
 * Fills `{name}` placeholders of a gateway path with URL-encoded values. A value that is empty or
 * only dots is refused (CF_PATH_ID_INVALID): encoding cannot keep it in its segment, because URL
 * parsing resolves `.`, `..` and their `%2E` forms as dot segments, and an empty one names another
 * resource (`/products/` is not a product).
 */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`path ${template} needs a value for {${name}}`);
    if (/^\.*$/.test(value)) {
      throw new ConnectorError('CF_PATH_ID_INVALID', `{${name}} of ${template} cannot be ${JSON.stringify(value)}`, {
        details: { path: template, placeholder: name },
      });
    }
    return encodeURIComponent(value);
  });
}
