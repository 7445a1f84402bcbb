/**
 * The AdCreative.ai client of one connection: Product Photoshoot, Background Remover, Image
 * Upscaler and Face Enhancer (docs/providers/adcreative.md).
 *
 * Every call sends `Authorization: Bearer <JWT>`, `x-api-key`, `x-api-secret` and
 * `Accept: application/json`, runs under a whole-request deadline (config `requestTimeoutMs`, body
 * included, combined with the caller's signal), reads or streams its body to the end, and parses
 * 2xx JSON with the zod schemas of schemas.ts. The one retry here is after a 401: AdCreative did
 * not process the request, so it is sent once more with a fresh JWT. Everything else is raised as a
 * ConnectorError (errors.ts) for the job layer: a start call is never repeated blindly.
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { type Dispatcher, FormData } from 'undici';
import { z } from 'zod';
import { ConnectorError } from '../../errors.ts';
import { authorizedCall, type Consume, readText, writeBeside } from '../../http/provider-request.ts';
import { sharedDispatcher } from '../../http/shared-agent.ts';
import type { StartClaims } from '../start-claims.ts';
import type { AdCreativeConfig, AdCreativeImageJobNames, AdCreativeJobPaths, AdCreativePaths } from './config.ts';
import {
  type AdCreativeExchange,
  adCreativeProvider,
  badResponse,
  parseShape,
  readJson,
  statusError,
  transportError,
} from './errors.ts';
import type { AdCreativeJwtConnection, AdCreativeJwtProvider } from './jwt-store.ts';
import {
  type AdCreativePreset,
  presetKeysResponseSchema,
  progressEntryIdSchema,
  type Recommendations,
  type RenderProgress,
  recommendationsResponseSchema,
  renderProgressSchema,
} from './schemas.ts';

const progressListSchema = z.array(renderProgressSchema);

/** The AdCreative credentials of one connection (all issued by AdCreative; `userId` may be any fixed GUID). */
export interface AdCreativeCredentials {
  applicationId: string;
  jwtPrivateKey: string;
  apiKey: string;
  apiSecret: string;
  userId: string;
}

/** Dependencies of an AdCreativeClient. */
export interface AdCreativeClientOptions {
  /** Our id of the connection; names it in logs and keys its cached JWT. */
  connectionId: string;
  credentials: AdCreativeCredentials;
  config: AdCreativeConfig;
  /** The JWT source shared by every client (AdCreativeJwtStore). */
  jwt: AdCreativeJwtProvider;
  /** The paid work the connection's starts have claimed, shared by every process (lost-start.ts). */
  claims: StartClaims;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  logger: Logger;
}

/** The single-image features: multipart start, then progress and download like Product Photoshoot. */
export type ImageJobKind = 'background-remove' | 'upscale' | 'face-enhance';
/** Every asynchronous job kind. */
export type JobKind = 'photoshoot' | ImageJobKind;

/** An image file to upload. AdCreative takes JPEG and PNG (Product Photoshoot: at most 12 MB). */
export interface AdCreativeImage {
  path: string;
  /** The file name sent in the multipart part. */
  fileName: string;
  contentType: 'image/jpeg' | 'image/png';
}

/** One scene of a photoshoot: a preset id from PresetKeys / Recommendations, or a free prompt. */
export type PhotoshootPrompt = { tag: 'preset'; preset: string } | { tag: 'custom'; prompt: string };

/** The most prompts one photoshoot takes (each yields one image). */
export const maxPhotoshootPrompts = 6;

/** The form of Product Photoshoot `AdCreative`. */
export interface PhotoshootRequest {
  /** `backgroundRemovedImageAssetId` of Recommendations. */
  productImageAssetId: string;
  /** 1 to maxPhotoshootPrompts prompts. */
  prompts: PhotoshootPrompt[];
  /** RenderKind; Product Photoshoot accepts 0, 1, 2, 4, 8, 16, 31, 32, 64, 128, 256, 512, 992, 1023. */
  renderKind: number;
  productName: string;
  productDescription: string;
  /** True: exactly 1200×628 instead of 1674×628 with safe margins. AdCreative's default when omitted: false. */
  disableSafeMargin?: boolean;
  /** Use the preset's preview image as style reference. AdCreative's default when omitted: true. */
  useSameStyleReferenceImage?: boolean;
}

