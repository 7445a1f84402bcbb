/**
 * The Creative Force gateway client of one connection (one studio's OAuth credentials).
 *
 * Every call: waits for the shared rate limiter, sends `Authorization: Bearer` with the connection's
 * cached token, runs under a whole-request deadline (config `requestTimeoutMs`, combined with the
 * caller's signal), reads the whole body, and parses 2xx bodies with the zod schemas of schemas.ts.
 * Retries happen here only where the request certainly was not processed by CF:
 * - 401: the token is dropped, a fresh one fetched, and the request sent once more;
 * - 429: all processes pause through the limiter, then the request is sent again (max 5 times).
 * Everything else (5xx, timeouts, network errors) is raised as a retryable ConnectorError for the
 * job layer to retry the step: a write such as submit-output is never repeated blindly here.
 *
 * bulk-get-assets and the pre-signed URL call go through `shared` when it is given: cycles waiting
 * on them at the same time share one request (shared-calls.ts). Either way no request carries more
 * than the configured caps (CF_BULK_GET_ASSETS_MAX_IDS, CF_PRESIGN_MAX_FILES).
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import type { AppConfig } from '../config/env.ts';
import { type BearerTokens, sendWithTokenRenewal } from '../http/token-renewal.ts';
import { bulkGetFilesLimit, fillPath, outputPhysicalFileTypeId } from './contract.ts';
import {
  type CreativeForceMetrics,
  type HttpDeps,
  type HttpExchange,
  type HttpResponse,
  parseResponse,
  sendThroughLimiter,
  sharedDispatcher,
  statusError,
} from './http.ts';
import type { RateLimiter, RateLimitGrant } from './rate-limiter.ts';
import {
  type Annotation,
  type AssetUrl,
  annotationsResponseSchema,
  bulkGetAssetsResponseSchema,
  bulkGetFilesResponseSchema,
  type FileUrl,
  looseRecordSchema,
  type outfitProductSchema,
  outfitProductsResponseSchema,
  type PresignResponse,
  type ProcessDetail,
  presignResponseSchema,
  processDetailSchema,
  type SubmitOutputBody,
  type SubmitResponse,
  type stylingAssetSchema,
  stylingAssetsResponseSchema,
  submitResponseSchema,
} from './schemas.ts';
import type { BodyOnGrant, PresignFile, SharedCalls, SharedCallTransport } from './shared-calls.ts';
import type { ConnectionCredentials, TokenProvider } from './token-store.ts';
import { idListBody, withKeepOldAssetReference } from './wire-forms.ts';

/** A product of an outfit; `roleId` 1 is the primary product, 2+ secondary (KNOWN). */
export type OutfitProduct = z.infer<typeof outfitProductSchema>;
/** A styling file of a secondary outfit product (ASSUMED shape). */
export type StylingAsset = z.infer<typeof stylingAssetSchema>;

export type { PresignFile } from './shared-calls.ts';

/** Dependencies of a CreativeForceClient. */
export interface CreativeForceClientOptions {
  connection: ConnectionCredentials;
  config: AppConfig['cf'];
  /** The limiter shared by every process (per-IP limit). */
  limiter: RateLimiter;
  tokens: TokenProvider;
  /** Default: the shared undici Agent. */
  dispatcher?: Dispatcher;
  logger: Logger;
  /** 429 answers retried after the limiter's pause before CF_RATE_LIMITED. Default 5. */
  maxRateLimitRetries?: number;
  /** Counts the requests (by operation and status) and the limiter's waits. */
  metrics?: CreativeForceMetrics;
  /** Shares bulk-get-assets and pre-signed URL calls with other cycles; unset: every call is the cycle's own. */
  shared?: SharedCalls | undefined;
}

interface CallSpec {
  /** The operation, as metrics name it: the method of this client. */
  operation: string;
  method: 'GET' | 'POST' | 'PUT';
  /** A gateway path, already filled (see fillPath). */
  path: string;
  body?: unknown;
  /** A body decided once the limiter grants the slot (instead of `body`); see BodyOnGrant. */
  bodyOnGrant?: BodyOnGrant<unknown>;
}

