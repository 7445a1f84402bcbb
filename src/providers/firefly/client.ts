/**
 * The Adobe Firefly Creative Production Workflow API ("Workflow Builder API") client of one
 * connection (docs/providers/firefly.md): start a batch of runs of a published workflow, poll its status,
 * read every execution's outputs, cancel it, and download results.
 *
 * Every API call sends `Authorization: Bearer <IMS token>`, `x-api-key: <client id>`,
 * `x-gw-ims-org-id`, `x-gw-ims-user-id`, `api-version: 1.0` and `Accept: application/json`, runs
 * under a whole-request deadline (config `requestTimeoutMs`, body included, combined with the
 * caller's signal), reads its body to the end, and parses 2xx JSON with the zod schemas of
 * schemas.ts. The one retry here is after a 401: Firefly did not process the request, so it is sent
 * once more with a new token. Everything else is raised as a ConnectorError (errors.ts) for the job
 * layer: a batch is never started twice blindly, and a 429 is not waited out here (the error
 * carries the wait until `x-ratelimit-reset`).
 *
 * Outputs are presigned URLs: downloads carry none of the API headers.
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { ConnectorError } from '../../errors.ts';
import {
  authorizedCall,
  type DownloadedResult,
  downloadResult,
  type ResultDownloadRules,
  readText,
} from '../../http/provider-request.ts';
import { sharedDispatcher } from '../../http/shared-agent.ts';
import {
  type FireflyConfig,
  type FireflyCredentials,
  fireflyApiVersion,
  fireflyBatchesPageSize,
  fireflyBatchPath,
  fireflyExecutionsPageSize,
  fireflyPaths,
} from './config.ts';
import {
  badResponse,
  type FireflyExchange,
  fireflyErrors,
  fireflyProvider,
  parseShape,
  readJson,
  statusError,
  transportError,
} from './errors.ts';
import {
  batchListPageSchema,
  cancelResponseSchema,
  executeResponseSchema,
  executionsPageSchema,
  type FireflyBatchStarted,
  type FireflyBatchStatus,
  type FireflyCancelResult,
  type FireflyExecution,
  type FireflyListedBatch,
  fireflyBatchTerminal,
  statusResponseSchema,
} from './schemas.ts';
import type { FireflyTokenConnection, FireflyTokenProvider } from './token-store.ts';

export type {
  FireflyAssetCounts,
  FireflyBatchLinks,
  FireflyBatchStarted,
  FireflyBatchStatus,
  FireflyCancelResult,
  FireflyExecution,
  FireflyExecutionOutput,
  FireflyListedBatch,
} from './schemas.ts';

/** A presigned GET URL handed to Firefly as a binary input (`PresignedStorageRef`). */
export interface FireflyStorageRef {
  presignedUrl: string;
  /** E.g. `AWS`. */
  storageType: string;
}

/**
 * The input of one workflow node in one run: files (`content` an array of presigned refs) or text
 * (`content` a string). Sent exactly as given (the OpenAPI spec's node inputs allow no other fields).
 */
export type FireflyNodeInput = { node_id: string; content: FireflyStorageRef[] } | { node_id: string; content: string };

/** Dependencies of a FireflyClient. */
export interface FireflyClientOptions {
  /** Our id of the connection; names it in logs and keys its cached token. */
  connectionId: string;
  credentials: FireflyCredentials;
  config: FireflyConfig;
  /** The token source shared by every client (FireflyTokenStore). */
  tokens: FireflyTokenProvider;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Where results may be downloaded from, how large, and through which dispatcher. */
  results: ResultDownloadRules;
  logger: Logger;
}

/** A downloaded result. */
export type FireflyDownloadedFile = DownloadedResult;

/** One API call. */
interface ApiCall {
  method: 'GET' | 'POST';
  path: string;
  /** Query parameters. */
  query?: Record<string, string>;
  /** JSON body. */
  json?: unknown;
}

/** A 2xx answer, read to the end. */
interface ApiAnswer {
  exchange: FireflyExchange;
  status: number;
  text: string;
}

/** At most this many executions pages are read (500 each): a guard against a server that never ends. */
const maxExecutionsPages = 2000;
/** At most this many pages of batches are read (100 each): batches made since a start are few. */
const maxBatchesPages = 20;

/** Typed calls of the Workflow Builder batch runtime for one connection. */
export class FireflyClient {
  readonly connectionId: string;
  readonly #tokenConnection: FireflyTokenConnection;
  readonly #credentials: FireflyCredentials;
  readonly #config: FireflyConfig;
  readonly #tokens: FireflyTokenProvider;
  readonly #dispatcher: Dispatcher;
  readonly #results: ResultDownloadRules;
  readonly #logger: Logger;

