/**
 * The Sartiq Backend API client of one connection (docs/providers/sartiq.md): presigned uploads, the
 * generation endpoints, polling a generation or an agentic run, and downloading results.
 *
 * Every API call sends `Authorization: Bearer <token>` and `Accept: application/json`, runs under a
 * whole-request deadline (config `requestTimeoutMs`, body included, combined with the caller's
 * signal), reads its body to the end, and parses 2xx JSON with the zod schemas of schemas.ts (status
 * values read with the configured words, `SartiqConfig.statuses`). Every
 * generation call carries the `organization_id` query parameter when the connection has an
 * organization. The one retry here is after a 401: Sartiq did not process the request, so it is
 * sent once more after a new login. Everything else is raised as a ConnectorError (errors.ts) for
 * the job layer: a create call is never repeated blindly.
 *
 * Sartiq's storage is not the API: the upload PUT goes to a presigned Cloudflare R2 URL and results
 * are public CDN URLs, so neither carries the Authorization header.
 */
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import type { z } from 'zod';
import {
  attemptSignals,
  authorizedCall,
  type DownloadedResult,
  downloadResult,
  type ResultDownloadRules,
  readText,
} from '../../http/provider-request.ts';
import { sharedDispatcher } from '../../http/shared-agent.ts';
import { readS3Error, urlForMessages } from '../../media/download.ts';
import type { StartClaims } from '../start-claims.ts';
import {
  type SartiqConfig,
  type SartiqLostStarts,
  sartiqAgenticStatusPath,
  sartiqGenerationPath,
  sartiqPaths,
} from './config.ts';
import {
  badResponse,
  parseShape,
  readJson,
  type SartiqExchange,
  sartiqErrors,
  sartiqProvider,
  statusError,
  storageError,
  transportError,
} from './errors.ts';
import {
  presignedUploadSchema,
  type SartiqAgenticStatus,
  type SartiqGeneration,
  type SartiqListedGeneration,
  type SartiqRefine,
  type SartiqSchemas,
  sartiqSchemas,
} from './schemas.ts';
import type { SartiqCredentials, SartiqTokenConnection, SartiqTokenProvider } from './token-store.ts';

export type {
  SartiqAgenticStatus,
  SartiqGeneration,
  SartiqListedGeneration,
  SartiqPrediction,
  SartiqRefine,
} from './schemas.ts';

/** Dependencies of a SartiqClient. */
export interface SartiqClientOptions {
  /** Our id of the connection; names it in logs and keys its cached token. */
  connectionId: string;
  credentials: SartiqCredentials;
  config: SartiqConfig;
  /** The token source shared by every client (SartiqTokenStore). */
  tokens: SartiqTokenProvider;
  /** The paid work the connection's starts have claimed, shared by every process (lost-start.ts). */
  claims: StartClaims;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Where results may be downloaded from, how large, and through which dispatcher. */
  results: ResultDownloadRules;
  logger: Logger;
}

/** The generation endpoints that answer one generation (refines answer several: createRefines). */
export type SartiqGenerationKind = 'generate' | 'agentic' | 'edit' | 'background-fix' | 'image-adjust' | 'face-fix' | 'video';

/** The path of each generation kind. */
export const sartiqGenerationKindPaths = {
  generate: sartiqPaths.generations,
  agentic: sartiqPaths.agentic,
  edit: sartiqPaths.edits,
  'background-fix': sartiqPaths.backgroundFix,
  'image-adjust': sartiqPaths.imageAdjuster,
  'face-fix': sartiqPaths.faceFixer,
  video: sartiqPaths.videos,
} as const satisfies Record<SartiqGenerationKind, string>;

/** A local file to upload. */
export interface SartiqUploadFile {
  path: string;
  /** The name announced to Sartiq (it lands in the temp key `temp/{file_id}_{timestamp}_{safe_filename}`). */
  fileName: string;
  /** Announced to Sartiq and sent as the PUT's Content-Type. */
  contentType: string;
}

