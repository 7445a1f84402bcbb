/**
 * Public types of the Adobe Firefly Creative Production Workflow API simulator ("Workflow Builder
 * API"): its options, the credentials and workflows tests register, and the
 * records tests inspect. Exported names carry `Firefly` so `export *` next to other simulators
 * cannot clash.
 */
import type { Logger } from 'pino';
import type { ListenOptions } from '../harness/loopback-server.ts';

export type { CallLogEntry as FireflyCallLogEntry } from '../harness/call-log.ts';
export type { FaultMatch as FireflyFaultMatch, FaultResponse as FireflyFaultResponse } from '../harness/fault-queue.ts';

/** The storage hosts the documentation lists for input URLs (Adobe's getting-started "usage" page). */
export const fireflyDocumentedInputHosts: readonly string[] = Object.freeze([
  'amazonaws.com',
  'windows.net',
  'dropboxusercontent.com',
  'storage.googleapis.com',
  'adobe.io',
]);

/** The scope list Adobe's getting-started page says to send, verbatim. */
export const fireflyDocumentedScopes: readonly string[] = Object.freeze([
  'openid',
  'AdobeID',
  'session',
  'additional_info',
  'read_organizations',
  'firefly_api',
  'ff_apis',
]);

/** A request budget per (IMS org, IMS user): at most `limit` API calls in each fixed window of `windowMs`. */
export interface FireflyRateLimit {
  limit: number;
  windowMs: number;
}

/** Options of `FireflySimulator.start`; `host` and `port` say where it listens (default 127.0.0.1, a random port). */
export interface FireflySimulatorOptions extends ListenOptions {
  /** Lifetime of IMS access tokens, also answered as `expires_in`; default 86399 (the documented value). */
  tokenTtlSeconds?: number;
  /** Time the runs of a batch take: they finish staggered over it. Default 1000. */
  executionDurationMs?: number;
  /**
   * The per-(org, user) budget of API calls (IMS and output downloads are not counted). The real
   * numbers are not published; default 60 calls per 60 s.
   */
  rateLimit?: FireflyRateLimit;
  /**
   * Host suffixes an image input's `presignedUrl` must be on (HTTPS only): a host matches when it
   * equals an entry or ends with `.` + entry. Default {@link fireflyDocumentedInputHosts}.
   */
  acceptedInputHosts?: readonly string[];
  /**
   * Also accept `http://` URLs on a loopback host (127.0.0.1, localhost, ::1) whose path or query
   * carries `X-Amz-Signature`, i.e. the pre-signed S3 URLs of the Creative Force simulator. Default
   * false; tests set it.
   */
  allowHttpLoopbackInputs?: boolean;
  /**
   * The `storageType` values an input reference may carry; default `['AWS']`, the specification's
   * only example (its list of values is not documented).
   */
  acceptedStorageTypes?: readonly string[];
  /**
   * The scopes a token request must ask for. Adobe documents the scope list to send, not which of
   * its entries IMS requires, so by default every one of them is required (strict);
   * default {@link fireflyDocumentedScopes}.
   */
  requiredImsScopes?: readonly string[];
  /** Optional pino logger; the simulator is silent by default. */
  logger?: Logger;
}

/** An OAuth Server-to-Server credential of an Adobe Developer Console project, with the IMS identity it acts as. */
export interface FireflyCredential {
  /** The client ID, also the `x-api-key`. */
  clientId: string;
  clientSecret: string;
  /** The IMS org, sent as `x-gw-ims-org-id` (e.g. `A1B2C3D4567890ABCDEFFEDA51@AdobeOrg`). */
  orgId: string;
  /** The IMS user, sent as `x-gw-ims-user-id` (what Adobe expects for S2S credentials is unconfirmed). */
  userId: string;
}

/** The kind of value a workflow input node takes: presigned image URLs (`content: [...]`) or text (`content: "..."`). */
export type FireflyInputKind = 'image' | 'text';

/** A published workflow, runnable by its UUID. */
export interface FireflyWorkflow {
  /** The workflow UUID (`workflow.workflowId` of `POST /batch/execute`). */
  workflowId: string;
  /** The canvas input nodes every run must map, e.g. `node_1775258981781_301b7cc7v_0_j5iaha`. */
  inputNodes: { nodeId: string; kind: FireflyInputKind }[];
  /**
   * The output nodes; each gives one image per run, listed in this order in the run's `outputs[]`.
   * Default one node, `node_output`. How Adobe lists the results of several output nodes is not
   * documented (the specification leaves `outputs` untyped): one entry per node is the simulator's choice.
   */
  outputNodeIds?: string[];
  /** The workflow's display name, answered as `jobName` by `GET /batches`; default the workflow UUID. */
  name?: string;
}

/** A paid batch: one accepted `POST /batch/execute`. */
export interface FireflyBatchRecord {
  batchId: string;
  /** The workflow UUID as sent (the answers echo it as `run-workflow_<uuid>`). */
  workflowId: string;
  /** `workflow.inputs` as received: one array of node input mappings per run. */
  runs: unknown[][];
  /** Acceptance time, epoch milliseconds. */
  at: number;
  /** True once the batch was cancelled. */
  cancelled: boolean;
}
