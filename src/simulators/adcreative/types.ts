/**
 * Public types of the AdCreative.ai simulator: its options, the applications tests register, and
 * the records tests inspect.
 */
import type { Logger } from 'pino';
import type { GenerationKind } from './features.ts';

/** Options of `AdCreativeSimulator.start`. */
export interface AdCreativeSimulatorOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port; default `0` (a random free port). */
  port?: number;
  /** Lifetime of access tokens; default 3_600_000 (not documented by AdCreative). Refresh tokens live 7 days longer. */
  accessTokenTtlMs?: number;
  /** Time a process takes to finish; its tasks finish staggered over it. Default 1500. */
  taskDurationMs?: number;
  /** Largest accepted image upload; default 12 MiB (the documented Product Photoshoot limit), for every upload endpoint. */
  maxUploadBytes?: number;
  /** Optional pino logger; the simulator is silent by default. */
  logger?: Logger;
}

/** The credentials AdCreative issues to an integrator. */
export interface AdCreativeApplication {
  /** A GUID, as AdCreative issues them. */
  applicationId: string;
  jwtPrivateKey: string;
  apiKey: string;
  apiSecret: string;
  /** Credits left; default 1000. Each accepted start costs one. */
  credits?: number;
}

/** A paid start the simulator accepted. */
export interface GenerationRecord {
  kind: GenerationKind;
  /** The `imageRenderProcessId` answered. */
  processId: string;
  at: number;
  /** The text fields of the multipart form, with the names as sent. */
  form: Record<string, string>;
}

/** A file part the simulator read from an upload request (accepted or refused for its format). */
export interface UploadRecord {
  path: string;
  fileName: string;
  /** The part's declared Content-Type. */
  contentType: string;
  bytes: number;
  /** The format sharp detects from the bytes (`jpeg`, `png`, `tiff`, ...), `null` when none. */
  format: string | null;
}

/** A successful Download call. */
export interface DownloadRecord {
  kind: GenerationKind;
  processId: string;
  taskId: string;
  /** The `format` query value: 0 PNG, 1 JPEG, 2 PDF. */
  format: number;
}

/** One HTTP request. `status` 0 means the client went away before an answer. */
export interface CallLogEntry {
  at: number;
  method: string;
  path: string;
  status: number;
}

/** Which requests a fault applies to: method (any when omitted) and a substring of the path. */
export interface FaultMatch {
  method?: string;
  pathIncludes: string;
}

/** What an injected fault answers: a JSON body unless `body` is a string or Buffer. */
export interface FaultResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
