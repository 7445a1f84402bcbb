/**
 * Where the Adobe Firefly Creative Production Workflow API ("Workflow Builder API") and Adobe IMS
 * live (docs/providers/firefly.md), and what a connection authenticates with. The paths and the API
 * version are documented (the OpenAPI specification) and fixed; base URL, IMS URL, scope, the
 * inputs' storage type and the deadline are service-wide configuration (the IMS region, the scope
 * and the storage type are Adobe's to confirm). The IMS organization and user belong to the
 * connection (FireflyCredentials), never to the service.
 */

/** Production server of the Workflow Builder API. */
export const defaultFireflyBaseUrl = 'https://run-workflow.adobe.io';

/** Adobe IMS token endpoint (OAuth Server-to-Server, client-credentials grant); other regions are undocumented. */
export const defaultFireflyImsTokenUrl = 'https://ims-na1.adobelogin.com/ims/token/v3';

/** The scope of the client-credentials grant, verbatim from Adobe's getting-started page (whether it may be narrowed is not documented). */
export const defaultFireflyScope = 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis';

/**
 * The `storageType` of the presigned input references: Creative Force's URLs are S3 URLs, and the
 * specification's only example value is `AWS`; its list of values is not documented.
 */
export const defaultFireflyInputStorageType = 'AWS';

/** Default whole-request deadline of one call (API calls, the IMS token request, result downloads). */
export const defaultFireflyRequestTimeoutMs = 120_000;

/** The `api-version` header sent on every API call (the only supported version). */
export const fireflyApiVersion = '1.0';

/** Page size of `GET /batch/{batchId}/executions`: the documented maximum. */
export const fireflyExecutionsPageSize = 500;

/** Page size of `GET /batches`: the documented maximum. */
export const fireflyBatchesPageSize = 100;

/** How much earlier than our clock Firefly may date a batch (`createdAt`), by default: the clock skew allowed. */
export const defaultFireflyStartClockSkewMs = 60_000;

/** Every Workflow Builder path the connector calls, relative to `FireflyConfig.baseUrl`. */
export const fireflyPaths = {
  /** Starts a batch of runs of a published workflow (answers 202). */
  execute: '/batch/execute',
  /** The caller's batches, newest first, filtered (`createdAfter`, …) and paginated (`limit` ≤ 100, `offset`). */
  batches: '/batches',
  /** `{batchId}` is replaced by the URI-encoded id (see fireflyBatchPath). */
  status: '/batch/{batchId}/status',
  /** Per-asset results, paginated (`limit` ≤ 500, `offset`). */
  executions: '/batch/{batchId}/executions',
  /** Pending or running batches only. */
  cancel: '/batch/{batchId}/cancel',
} as const;

/** The path of one batch endpoint. */
export function fireflyBatchPath(path: 'status' | 'executions' | 'cancel', batchId: string): string {
  return fireflyPaths[path].replace('{batchId}', encodeURIComponent(batchId));
}

/** Configuration of the Firefly client and token store (service-wide, not per connection). */
export interface FireflyConfig {
  /** Server of the Workflow Builder API, without a trailing slash (production: defaultFireflyBaseUrl). */
  baseUrl: string;
  /** Adobe IMS token endpoint (production: defaultFireflyImsTokenUrl). */
  imsTokenUrl: string;
  /** The `scope` of the client-credentials grant, sent as is (production: defaultFireflyScope). */
  scope: string;
  /** The `storageType` sent with every presigned input URL (production: defaultFireflyInputStorageType). */
  inputStorageType: string;
  /** Whole-request deadline of one call, body included: API calls, the IMS token request and downloads alike. */
  requestTimeoutMs: number;
  /** How much earlier than our clock Firefly may date a batch, when a lost start is looked for. */
  startClockSkewMs: number;
}

/** The production configuration. */
export const defaultFireflyConfig: Readonly<FireflyConfig> = Object.freeze({
  baseUrl: defaultFireflyBaseUrl,
  imsTokenUrl: defaultFireflyImsTokenUrl,
  scope: defaultFireflyScope,
  inputStorageType: defaultFireflyInputStorageType,
  requestTimeoutMs: defaultFireflyRequestTimeoutMs,
  startClockSkewMs: defaultFireflyStartClockSkewMs,
});

/** The OAuth Server-to-Server credential of one connection (Adobe Developer Console project). */
export interface FireflyCredentials {
  /** Client ID: the IMS `client_id`, and the `x-api-key` header of every API call. */
  clientId: string;
  /** Client secret of the IMS client-credentials grant. Never logged. */
  clientSecret: string;
  /** IMS organization id, e.g. `A1B2C3D4567890ABCDEFFEDA51@AdobeOrg`: the `x-gw-ims-org-id` header. */
  orgId: string;
  /**
   * The `x-gw-ims-user-id` header. Its value for an S2S credential is undocumented (probably the
   * credential's technical account id; docs/providers/firefly.md): configured per connection.
   */
  userId: string;
}