/** Thrown through the limiter when a body on grant finds nothing to ask: no request is sent. */
class NothingToSend extends Error {}

/** `list` in consecutive pieces of at most `size`. */
function chunks<T>(list: readonly T[], size: number): T[][] {
  const pieces: T[][] = [];
  for (let start = 0; start < list.length; start += size) pieces.push(list.slice(start, start + size));
  return pieces;
}

/** The limiter, running `onGrant` once, after the first slot it grants (a 401 or 429 resend asks again). */
function afterFirstGrant(limiter: RateLimiter, onGrant: () => Promise<void>): RateLimiter {
  let granted: Promise<void> | undefined;
  return {
    acquire: async (signal?: AbortSignal): Promise<RateLimitGrant> => {
      const grant = await limiter.acquire(signal);
      granted ??= onGrant();
      await granted;
      return grant;
    },
    onRateLimited: (retryAfterMs) => limiter.onRateLimited(retryAfterMs),
    onSuccess: () => limiter.onSuccess(),
  };
}

/** Typed calls of the Creative Force gateway for one connection. */
export class CreativeForceClient implements SharedCallTransport {
  readonly connectionId: string;
  readonly #config: AppConfig['cf'];
  /** Redacted from logged error bodies, in case Creative Force echoes it. */
  readonly #clientSecret: string;
  /** The connection's cached tokens. */
  readonly #bearer: BearerTokens;
  readonly #logger: Logger;
  readonly #deps: HttpDeps;
  readonly #shared: SharedCalls | undefined;