/** What a face enhancement takes besides the image (AdCreative's defaults apply to what is left out). */
export interface FaceEnhanceSettings {
  /** 0–1: the ratio for face enhancement area adjustment (AdCreative's default 0.5). */
  areaRatio?: number;
  /** The most faces enhanced (AdCreative's default 10). */
  maxFaceCount?: number;
}

/** Which result to download. */
export interface DownloadRequest {
  processId: string;
  taskId: string;
  /** High-resolution PNG as generated, or JPEG converted from it. */
  format: 'png' | 'jpeg';
}

/** A downloaded result. */
export interface DownloadedFile {
  path: string;
  bytes: number;
}

/** Where each job kind's paths live in the configuration. */
const jobPathKeys = {
  photoshoot: 'photoshoot',
  'background-remove': 'backgroundRemove',
  upscale: 'upscale',
  'face-enhance': 'faceEnhance',
} as const satisfies Record<JobKind, keyof AdCreativePaths>;

/** Download `format` values: 0 PNG, 1 JPEG (2 PDF is not offered). */
const downloadFormats = { png: '0', jpeg: '1' } as const;

/** The names of the Product Photoshoot's calls, all documented ("Product Photoshoot API"). */
const photoshootNames: Pick<AdCreativeImageJobNames, 'applicationId' | 'userId' | 'taskId' | 'lowResolution' | 'format'> = {
  applicationId: 'applicationId',
  userId: 'userId',
  taskId: 'taskId',
  lowResolution: 'lowResolution',
  format: 'format',
};

interface CallSpec {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  /** Multipart body, built again for each attempt (a file part is a Blob read from disk each time). */
  form?: () => Promise<FormData>;
}

/** Typed calls of the AdCreative API for one connection. */
export class AdCreativeClient {
  readonly connectionId: string;
  /** The paid work the connection's starts have claimed. */
  readonly claims: StartClaims;
  readonly #credentials: AdCreativeCredentials;
  readonly #jwtConnection: AdCreativeJwtConnection;
  readonly #config: AdCreativeConfig;
  readonly #jwt: AdCreativeJwtProvider;
  readonly #dispatcher: Dispatcher;
  readonly #logger: Logger;

