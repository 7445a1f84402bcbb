/**
 * The one interface every way of producing outputs implements: the local sharp conversion, and the
 * recipes of each AI provider module (provider-module.ts). The cycle asks `cannotFill` before any
 * paid or slow work, so a slot a recipe cannot fill fails before money is spent.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { AssetAttributeId } from '../creative-force/contract.ts';
import type { ExpectedOutput, OutputAsset, ProcessDetail, WebhookPayload } from '../creative-force/schemas.ts';

/** Extra context a recipe may ask step 4 to fetch. Nothing is fetched unless declared. */
export interface ContextNeeds {
  colorReferences?: boolean;
  product?: boolean;
  job?: boolean;
  /** The outfit's products and the styling files of its secondary products (when the task has an outfit). */
  outfit?: boolean;
  /** On a rework: the reviewers' comments and marking images. */
  annotations?: boolean;
}

/** A file on local disk under the cycle's work directory. */
export interface LocalFile {
  /** Absolute path. */
  path: string;
  fileName: string;
  bytes: number;
}

/**
 * Where a file is at the provider that made it, for a later recipe of the same provider that can
 * start from it there instead of from an upload (a Sartiq video from a prediction). Set only when
 * the file is exactly that work's result, unchanged.
 */
export interface ProviderSource {
  provider: string;
  /** The provider's id of the work whose result the file is (a Sartiq prediction id). */
  id: string;
}

/**
 * An input of a recipe: an input asset of the task, downloaded; or, in a pipeline or a route that
 * takes another slot's still, a file an earlier stage produced (its `assetId` then names the stage
 * and the file, its position is the slot's).
 */
export interface InputFile extends LocalFile {
  assetId: string;
  positionName: string | null;
  positionTagId: string | null;
  /** For a file an earlier stage produced: where it is at its provider, when it is that work's result. */
  source?: ProviderSource;
}

/** A reviewer's annotation on an earlier output: the comment, and the marking drawn over it. */
export interface ReviewerNote {
  annotationId: string;
  /** The output asset the note is about, when Creative Force says. */
  assetId: string | null;
  comment: string | null;
  /** The marking image (the reviewer's drawing over the asset), downloaded. */
  marking: LocalFile | null;
}

/** The outfit of the task's product: who is in it, and the styling files of the secondary products. */
export interface OutfitContext {
  outfitId: string;
  /** roleId 1 is the primary product, 2 and above secondary styling products. */
  products: { productId: string; roleId: number }[];
  /** The best styling file per (secondary product, position), downloaded. */
  stylingFiles: (LocalFile & { productId: string; positionTagId: string | null })[];
}

/**
 * An input asset handed over as Creative Force's own pre-signed S3 GET URL instead of a file, for
 * services that fetch their inputs themselves. The URL is fresh for this attempt, never saved.
 */
export interface InputUrl {
  assetId: string;
  fileName: string;
  positionName: string | null;
  positionTagId: string | null;
  url: string;
}

/** What step 4 gathered; fields are present only when the recipe declared the need. */
export interface TaskContext {
  event: WebhookPayload;
  colorReferences?: LocalFile[];
  product?: Record<string, unknown>;
  job?: Record<string, unknown>;
  outfit?: OutfitContext;
  /** Present on a rework when the recipe declared the need (empty when reviewers left none). */
  annotations?: ReviewerNote[];
}

/** A produced file, ranked: earlier files are better candidates for the main places of a slot. */
export interface ProducedFile extends LocalFile {
  contentType: string;
  kind: 'photo' | 'video';
  /** Set when the recipe itself decides the attribute (e.g. a resource file); else the planner does. */
  assetAttributeId?: AssetAttributeId;
  /** Where the file is at its provider, when it is exactly one work's result (see ProviderSource). */
  source?: ProviderSource;
}

/** The kind of files a recipe produces (`either`: it depends on the work, e.g. a Firefly workflow). */
export type ProducedKind = ProducedFile['kind'] | 'either';