/** An uploaded file: the temp URL (24 h TTL) to pass to later calls (`base_img_path`, `base_image_urls`, …). */
export interface SartiqUploadedFile {
  fileUrl: string;
}

/** What `POST /generations/refines` created, and what it could not. */
export interface SartiqRefinesResult {
  /** One generation per `base_image_urls` entry. */
  generations: SartiqGeneration[];
  /** One refine per `prediction_ids` entry. */
  refines: SartiqRefine[];
  /** One line per failed upload or refine, e.g. `upload 1 (https://…/x.png): error` (URLs without query). */
  failed: string[];
}

/** A downloaded result. */
export type SartiqDownloadedFile = DownloadedResult;

/** Page size of `GET /generations/` (the documented default of `limit`). */
const listPageSize = 100;
/** At most this many pages are read: generations made since a start are few. */
const maxListPages = 20;

/** One API call. */
interface ApiCall {
  method: 'GET' | 'POST';
  path: string;
  /** Send `organization_id` when the connection has one (every generation call). */
  organization: boolean;
  /** Other query parameters. */
  query?: Record<string, string>;
  /** JSON body. */
  json?: unknown;
}

/** A 2xx answer, read to the end. */
interface ApiAnswer {
  exchange: SartiqExchange;
  status: number;
  text: string;
}

/** Typed calls of the Sartiq Backend API for one connection. */
export class SartiqClient {
  readonly connectionId: string;
  /** The paid work the connection's starts have claimed. */
  readonly claims: StartClaims;
  readonly #tokenConnection: SartiqTokenConnection;
  readonly #organizationId: string | undefined;
  readonly #password: string;
  readonly #config: SartiqConfig;
  readonly #schemas: SartiqSchemas;
  readonly #tokens: SartiqTokenProvider;
  readonly #dispatcher: Dispatcher;
  readonly #results: ResultDownloadRules;
  readonly #logger: Logger;

  constructor(options: SartiqClientOptions) {
    const { connectionId, credentials } = options;
    this.connectionId = connectionId;
    this.claims = options.claims;
    this.#tokenConnection = { id: connectionId, email: credentials.email, password: credentials.password };
    this.#organizationId = credentials.organizationId?.trim() || undefined;
    this.#password = credentials.password;
    this.#config = options.config;
    this.#schemas = sartiqSchemas(options.config.statuses);
    this.#tokens = options.tokens;
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    this.#results = options.results;
    this.#logger = options.logger.child({ provider: sartiqProvider, connectionId });
  }

