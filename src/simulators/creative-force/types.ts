/**
 * Public types of the Creative Force simulator: its options, the task scenarios tests seed, and the
 * records tests inspect. The wire shapes themselves come from ../../creative-force/schemas.ts.
 */
import type { Logger } from 'pino';
import type {
  AssetAttributeId,
  GatewayPaths,
  IdListBodies,
  KeepOldAssetReference,
  SharedCallCaps,
  StatusBodyFields,
} from '../../creative-force/contract.ts';
import type { ExpectedOutput, SubmitOutputBody } from '../../creative-force/schemas.ts';
import type { CallLogEntry as BaseCallLogEntry } from '../harness/call-log.ts';
import type { ListenOptions } from '../harness/loopback-server.ts';

export type { FaultMatch, FaultResponse } from '../harness/fault-queue.ts';

/** Options of {@link CreativeForceSimulator.start}; `host` and `port` say where it listens (default 127.0.0.1, a random port). */
export interface CfSimulatorOptions extends ListenOptions {
  /** KNOWN CF limit: token + gateway requests per client IP in any sliding 1-second window; default 20. */
  rateLimitPerSecond?: number;
  /** Lifetime of issued access tokens; default 3600 (KNOWN: one hour). */
  tokenTtlSeconds?: number;
  /** Lifetime of pre-signed S3 URLs (X-Amz-Expires); default 3600. */
  presignedUrlTtlSeconds?: number;
  /** Gateway paths, merged over `defaultGatewayPaths`, so tests of path overrides work. */
  paths?: Partial<GatewayPaths>;
  /** Field names of the Update Process Status body, merged over `defaultStatusBodyFields` (ASSUMED). */
  statusBodyFields?: Partial<StatusBodyFields>;
  /**
   * The other ASSUMED wire forms this instance speaks, merged over `defaultWireForms`: how id
   * lists arrive, the names its answers use for our fields, which field of KeepOldAsset names the
   * earlier output. The simulator accepts only the forms it is given.
   */
  wireForms?: {
    idListBodies?: Partial<IdListBodies>;
    fieldAliases?: Record<string, string>;
    keepOldAssetReference?: KeepOldAssetReference;
  };
  /**
   * The origin (`http://host:port`) the pre-signed S3 URLs it hands out point at; default its own
   * `baseUrl`. A fault test puts a proxy there, so S3 traffic passes it without rewriting bodies.
   */
  publicOrigin?: string;
  /**
   * The most asset ids one bulk-get-assets request and files one pre-signed URL request may carry;
   * default 100 each. The guide documents no limit for either (only bulk-get-files' 100), so the
   * simulator is strict: more is refused, so that a client that shares calls between tasks is seen
   * to keep to its cap.
   */
  sharedCallCaps?: Partial<SharedCallCaps>;
  /** Optional pino logger; the simulator is silent by default. */
  logger?: Logger;
}

/** An input image or video of a seeded task process. */
export interface InputSeed {
  /** Default: a random UUID. */
  assetId?: string;
  positionName?: string | null;
  positionTagId?: string | null;
  assetAttributeId?: AssetAttributeId;
  fileName: string;
  body: Buffer;
}

/** A file (color reference, marking, styling file) served through bulk-get-files. */
export interface FileSeed {
  /** Default: a random UUID. */
  fileId?: string;
  fileName: string;
  body: Buffer;
}

/** An output of an earlier run, to seed a task directly in a rework state. */
export interface OutputAssetSeed {
  /** Default: a random UUID. */
  assetId?: string;
  mappingKeyId: string;
  assetAttributeId?: AssetAttributeId;
  isRejected?: boolean;
  /** The bytes behind the asset, so bulk-get-assets can serve it; default a 1-byte placeholder. */
  fileName?: string;
  body?: Buffer;
}

/** A reviewer annotation of the task (keyed by taskId in CF). */
export interface AnnotationSeed {
  /** Default: a random UUID. */
  annotationId?: string;
  assetId?: string | null;
  comment?: string | null;
  /** A markup image, registered as a file and referenced by `markingFileId`. */
  marking?: { fileName: string; body: Buffer };
}