/** What the cycle asks a recipe to produce for one slot. */
export interface SlotRequest {
  slot: ExpectedOutput;
  /**
   * How many files the slot needs. More are welcome on a first pass: the best-ranked fill the
   * main places and the rest become alternates where the slot allows them.
   */
  count: number;
  /** On a rework, the rejected earlier outputs the new files replace, in order; else empty. */
  replaces: OutputAsset[];
}

/** Paid work of a cycle, as the task history keeps it. */
export interface PaidWork {
  provider: string;
  what: string;
  id: string;
  /** A lost start found and adopted: not paid again. */
  adopted: boolean;
}

/**
 * Durable memory of a recipe, saved in the job before `set` resolves. A paid generation records its
 * id here before polling, so a retry after a crash or timeout resumes it instead of paying again,
 * and its intent before the start call (paid-start.ts), so a retry that never saw the answer looks
 * for the work first.
 */
export interface RecipeMemory {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown): Promise<void>;
}

/** What a recipe runs with. `Client` is its provider's client (see Recipe.provider). */
export interface RecipeRun<Options, Client = unknown> {
  detail: ProcessDetail;
  /** The slots this run must produce for; slots kept as they were on a rework are not listed. */
  requests: SlotRequest[];
  /** The downloaded inputs; empty for a recipe that takes its inputs as URLs. */
  inputs: InputFile[];
  /** For a recipe with `inputsAs: 'urls'`: the inputs (and, when declared, color references) as URLs. */
  inputUrls: InputUrl[];
  colorReferenceUrls: { fileId: string; fileName: string; url: string }[];
  context: TaskContext;
  options: Options;
  /** Directory where the recipe writes its outputs; it exists and is removed with the cycle. */
  outputDir: string;
  memory: RecipeMemory;
  /** The client of the recipe's provider for the task's connection; undefined for a recipe without one. */
  client: Client;
  /** True on the cycle's last attempt: a recipe that gives up now may release what it holds. */
  finalAttempt: boolean;
  /** Tells the task history of paid work started or adopted (startPaidWork calls it). */
  paidWork(work: PaidWork): Promise<void>;
  signal: AbortSignal;
  logger: Logger;
}

/** A recipe of a provider module: it names the provider (`Id`) and runs with its `Client`. */
export type ProviderRecipe<Options, Client, Id extends string = string> = Recipe<Options, Client> & { readonly provider: Id };

/** Produced files per slot, keyed by mappingKeyId. */
export type RecipeResult = Map<string, ProducedFile[]>;

export interface Recipe<Options = unknown, Client = unknown> {
  /** The name used in the connections file (`recipe: convert`). */
  readonly name: string;
  /** Validates the `options` of a subfunction when the configuration is loaded. */
  readonly optionsSchema: z.ZodType<Options>;
  needs(options: Options): ContextNeeds;
  /**
   * `urls`: the service fetches inputs itself from Creative Force's pre-signed URLs, so step 3
   * resolves them without downloading. Default `files`.
   */
  readonly inputsAs?: 'files' | 'urls';
  /**
   * The id of the provider module whose section the connection must configure to use this recipe;
   * the recipe then runs with that provider's client. None for a recipe that needs no provider.
   */
  readonly provider?: string;
  /**
   * What the recipe produces. Every recipe works from photos, so in a pipeline a stage that
   * produces video can only be the last (checked when the configuration loads).
   */
  readonly produces: ProducedKind;
  /** Returns a reason when this recipe cannot fill the slot (e.g. a video slot for a photo recipe). */
  cannotFill(slot: ExpectedOutput, options: Options): string | null;
  /**
   * How many paid provider operations running `requests` starts, counted before anything runs:
   * each start a provider bills (a generation, a render, a workflow run), as the recipe makes
   * them on a first attempt. Uploads, polls and downloads are not counted. `cf-ai-connector
   * preview` asks for `--yes` when this is not 0.
   */
  paidCalls(requests: readonly SlotRequest[], options: Options): number;
  run(run: RecipeRun<Options, Client>): Promise<RecipeResult>;
}