  /**
   * Uploads a local file in two phases: asks for a presigned URL (body fields named by
   * `SartiqConfig.uploadFields`), then PUTs the file, streamed from disk with its exact
   * Content-Length and no Authorization, to `upload_url`. The PUT is a write and is not retried.
   */
  async uploadImage(file: SartiqUploadFile, signal?: AbortSignal): Promise<SartiqUploadedFile> {
    const fields = this.#config.uploadFields;
    const json = { [fields.fileName]: file.fileName, [fields.contentType]: file.contentType };
    const presigned = await this.#json(
      presignedUploadSchema,
      { method: 'POST', path: sartiqPaths.presigned, organization: false, json },
      signal,
    );
    await this.#put(presigned.uploadUrl, file, signal);
    this.#logger.info({ fileUrl: presigned.fileUrl }, 'Sartiq upload done');
    return { fileUrl: presigned.fileUrl };
  }

  /** Starts a generation of one kind; `body` is sent as is (the fields of Sartiq's "Generation Endpoints"). */
  async createGeneration(
    kind: SartiqGenerationKind,
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<SartiqGeneration> {
    const path = sartiqGenerationKindPaths[kind];
    const generation = await this.#json(
      this.#schemas.generation,
      { method: 'POST', path, organization: true, json: body },
      signal,
    );
    this.#logger.info(
      { kind, generationId: generation.id, predictions: generation.predictions.length },
      'Sartiq generation created',
    );
    return generation;
  }

  /**
   * Refines or upscales: `base_image_urls` (one generation each) and/or `prediction_ids` (one
   * refine each), with `width` + `height` or `scale_factor` (2, 4, 8). Partial failures do not
   * throw: they are listed in `failed`.
   */
  async createRefines(body: Record<string, unknown>, signal?: AbortSignal): Promise<SartiqRefinesResult> {
    const raw = await this.#json(
      this.#schemas.mixedRefineResponse,
      { method: 'POST', path: sartiqPaths.refines, organization: true, json: body },
      signal,
    );
    const failed = [
      ...raw.failed_uploads.map((f) => `upload ${describe(f.index)} (${describeUrl(f.url)}): ${describe(f.error)}`),
      ...raw.failed_refines.map((f) => `prediction ${describe(f.prediction_id)}: ${describe(f.error)}`),
    ];
    if (failed.length > 0) this.#logger.warn({ failed }, 'Sartiq refines partly failed');
    return { generations: raw.generations, refines: raw.refines, failed };
  }

  /** The generation as it stands (poll until `terminal`). */
  getGeneration(id: string, signal?: AbortSignal): Promise<SartiqGeneration> {
    return this.#json(this.#schemas.generation, { method: 'GET', path: sartiqGenerationPath(id), organization: true }, signal);
  }

  /** How a start whose answer was lost is found (service-wide configuration). */
  get lostStarts(): SartiqLostStarts {
    return this.#config.lostStarts;
  }

  /**
   * The generations created after `createdFrom` (ms since the epoch), newest first ("ordered by
   * creation date descending"), in the connection's organization or, without one, the personal
   * ones: `created_at_from` in ISO 8601, pages of `limit` 100 by `skip` until one is not full.
   * Pages stop early at a generation dated before `createdFrom`, should the filter not apply.
   *
   * @throws ConnectorError PROVIDER_BAD_RESPONSE when a page has the wrong shape, or when there
   *   are more than maxListPages pages.
   */
  async listGenerations(createdFrom: number, signal?: AbortSignal): Promise<SartiqListedGeneration[]> {
    const listed: SartiqListedGeneration[] = [];
    for (let page = 0; page < maxListPages; page++) {
      const query = {
        created_at_from: new Date(createdFrom).toISOString(),
        skip: String(page * listPageSize),
        limit: String(listPageSize),
      };
      const call: ApiCall = { method: 'GET', path: sartiqPaths.listGenerations, organization: true, query };
      const { exchange, status, text } = await this.#call(call, signal);
      const body = parseShape(this.#schemas.generationList, exchange, status, readJson(exchange, status, text));
      listed.push(...body);
      const last = body.at(-1)?.generation.createdAt;
      if (body.length < listPageSize || (last !== null && last !== undefined && last < createdFrom)) return listed;
    }
    throw badResponse(
      { method: 'GET', path: sartiqPaths.listGenerations },
      200,
      `with more than ${maxListPages * listPageSize} generations since ${new Date(createdFrom).toISOString()}`,
    );
  }

  /**
   * Where an agentic run stands (poll until `terminal`): its final image, best confidence and
   * attempts. The endpoint lists neither `organization_id` nor authentication; the Bearer token is
   * sent anyway, as on every call.
   */
  getAgenticStatus(shotId: string, signal?: AbortSignal): Promise<SartiqAgenticStatus> {
    return this.#json(
      this.#schemas.agenticStatus,
      { method: 'GET', path: sartiqAgenticStatusPath(shotId), organization: false },
      signal,
    );
  }

  /**
   * Streams a result (a public CDN URL: no Authorization) to `destPath` (its directory must exist)
   * through a temporary file beside it, so `destPath` only ever holds a complete file.
   *
   * @throws ConnectorError PROVIDER_BAD_RESPONSE for a URL that is not http(s) or an empty body;
   *   PROVIDER_RESULT_REFUSED outside the connection's result rules (downloadResult); see
   *   storageError for the statuses; PROVIDER_TIMEOUT / PROVIDER_NETWORK.
   */
  download(url: string, destPath: string, signal?: AbortSignal): Promise<SartiqDownloadedFile> {
    return downloadResult({
      url,
      destPath,
      rules: this.#results,
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      errors: sartiqErrors,
      logger: this.#logger,
      typesByExtension,
    });
  }

  /** PUTs a file to a presigned storage URL with its exact Content-Length. */
  async #put(uploadUrl: string, file: SartiqUploadFile, signal: AbortSignal | undefined): Promise<void> {
    const exchange: SartiqExchange = { method: 'PUT', path: urlForMessages(uploadUrl) };
    const timeoutMs = this.#config.requestTimeoutMs;
    // Size and bytes come from one open file, so the announced length is the length sent.
    const handle = await open(file.path, 'r');
    try {
      const { size } = await handle.stat();
      const { deadline, attemptSignal } = attemptSignals(timeoutMs, signal);
      let answer: Dispatcher.ResponseData;
      try {
        answer = await request(uploadUrl, {
          method: 'PUT',
          dispatcher: this.#dispatcher,
          headers: { 'content-type': file.contentType, 'content-length': String(size) },
          body: handle.createReadStream({ start: 0, autoClose: false }),
          signal: attemptSignal,
        });
        if (answer.statusCode >= 200 && answer.statusCode < 300) {
          await answer.body.text();
          return;
        }
      } catch (err) {
        throw transportError(err, { exchange, timeoutMs, deadline, callerSignal: signal });
      }
      throw storageError(this.#logger, exchange, answer.statusCode, answer.headers, await readS3Error(answer.body));
    } finally {
      await handle.close();
    }
  }

  async #json<S extends z.ZodType>(schema: S, call: ApiCall, signal: AbortSignal | undefined): Promise<z.output<S>> {
    const { exchange, status, text } = await this.#call(call, signal);
    return parseShape(schema, exchange, status, readJson(exchange, status, text));
  }

  /**
   * Sends an authorized call and returns its 2xx answer; any other answer becomes a ConnectorError,
   * after one retry with a new login on the first 401 (e.g. "Could not validate credentials").
   */
  async #call(call: ApiCall, signal: AbortSignal | undefined): Promise<ApiAnswer> {
    const exchange: SartiqExchange = { method: call.method, path: call.path };
    const organization = call.organization && this.#organizationId !== undefined;
    const params = new URLSearchParams(call.query);
    if (organization) params.set('organization_id', this.#organizationId ?? '');
    const query = params.size > 0 ? `?${params}` : '';
    const body = call.json === undefined ? null : JSON.stringify(call.json);
    const { status, value } = await authorizedCall({
      url: `${this.#config.baseUrl}${call.path}${query}`,
      method: call.method,
      exchange,
      dispatcher: this.#dispatcher,
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      tokens: {
        getToken: (tokenSignal) => this.#tokens.getToken(this.#tokenConnection, tokenSignal),
        invalidate: (token) => this.#tokens.invalidate(this.connectionId, token),
      },
      headers: (token) => {
        const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` };
        if (body !== null) headers['content-type'] = 'application/json';
        return headers;
      },
      body: () => body,
      consume: readText,
      transportError,
      logger: this.#logger,
      renewMessage: 'Sartiq refused the token (401); logging in again once',
      statusError: (response, token) => statusError(this.#logger, exchange, response, { secrets: [this.#password, token] }),
    });
    return { exchange, status, text: value };
  }
}

/** A value of a free-form failure entry, for one line of text. */
function describe(value: unknown): string {
  if (value === undefined || value === null) return '?';
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

function describeUrl(value: unknown): string {
  return typeof value === 'string' ? urlForMessages(value) : describe(value);
}

/** Types of the result file extensions Sartiq is known to produce (images on R2/CDN, videos). */
const typesByExtension: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
};