/** A product of the task's outfit. */
export interface OutfitProductSeed {
  /** Default: a random UUID. */
  productId?: string;
  productCode?: string;
  /** 1 primary, 2+ secondary (KNOWN). */
  roleId: number;
  /** Styling assets served by the styling-assets endpoint for this product. */
  stylingAssets?: { positionTagId?: string | null; fileName: string; body: Buffer }[];
}

/** One expected output (drop box) of a scenario; unspecified flags get the simulator defaults. */
export type SlotSeed = Partial<ExpectedOutput> & { mappingKeyId: string };

/**
 * A task process to seed. Ids default to random UUIDs. Slot defaults: `isRequired` true,
 * `minQuantity` 1, `maxQuantity` 1, no alternates, photo; `isRejected`/`outputAssetIds` are derived
 * from the outputs unless given.
 */
export interface TaskScenario {
  taskProcessId?: string;
  taskId?: string;
  /** The CF workspace GUID (not the OAuth client). */
  clientId?: string;
  clientName?: string;
  productId?: string;
  productCode?: string;
  jobId?: string;
  jobCode?: string;
  /** Default 54. */
  subfunctionId?: number;
  subfunctionName?: string;
  /** Default 25 (Cloud Automation). */
  stepId?: number;
  styleGuideId?: string;
  styleGuideName?: string;
  inputs: InputSeed[];
  colorReferences?: FileSeed[];
  slots: SlotSeed[];
  outputAssets?: OutputAssetSeed[];
  annotations?: AnnotationSeed[];
  /** Set (or implied by `outfitProducts`) to make the task part of an outfit. */
  outfitId?: string;
  outfitProducts?: OutfitProductSeed[];
  /** Extra fields of the product and job records. */
  product?: Record<string, unknown>;
  job?: Record<string, unknown>;
}

/** The ids of a seeded task process. */
export interface SeededTask {
  taskProcessId: string;
  taskId: string;
  clientId: string;
  productId: string;
  jobId: string;
  outfitId: string | null;
  subfunctionId: number;
  stepId: number;
  inputAssetIds: string[];
  colorReferenceFileIds: string[];
  mappingKeyIds: string[];
  outputAssetIds: string[];
  annotationIds: string[];
}

/** A Submit Output request the simulator answered (accepted or refused). */
export interface RecordedSubmission {
  taskProcessId: string;
  at: number;
  /** HTTP status answered: 200 when accepted. */
  status: number;
  /**
   * The parsed JSON body as sent. Accepted submissions always have this shape; a refused one may
   * not (then `error.code` is `ProblemDetails`, and `body` is whatever parsed, or `null`).
   */
  body: SubmitOutputBody;
  /** The exact request body text. */
  rawBody: string;
  /** The JSON the simulator answered. */
  response: unknown;
  /** The error returned, for refused submissions; `null` for accepted ones. */
  error: { code: string; message: string } | null;
}

/** A pre-signed upload URL request that was answered 200. */
export interface PresignCall {
  /** The workspace the URLs were minted for. */
  clientId: string;
  /** The localIds sent, in order. */
  localIds: string[];
  /** The temp assets minted (the files not in errorFiles). */
  tempAssetIds: string[];
  at: number;
}

/** An Update Process Status call. */
export interface StatusUpdate {
  taskProcessId: string;
  status: string;
  message: string;
  at: number;
}

/** One token or gateway request. `status` 0 means the client went away before an answer. */
export interface CallLogEntry extends BaseCallLogEntry {
  /** The client's IP address (IPv4-mapped IPv6 normalized to IPv4), as the rate limiter keys it. */
  clientIp: string;
}

/** The output of a task process as CF holds it after accepted submissions. */
export interface StoredOutput {
  assetId: string;
  fileId: string;
  mappingKeyId: string;
  assetAttributeId: number;
  isRejected: boolean;
  contentType: string;
}

/** Handle of a held Submit Output request, see `holdSubmissions`. */
export interface SubmissionHold {
  /** Resolves with the taskProcessId when a submit-output request is being held. */
  arrived: Promise<string>;
  /** Lets the held request be validated and answered (no effect if the client already left). */
  release(): void;
}