  constructor(options: CreativeForceClientOptions) {
    this.connectionId = options.connection.id;
    const { connection, tokens } = options;
    this.#config = options.config;
    this.#clientSecret = connection.clientSecret;
    this.#bearer = {
      getToken: (signal) => tokens.getToken(connection, signal),
      invalidate: (token) => tokens.invalidate(connection.id, token),
    };
    this.#logger = options.logger.child({ connectionId: options.connection.id });
    this.#deps = {
      dispatcher: options.dispatcher ?? sharedDispatcher(),
      limiter: options.limiter,
      logger: this.#logger,
      timeoutMs: options.config.requestTimeoutMs,
      maxRateLimitRetries: options.maxRateLimitRetries ?? 5,
      metrics: options.metrics,
    };
    this.#shared = options.shared;
  }

  /** Step 2: the process detail (inputs, expected outputs, rework state). */
  async getProcessDetail(taskProcessId: string, signal?: AbortSignal): Promise<ProcessDetail> {
    const path = fillPath(this.#config.paths.processDetail, { taskProcessId });
    return this.#json(processDetailSchema, { operation: 'getProcessDetail', method: 'GET', path }, signal);
  }

  /** Step 3: pre-signed download URLs of input assets, in requests of at most the cap. An empty list makes no call. */
  async bulkGetAssets(assetIds: string[], signal?: AbortSignal): Promise<AssetUrl[]> {
    const urls: AssetUrl[] = [];
    for (const ids of chunks(assetIds, this.#config.caps.bulkGetAssetIds)) {
      const part = this.#shared
        ? await this.#shared.bulkGetAssets(this, ids, signal)
        : await this.sendBulkGetAssets(async () => ids, signal);
      urls.push(...(part ?? []));
    }
    return urls;
  }

  /** One bulk-get-assets request whose ids are decided once the limiter grants its slot. */
  sendBulkGetAssets(take: BodyOnGrant<string[]>, signal?: AbortSignal): Promise<AssetUrl[] | undefined> {
    const form = this.#config.wireForms.idListBodies.bulkGetAssets;
    return this.#jsonOnGrant(
      bulkGetAssetsResponseSchema,
      { operation: 'bulkGetAssets', method: 'POST', path: this.#config.paths.bulkGetAssets },
      async () => {
        const ids = await take();
        return ids === undefined ? undefined : idListBody(form, ids);
      },
      signal,
    );
  }

  /** Step 3: pre-signed download URLs of files, in batches of at most 100 ids (KNOWN limit), in order. */
  async bulkGetFiles(fileIds: string[], signal?: AbortSignal): Promise<FileUrl[]> {
    const files: FileUrl[] = [];
    for (const batch of chunks(fileIds, bulkGetFilesLimit)) {
      const body = idListBody(this.#config.wireForms.idListBodies.bulkGetFiles, batch);
      const spec: CallSpec = { operation: 'bulkGetFiles', method: 'POST', path: this.#config.paths.bulkGetFiles, body };
      files.push(...(await this.#json(bulkGetFilesResponseSchema, spec, signal)));
    }
    return files;
  }

  /** Step 4: the product, as an opaque record for recipes. */
  async getProduct(productId: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const path = fillPath(this.#config.paths.product, { productId });
    return this.#json(looseRecordSchema, { operation: 'getProduct', method: 'GET', path }, signal);
  }

  /** Step 4: the job, as an opaque record for recipes. */
  async getJob(jobId: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const path = fillPath(this.#config.paths.job, { jobId });
    return this.#json(looseRecordSchema, { operation: 'getJob', method: 'GET', path }, signal);
  }

  /** Step 4: reviewer annotations of the parent task (keyed by taskId, not taskProcessId). */
  async getAnnotations(taskId: string, signal?: AbortSignal): Promise<Annotation[]> {
    const path = fillPath(this.#config.paths.annotations, { taskId });
    return this.#json(annotationsResponseSchema, { operation: 'getAnnotations', method: 'GET', path }, signal);
  }

  /** Step 4: the products of an outfit. */
  async getOutfitProducts(outfitId: string, signal?: AbortSignal): Promise<OutfitProduct[]> {
    const path = fillPath(this.#config.paths.outfitProducts, { outfitId });
    return this.#json(outfitProductsResponseSchema, { operation: 'getOutfitProducts', method: 'GET', path }, signal);
  }

  /** Step 4: styling files of secondary outfit products. An empty list makes no call. */
  async getStylingAssets(productIds: string[], signal?: AbortSignal): Promise<StylingAsset[]> {
    if (productIds.length === 0) return [];
    const body = idListBody(this.#config.wireForms.idListBodies.stylingAssets, productIds);
    const spec: CallSpec = { operation: 'getStylingAssets', method: 'POST', path: this.#config.paths.stylingAssets, body };
    return this.#json(stylingAssetsResponseSchema, spec, signal);
  }

  /** Step 6: marks the task process failed with a message for the studio (body ASSUMED, its field names configured). */
  async updateProcessStatus(taskProcessId: string, message: string, signal?: AbortSignal): Promise<void> {
    const path = fillPath(this.#config.paths.updateStatus, { taskProcessId });
    const fields = this.#config.statusBodyFields;
    await this.#call(
      {
        operation: 'updateProcessStatus',
        method: 'PUT',
        path,
        body: { [fields.status]: this.#config.failedStatus, [fields.message]: message },
      },
      signal,
    );
  }

  /**
   * Step 7a: pre-signed upload URLs, one request (one batch: its own S3 `headers`) per at most the
   * cap of files, in order. HTTP 200 may still list errorFiles.
   */
  async getPresignedUploadUrls(clientId: string, files: PresignFile[], signal?: AbortSignal): Promise<PresignResponse[]> {
    const batches: PresignResponse[] = [];
    for (const batch of chunks(files, this.#config.caps.presignFiles)) {
      const answer = this.#shared
        ? await this.#shared.presign(this, clientId, batch, signal)
        : await this.sendPresign(clientId, async () => batch, signal);
      if (answer) batches.push(answer);
    }
    return batches;
  }

  /** One pre-signed URL request of the workspace `clientId`, its files decided once the limiter grants its slot. */
  sendPresign(clientId: string, take: BodyOnGrant<PresignFile[]>, signal?: AbortSignal): Promise<PresignResponse | undefined> {
    return this.#jsonOnGrant(
      presignResponseSchema,
      { operation: 'getPresignedUploadUrls', method: 'POST', path: this.#config.paths.presignedUpload },
      async () => {
        const files = await take();
        return files === undefined ? undefined : { clientId, physicalFileTypeId: outputPhysicalFileTypeId, files };
      },
      signal,
    );
  }

  /** Step 8: submits the outputs; CF then advances the task. Never retried here on 5xx or timeout. */
  async submitOutput(taskProcessId: string, body: SubmitOutputBody, signal?: AbortSignal): Promise<SubmitResponse> {
    const path = fillPath(this.#config.paths.submitOutput, { taskProcessId });
    const sent = withKeepOldAssetReference(body, this.#config.wireForms.keepOldAssetReference);
    return this.#json(submitResponseSchema, { operation: 'submitOutput', method: 'POST', path, body: sent }, signal);
  }

  async #json<S extends z.ZodType>(schema: S, spec: CallSpec, signal: AbortSignal | undefined): Promise<z.output<S>> {
    const { exchange, response } = await this.#call(spec, signal);
    return parseResponse(schema, exchange, response, this.#config.wireForms.fieldAliases);
  }

  /** #json with the body decided on grant; undefined when it found nothing to ask (nothing sent). */
  async #jsonOnGrant<S extends z.ZodType>(
    schema: S,
    spec: Omit<CallSpec, 'body' | 'bodyOnGrant'>,
    bodyOnGrant: BodyOnGrant<unknown>,
    signal: AbortSignal | undefined,
  ): Promise<z.output<S> | undefined> {
    try {
      return await this.#json(schema, { ...spec, bodyOnGrant }, signal);
    } catch (err) {
      if (err instanceof NothingToSend) return undefined;
      throw err;
    }
  }

  /**
   * Sends an authorized call; resolves with a 2xx answer, throws a ConnectorError otherwise. A
   * token revoked or expired early is refreshed once (a 401 means CF did not process the request).
   */
  async #call(spec: CallSpec, signal: AbortSignal | undefined): Promise<{ exchange: HttpExchange; response: HttpResponse }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (spec.body !== undefined || spec.bodyOnGrant) headers['content-type'] = 'application/json';
    let body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const { bodyOnGrant } = spec;
    const deps: HttpDeps = bodyOnGrant
      ? {
          ...this.#deps,
          limiter: afterFirstGrant(this.#deps.limiter, async () => {
            const decided = await bodyOnGrant();
            if (decided === undefined) throw new NothingToSend();
            body = JSON.stringify(decided);
          }),
        }
      : this.#deps;
    const { answer } = await sendWithTokenRenewal({
      tokens: this.#bearer,
      signal,
      send: async (token) => {
        const exchange: HttpExchange = {
          operation: spec.operation,
          method: spec.method,
          url: `${this.#config.apiBaseUrl}${spec.path}`,
          logPath: spec.path,
          headers: { ...headers, authorization: `Bearer ${token}` },
          // Read when the request is sent, after the limiter's grant: a body on grant is known by then.
          get body() {
            return body;
          },
        };
        return { exchange, response: await sendThroughLimiter(deps, exchange, signal) };
      },
      statusOf: ({ response }) => response.status,
      onRenewal: () =>
        this.#logger.info({ method: spec.method, path: spec.path }, 'Creative Force refused the token (401); refreshing once'),
    });
    const { exchange, response } = answer;
    if (response.status >= 200 && response.status < 300) return answer;
    const token = exchange.headers.authorization?.replace(/^Bearer /, '') ?? '';
    throw statusError(this.#logger, exchange, response, { secrets: [this.#clientSecret, token] });
  }
}
