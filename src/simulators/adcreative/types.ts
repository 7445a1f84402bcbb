/**
 * Public types of the AdCreative.ai simulator: its options, the applications tests register, and
 * the records tests inspect.
 */
import type { Logger } from 'pino';
import type { ListenOptions } from '../harness/loopback-server.ts';
import type { GenerationKind } from './features.ts';
import type { ImageFeatureWireOptions } from './image-feature-wire.ts';

export type { CallLogEntry } from '../harness/call-log.ts';
export type { FaultMatch, FaultResponse } from '../harness/fault-queue.ts';

/** Options of `AdCreativeSimulator.start`; `host` and `port` say where it listens (default 127.0.0.1, a random port). */
export interface AdCreativeSimulatorOptions extends ListenOptions {
  /** Lifetime of access tokens; default 3_600_000 (not documented by AdCreative). Refresh tokens live 7 days longer. */
  accessTokenTtlMs?: number;
  /** Time a process takes to finish; its tasks finish staggered over it. Default 1500. */
  taskDurationMs?: number;
  /** Largest accepted image upload; default 12 MiB (the documented Product Photoshoot limit), for every upload endpoint. */
  maxUploadBytes?: number;
  /**
   * Where and under which names the Background Remover, Image Upscaler and Face Enhancer are served
   * (not documented in the simulator's source; see image-feature-wire.ts). Default: the paths of
   * `adCreativeSimulatorPaths`, the process as `imageRenderProcessId`, the Photoshoot's names.
   */
  imageFeatureWire?: ImageFeatureWireOptions;
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