  /** @throws ConnectorError CONFIG_INVALID when a credential field is blank (all four headers are required). */
  constructor(options: FireflyClientOptions) {
    const { connectionId, credentials } = options;
    const blank = (['clientId', 'clientSecret', 'orgId', 'userId'] as const).filter((key) => !credentials[key]?.trim());
    if (blank.length > 0) {
      throw new ConnectorError('CONFIG_INVALID', `Firefly connection ${connectionId} lacks ${blank.join(', ')}`, {
        details: { provider: fireflyProvider, connectionId, missing: blank },
      });
    }
    this.connectionId = connectionId;
    this.#credentials = {
      clientId: credentials.clientId.trim(),
      clientSecret: credentials.clientSecret,
      orgId: credentials.orgId.trim(),
      userId: credentials.userId.trim(),
    };
    this.#tokenConnection = { id: connectionId, clientId: this.#credentials.clientId, clientSecret: credentials.clientSecret };
    this.#config = options.config;
    this.#tokens = options.tokens;
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    this.#results = options.results;
    this.#logger = options.logger.child({ provider: fireflyProvider, connectionId });
  }

  /** A presigned GET URL as a binary node input, with the configured `storageType` (config `inputStorageType`). */
  storageRef(presignedUrl: string): FireflyStorageRef {
    return { presignedUrl, storageType: this.#config.inputStorageType };
  }

  /**
   * Starts a batch: one run per element of `runs`, each the node inputs of that run. The body is
   * exactly `{ workflow: { workflowId, inputs: runs } }`. A write: never retried but after a 401.
   *
   * @throws ConnectorError PROVIDER_REJECTED without calling Firefly when there is no run or a run
   *   has no input (the API requires at least one of each).
   */
  async executeBatch(workflowId: string, runs: FireflyNodeInput[][], signal?: AbortSignal): Promise<FireflyBatchStarted> {
    const exchange: FireflyExchange = { method: 'POST', path: fireflyPaths.execute };
    const emptyRun = runs.findIndex((run) => run.length === 0);
    if (runs.length === 0 || emptyRun !== -1) {
      const what = runs.length === 0 ? 'no run' : `run ${emptyRun} has no node input`;
      throw new ConnectorError('PROVIDER_REJECTED', `Firefly batch of workflow ${workflowId} not started: ${what}`, {
        details: { provider: fireflyProvider, method: exchange.method, path: exchange.path, workflowId },
      });
    }
    const json = { workflow: { workflowId, inputs: runs } };
    const started = await this.#json(executeResponseSchema, { ...exchange, json }, signal);
    this.#logger.info({ workflowId, batchId: started.batchId, runs: runs.length }, 'Firefly batch started');
    return started;
  }

  /** The batch as it stands (poll until `terminal`). */
  async batchStatus(batchId: string, signal?: AbortSignal): Promise<FireflyBatchStatus> {
    const body = await this.#json(statusResponseSchema, { method: 'GET', path: fireflyBatchPath('status', batchId) }, signal);
    return {
      batchId: body.batchId ?? batchId,
      status: body.status,
      assets: body.assets,
      terminal: fireflyBatchTerminal(body.status),
    };
  }

  /**
   * Every execution of the batch: pages of 500 (`limit`, `offset`), read while
   * `pagination.hasMore`. Outputs are collected from the untyped `outputs[]` (collectFireflyOutputs).
   *
   * @throws ConnectorError PROVIDER_BAD_RESPONSE for a page of the wrong shape, or one that says
   *   there is more but holds no execution.
   */
  async executions(batchId: string, signal?: AbortSignal): Promise<FireflyExecution[]> {
    const path = fireflyBatchPath('executions', batchId);
    const all: FireflyExecution[] = [];
    let offset = 0;
    for (let page = 0; page < maxExecutionsPages; page++) {
      const query = { limit: String(fireflyExecutionsPageSize), offset: String(offset) };
      const { exchange, status, text } = await this.#call({ method: 'GET', path, query }, signal);
      const body = parseShape(executionsPageSchema, exchange, status, readJson(exchange, status, text));
      all.push(...body.executions);
      if (body.pagination?.hasMore !== true) return all;
      if (body.executions.length === 0) {
        throw badResponse(exchange, status, `with pagination.hasMore but no execution at offset ${offset}`, { offset });
      }
      offset += body.executions.length;
    }
    throw badResponse({ method: 'GET', path }, 200, `with more than ${maxExecutionsPages} pages of executions`);
  }

  /**
   * The caller's batches created after `createdAfter` (ms since the epoch), newest first: pages of
   * 100 (`limit`, `offset`) with `createdAfter` in ISO 8601, read while `pagination.hasMore`. The
   * workflow is not filtered here: the list echoes `run-workflow_<uuid>`, and which form its
   * `workflowId` filter takes is not documented.
   *
   * @throws ConnectorError PROVIDER_BAD_RESPONSE for a page of the wrong shape, or more than
   *   maxBatchesPages pages.
   */
  async listBatches(createdAfter: number, signal?: AbortSignal): Promise<FireflyListedBatch[]> {
    const all: FireflyListedBatch[] = [];
    for (let page = 0; page < maxBatchesPages; page++) {
      const query = {
        createdAfter: new Date(createdAfter).toISOString(),
        limit: String(fireflyBatchesPageSize),
        offset: String(page * fireflyBatchesPageSize),
      };
      const { exchange, status, text } = await this.#call({ method: 'GET', path: fireflyPaths.batches, query }, signal);
      const body = parseShape(batchListPageSchema, exchange, status, readJson(exchange, status, text));
      all.push(...body.batches);
      if (body.pagination?.hasMore !== true || body.batches.length === 0) return all;
    }
    throw badResponse({ method: 'GET', path: fireflyPaths.batches }, 200, `with more than ${maxBatchesPages} pages of batches`);
  }

  /** How much earlier than our clock Firefly may date a batch (service-wide configuration). */
  get startClockSkewMs(): number {
    return this.#config.startClockSkewMs;
  }

  /**
   * Cancels a pending or running batch: no new run starts; runs in flight may still complete.
   * Firefly refuses to cancel a completed, failed or cancelled batch (a 4xx: PROVIDER_REJECTED).
   */
  async cancelBatch(batchId: string, signal?: AbortSignal): Promise<FireflyCancelResult> {
    const { exchange, status, text } = await this.#call({ method: 'POST', path: fireflyBatchPath('cancel', batchId) }, signal);
    const body =
      text.trim() === ''
        ? { batchId: null, status: null, message: null, previousStatus: null }
        : parseShape(cancelResponseSchema, exchange, status, readJson(exchange, status, text));
    this.#logger.info({ batchId, previousStatus: body.previousStatus }, 'Firefly batch cancelled');
    return { batchId: body.batchId ?? batchId, status: body.status, previousStatus: body.previousStatus, message: body.message };
  }

  /**
   * Streams a result (a presigned URL: none of the API headers) to `destPath` (its directory must
   * exist) through a temporary file beside it, so `destPath` only ever holds a complete file.
   *
   * @throws ConnectorError PROVIDER_BAD_RESPONSE for a URL that is not http(s) or an empty body;
   *   PROVIDER_RESULT_REFUSED outside the connection's result rules (downloadResult); see
   *   storageError for the statuses; PROVIDER_TIMEOUT / PROVIDER_NETWORK.
   */
  download(url: string, destPath: string, signal?: AbortSignal): Promise<FireflyDownloadedFile> {
    return downloadResult({
      url,
      destPath,
      rules: this.#results,
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      errors: fireflyErrors,
      logger: this.#logger,
      typesByExtension,
    });
  }

  async #json<S extends z.ZodType>(schema: S, call: ApiCall, signal: AbortSignal | undefined): Promise<z.output<S>> {
    const { exchange, status, text } = await this.#call(call, signal);
    return parseShape(schema, exchange, status, readJson(exchange, status, text));
  }

  /**
   * Sends an authorized call and returns its 2xx answer; any other answer becomes a ConnectorError,
   * after one retry with a new token on the first 401.
   */
  async #call(call: ApiCall, signal: AbortSignal | undefined): Promise<ApiAnswer> {
    const exchange: FireflyExchange = { method: call.method, path: call.path };
    const query = call.query ? `?${new URLSearchParams(call.query)}` : '';
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
        const headers: Record<string, string> = {
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          'x-api-key': this.#credentials.clientId,
          'x-gw-ims-org-id': this.#credentials.orgId,
          'x-gw-ims-user-id': this.#credentials.userId,
          'api-version': fireflyApiVersion,
        };
        if (body !== null) headers['content-type'] = 'application/json';
        return headers;
      },
      body: () => body,
      consume: readText,
      transportError,
      logger: this.#logger,
      renewMessage: 'Firefly refused the token (401); renewing it once',
      statusError: (response, token) =>
        statusError(this.#logger, exchange, response, { secrets: [this.#credentials.clientSecret, token] }),
    });
    return { exchange, status, text: value };
  }
}

/** Types of the result file extensions a workflow may produce. */
const typesByExtension: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.psd': 'image/vnd.adobe.photoshop',
  '.gif': 'image/gif',
  '.mp4': 'video/mp4',
};
