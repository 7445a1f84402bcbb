/**
 * Public types of the Sartiq simulator: its options, the accounts tests register, and the records
 * tests inspect.
 */
import type { Logger } from 'pino';
import type { ListenOptions } from '../harness/loopback-server.ts';

export type { CallLogEntry } from '../harness/call-log.ts';
export type { FaultMatch, FaultResponse } from '../harness/fault-queue.ts';

/** Options of `SartiqSimulator.start`; `host` and `port` say where it listens (default 127.0.0.1, a random port). */
export interface SartiqSimulatorOptions extends ListenOptions {
  /** Lifetime of access tokens, also answered as `expires_in`; default 3600 (the documented hour). */
  tokenTtlSeconds?: number;
  /** Time the predictions of a generation take; they finish staggered over it. Default 1000. */
  predictionDurationMs?: number;
  /** Optional pino logger; the simulator is silent by default. */
  logger?: Logger;
}

/** A Sartiq user (the service account of one tenant). */
export interface SartiqAccount {
  /** The login `username`. */
  email: string;
  password: string;
  /** An organization (UUID) the user belongs to: `organization_id` may name it. */
  organizationId?: string;
}

/** The creation endpoint of a generation, as the last segment of its path. */
export type GenerationEndpoint =
  | 'generations'
  | 'agentic'
  | 'edits'
  | 'background-fix'
  | 'image-adjuster'
  | 'face-fixer'
  | 'refines'
  | 'videos';

/** A paid generation the simulator created. */
export interface GenerationRecord {
  /** The generation id answered. */
  id: string;
  endpoint: GenerationEndpoint;
  /** The JSON request body as sent (for refines, the whole request that created this generation). */
  body: Record<string, unknown>;
  /** Creation time, epoch milliseconds. */
  at: number;
}

/** A refine of a prediction the simulator created (a paid call that creates no generation). */
export interface RefineRecord {
  /** The refine id answered. */
  id: string;
  predictionId: string;
  /** Creation time, epoch milliseconds. */
  at: number;
}

/** A file a client PUT to a presigned upload URL. */
export interface UploadRecord {
  /** The file name the presigned URL was asked for (sanitized as in the stored key). */
  fileName: string;
  /** The `content_type` declared when asking for the URL, which the PUT sent. */
  contentType: string;
  bytes: number;
}