  constructor(options: AdCreativeClientOptions) {
    const { connectionId, credentials } = options;
    this.connectionId = connectionId;
    this.claims = options.claims;
    this.#credentials = credentials;
    this.#jwtConnection = {
      id: connectionId,
      applicationId: credentials.applicationId,
      jwtPrivateKey: credentials.jwtPrivateKey,
    };
    this.#config = options.config;
    this.#jwt = options.jwt;
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    this.#logger = options.logger.child({ provider: adCreativeProvider, connectionId });
  }

  /** The connection's AdCreative user: every start and progress call is made for it. */
  get userId(): string {
    return this.#credentials.userId;
  }

  /** Product Photoshoot preset styles (`PresetKeys`). */
  presetKeys(signal?: AbortSignal): Promise<AdCreativePreset[]> {
    const { applicationId, userId } = this.#credentials;
    const spec: CallSpec = { method: 'GET', path: this.#config.paths.photoshoot.presetKeys, query: { applicationId, userId } };
    return this.#json(presetKeysResponseSchema, spec, signal);
  }

  /**
   * Product Photoshoot step 1: uploads the product photo (streamed from disk); AdCreative removes
   * the background and suggests a product name, description, prompts and presets.
   */
  recommendations(image: AdCreativeImage, signal?: AbortSignal): Promise<Recommendations> {
    const path = this.#config.paths.photoshoot.recommendations;
    const spec: CallSpec = {
      method: 'POST',
      path,
      form: () => this.#form(photoshootNames, {}, { field: 'productImage', image }),
    };
    return this.#json(recommendationsResponseSchema, spec, signal);
  }

  /**
   * Product Photoshoot step 2: starts the generation (one image per prompt).
   *
   * @throws ConnectorError PROVIDER_REJECTED before any call when the prompt count is not 1..6.
   */
  async startPhotoshoot(photoshoot: PhotoshootRequest, signal?: AbortSignal): Promise<RenderProgress> {
    const { prompts } = photoshoot;
    if (prompts.length < 1 || prompts.length > maxPhotoshootPrompts) {
      throw new ConnectorError(
        'PROVIDER_REJECTED',
        `an AdCreative photoshoot takes 1 to ${maxPhotoshootPrompts} prompts, not ${prompts.length}`,
        { details: { provider: adCreativeProvider, prompts: prompts.length } },
      );
    }
    const promptObjects = prompts.map((p) =>
      p.tag === 'preset' ? { tag: 'preset', preset: p.preset } : { tag: 'custom', prompt: p.prompt, nativeLanguagePrompt: null },
    );
    const fields: Record<string, string> = {
      renderKind: String(photoshoot.renderKind),
      productImageAssetId: photoshoot.productImageAssetId,
      PromptObjectsString: JSON.stringify(promptObjects),
      productName: photoshoot.productName,
      productDescription: photoshoot.productDescription,
    };
    if (photoshoot.disableSafeMargin !== undefined) fields.DisableSafeMargin = String(photoshoot.disableSafeMargin);
    if (photoshoot.useSameStyleReferenceImage !== undefined) {
      fields.UseSameStyleReferenceImage = String(photoshoot.useSameStyleReferenceImage);
    }
    const spec: CallSpec = {
      method: 'POST',
      path: this.#config.paths.photoshoot.start,
      form: () => this.#form(photoshootNames, fields),
    };
    return this.#json(renderProgressSchema, spec, signal);
  }

  /**
   * Starts a background removal, upscale or face enhancement of one image, with the form names of
   * `config.imageJobNames`. `face` applies to face-enhance only (`ariaRatio`, `maxFaceCount`).
   */
  startImageJob(
    kind: ImageJobKind,
    image: AdCreativeImage,
    face: FaceEnhanceSettings = {},
    signal?: AbortSignal,
  ): Promise<RenderProgress> {
    const names = this.#config.imageJobNames;
    const fields: Record<string, string> = {};
    if (kind === 'face-enhance') {
      if (face.areaRatio !== undefined) fields[names.ariaRatio] = String(face.areaRatio);
      if (face.maxFaceCount !== undefined) fields[names.maxFaceCount] = String(face.maxFaceCount);
    }
    const spec: CallSpec = {
      method: 'POST',
      path: this.#paths(kind).start,
      form: () => this.#form(names, fields, { field: names.uploadedImage, image }),
    };
    return this.#json(renderProgressSchema, spec, signal);
  }

  /**
   * The progress of one process. CheckUserProgress answers an array (a single object is accepted
   * too); the entry of `processId` is picked.
   *
   * @throws ConnectorError PROVIDER_BAD_RESPONSE when no entry is about `processId`.
   */
  async progress(kind: JobKind, processId: string, signal?: AbortSignal): Promise<RenderProgress> {
    const paths = this.#paths(kind);
    const names = this.#names(kind);
    const query = { [names.userId]: this.#credentials.userId, [paths.processIdParam]: processId };
    const { exchange, status, value } = await this.#call(
      { method: 'GET', path: paths.checkUserProgress, query },
      signal,
      readText,
    );
    const json = readJson(exchange, status, value);
    const wanted = processId.toLowerCase();
    const entry = (Array.isArray(json) ? json : [json]).find(
      (item) => progressEntryIdSchema.safeParse(item).data?.imageRenderProcessId.toLowerCase() === wanted,
    );
    if (entry === undefined) {
      throw badResponse(exchange, status, `with no entry whose imageRenderProcessId is ${processId}`, { processId });
    }
    return parseShape(renderProgressSchema, exchange, status, entry);
  }

  /**
   * Every process of a kind in the application, of all its users (`CheckApplicationAllProgresses`:
   * "the progress of all user-level image generations within a specific application"). An array
   * is documented; a single object is accepted too.
   */
  async allProgresses(kind: JobKind, signal?: AbortSignal): Promise<RenderProgress[]> {
    const query = { [this.#names(kind).applicationId]: this.#credentials.applicationId };
    const { exchange, status, value } = await this.#call(
      { method: 'GET', path: this.#paths(kind).allProgresses, query },
      signal,
      readText,
    );
    const json = readJson(exchange, status, value);
    return parseShape(progressListSchema, exchange, status, Array.isArray(json) ? json : [json]);
  }

  /**
   * Streams one task's high-resolution image to `destPath` (its directory must exist) through a
   * temporary file beside it, so `destPath` only ever holds a complete file.
   */
  async download(kind: JobKind, task: DownloadRequest, destPath: string, signal?: AbortSignal): Promise<DownloadedFile> {
    const paths = this.#paths(kind);
    const names = this.#names(kind);
    const query = {
      [names.applicationId]: this.#credentials.applicationId,
      [names.taskId]: task.taskId,
      [paths.processIdParam]: task.processId,
      [names.lowResolution]: 'false',
      [names.format]: downloadFormats[task.format],
    };
    return writeBeside(destPath, async (tempPath) => {
      const {
        exchange,
        status,
        value: bytes,
      } = await this.#call({ method: 'GET', path: paths.download, query }, signal, async (body, attemptSignal) => {
        const file = createWriteStream(tempPath, { flags: 'wx' });
        await pipeline(body, file, { signal: attemptSignal });
        return file.bytesWritten;
      });
      if (bytes === 0) throw badResponse(exchange, status, 'with an empty image');
      return { path: destPath, bytes };
    });
  }

  #paths(kind: JobKind): AdCreativeJobPaths {
    return this.#config.paths[jobPathKeys[kind]];
  }

  /** The names of a kind's calls: the Photoshoot's documented ones, or the configured ones of the image features. */
  #names(kind: JobKind): typeof photoshootNames {
    return kind === 'photoshoot' ? photoshootNames : this.#config.imageJobNames;
  }

  /** A multipart body: applicationId, userId (under `names`), the fields, and the image (a Blob streamed from its file). */
  async #form(
    names: Pick<AdCreativeImageJobNames, 'applicationId' | 'userId'>,
    fields: Record<string, string>,
    file?: { field: string; image: AdCreativeImage },
  ): Promise<FormData> {
    const form = new FormData();
    form.append(names.applicationId, this.#credentials.applicationId);
    form.append(names.userId, this.#credentials.userId);
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    if (file) {
      const { field, image } = file;
      form.append(field, await openAsBlob(image.path, { type: image.contentType }), image.fileName);
    }
    return form;
  }

  async #json<S extends z.ZodType>(schema: S, spec: CallSpec, signal: AbortSignal | undefined): Promise<z.output<S>> {
    const { exchange, status, value } = await this.#call(spec, signal, readText);
    return parseShape(schema, exchange, status, readJson(exchange, status, value));
  }

  /**
   * Sends an authorized call and hands a 2xx body to `consume`; any other answer becomes a
   * ConnectorError, after one retry with a fresh JWT on the first 401.
   */
  async #call<T>(
    spec: CallSpec,
    signal: AbortSignal | undefined,
    consume: Consume<T>,
  ): Promise<{ exchange: AdCreativeExchange; status: number; value: T }> {
    const exchange: AdCreativeExchange = { method: spec.method, path: spec.path };
    const query = spec.query ? `?${new URLSearchParams(spec.query)}` : '';
    const { apiKey, apiSecret, jwtPrivateKey } = this.#credentials;
    const { status, value } = await authorizedCall({
      url: `${this.#config.baseUrl}${spec.path}${query}`,
      method: spec.method,
      exchange,
      dispatcher: this.#dispatcher,
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      tokens: {
        getToken: (tokenSignal) => this.#jwt.getToken(this.#jwtConnection, tokenSignal),
        invalidate: (token) => this.#jwt.invalidate(this.connectionId, token),
      },
      headers: (token) => ({
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        'x-api-key': apiKey,
        'x-api-secret': apiSecret,
      }),
      body: spec.form,
      consume,
      transportError,
      logger: this.#logger,
      renewMessage: 'AdCreative refused the JWT (401); renewing it once',
      statusError: (response, token) =>
        statusError(this.#logger, exchange, response, { secrets: [apiKey, apiSecret, jwtPrivateKey, token] }),
    });
    return { exchange, status, value };
  }
}
