/**
 * The Creative Force simulator: a real HTTP server on loopback that answers like Creative Force's
 * token endpoint, gateway (`/v1`) and S3 (`/s3/<bucket>/<key>`), plus the test-facing API to seed
 * tasks, send signed webhooks, inject faults and inspect what clients did.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import {
  defaultGatewayPaths,
  defaultSharedCallCaps,
  defaultStatusBodyFields,
  defaultWireForms,
  type GatewayPaths,
  gatewayRequestsPerSecond,
  type SharedCallCaps,
  type SignatureVariant,
  type StatusBodyFields,
  type WireForms,
} from '../../creative-force/contract.ts';
import { CallLog } from '../harness/call-log.ts';
import { FaultQueue } from '../harness/fault-queue.ts';
import { BodyTooLargeError, clientIpOf, type Reply, readBody, writeReply } from '../harness/http-io.ts';
import { LoopbackServer } from '../harness/loopback-server.ts';
import { ForcedRateLimit, SubmissionHolds } from './faults.ts';
import { maxBodyBytes } from './gateway-bodies.ts';
import { buildRoutes, type GatewayRoute, matchRoute, type RouteContext, renameAnswerFields } from './gateway-routes.ts';
import { maxInWindow, SlidingWindowLimiter } from './rate-limit.ts';
import { FakeS3, s3PathPrefix } from './s3.ts';
import { signWebhook } from './signing.ts';
import { SimState } from './state.ts';
import { TokenStore } from './tokens.ts';
import type {
  AnnotationSeed,
  CallLogEntry,
  CfSimulatorOptions,
  FaultMatch,
  FaultResponse,
  PresignCall,
  RecordedSubmission,
  SeededTask,
  StatusUpdate,
  StoredOutput,
  SubmissionHold,
  TaskScenario,
} from './types.ts';
import { buildWebhookPayload, postWebhook, type SendWebhookOptions } from './webhook.ts';

const tokenPath = '/connect/token';
const gatewayPrefix = '/v1';

/** The KNOWN 429 body of the gateway. */
const tooManyRequestsBody = { errors: [{ code: 'GEN-429', message: 'TooManyRequests' }] };

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** A fake Creative Force on a loopback port. Start it with {@link CreativeForceSimulator.start}. */
/** The answers whose field names are ASSUMED, sent in the instance's field names (`wireForms.fieldAliases`). */
const renamedAnswers: ReadonlySet<string> = new Set([
  'processDetail',
  'bulkGetAssets',
  'bulkGetFiles',
  'annotations',
  'stylingAssets',
  'outfitProducts',
]);

export class CreativeForceSimulator {
  /** `http://host:port` */
  readonly baseUrl: string;
  /** The gateway base URL: `baseUrl + '/v1'`. */
  readonly apiBaseUrl: string;
  /** The OAuth token URL: `baseUrl + '/connect/token'`. */
  readonly tokenUrl: string;
  /** The gateway paths this instance serves (defaults merged with `options.paths`). */
  readonly paths: Readonly<GatewayPaths>;
  /** The Update Process Status field names this instance expects (defaults merged with `options.statusBodyFields`). */
  readonly statusBodyFields: Readonly<StatusBodyFields>;
  /** The other ASSUMED wire forms this instance speaks (defaults merged with `options.wireForms`). */
  readonly wireForms: Readonly<WireForms>;
  /** The caps of bulk-get-assets and the pre-signed URL call (defaults merged with `options.sharedCallCaps`). */
  readonly sharedCallCaps: Readonly<SharedCallCaps>;

  readonly #http: LoopbackServer;
  /** Where the S3 URLs it hands out point (see `CfSimulatorOptions.publicOrigin`). */
  readonly #publicOrigin: string;
  readonly #logger: Logger;
  readonly #s3: FakeS3;
  readonly #state: SimState;
  readonly #tokens: TokenStore;
  readonly #limiter: SlidingWindowLimiter;
  readonly #routes: GatewayRoute[];
  readonly #faults = new FaultQueue();
  readonly #forced = new ForcedRateLimit();
  readonly #holds = new SubmissionHolds();
  #lostSubmitAnswers = 0;
  readonly #closing = new AbortController();
  readonly #calls = new CallLog<CallLogEntry>();
  #count429 = 0;

  private constructor(http: LoopbackServer, options: CfSimulatorOptions) {
    const baseUrl = http.baseUrl;
    this.#http = http;
    this.baseUrl = baseUrl;
    this.apiBaseUrl = baseUrl + gatewayPrefix;
    this.tokenUrl = baseUrl + tokenPath;
    this.#publicOrigin = options.publicOrigin ?? baseUrl;
    this.paths = Object.freeze({ ...defaultGatewayPaths, ...(options.paths ?? {}) });
    this.statusBodyFields = Object.freeze({ ...defaultStatusBodyFields, ...(options.statusBodyFields ?? {}) });
    const forms = options.wireForms ?? {};
    this.wireForms = Object.freeze({
      idListBodies: Object.freeze({ ...defaultWireForms.idListBodies, ...(forms.idListBodies ?? {}) }),
      fieldAliases: Object.freeze({ ...(forms.fieldAliases ?? {}) }),
      keepOldAssetReference: forms.keepOldAssetReference ?? defaultWireForms.keepOldAssetReference,
    });
    this.sharedCallCaps = Object.freeze({ ...defaultSharedCallCaps, ...(options.sharedCallCaps ?? {}) });
    this.#logger = options.logger?.child({ component: 'cf-simulator' }) ?? pino({ level: 'silent' });
    this.#s3 = new FakeS3(options.presignedUrlTtlSeconds ?? 3600);
    this.#state = new SimState(this.#s3);
    this.#tokens = new TokenStore(options.tokenTtlSeconds ?? 3600);
    this.#limiter = new SlidingWindowLimiter(options.rateLimitPerSecond ?? gatewayRequestsPerSecond, 1000);
    this.#routes = buildRoutes(this.paths);
    http.serve((req, res) => this.#handle(req, res), {
      onFailure: (err) => {
        this.#logger.error({ err }, 'simulator request failed');
        return { status: 500 };
      },
    });
  }

  /** Starts a simulator listening on `options.host:options.port` (default 127.0.0.1, random port). */
  static async start(options: CfSimulatorOptions = {}): Promise<CreativeForceSimulator> {
    return new CreativeForceSimulator(await LoopbackServer.listen(options), options);
  }

  // ---- seeding -------------------------------------------------------------------------------

  /** Registers an OAuth app (client credentials). */
  addApp(app: { clientId: string; clientSecret: string }): void {
    this.#tokens.addApp(app.clientId, app.clientSecret);
  }

  /** Seeds a task process with its inputs, files, slots and context; returns the ids. */
  addTask(scenario: TaskScenario): SeededTask {
    return this.#state.addTask(scenario, Date.now());
  }

  /** Adds a reviewer annotation to a task (keyed by taskId); returns the annotation id. */
  addAnnotation(taskId: string, seed: AnnotationSeed): string {
    return this.#state.addAnnotation(taskId, seed, Date.now()).annotationId;
  }

  /**
   * Marks accepted outputs rejected and reopens the task process for rework: the process detail
   * then shows them with `isRejected`, and the next submission must use KeepOldAsset/RedoAsset.
   */
  rejectOutputs(taskProcessId: string, assetIds: string[]): void {
    this.#state.rejectOutputs(taskProcessId, assetIds);
  }

  /** Makes every issued access token invalid: the next gateway call answers 401. */
  expireTokens(): void {
    this.#tokens.expireAll();
  }

  // ---- webhooks ------------------------------------------------------------------------------

  /** The PascalCase ReadyToWork body of a seeded task; an override set to `undefined` removes a field. */
  webhookPayload(taskProcessId: string, overrides?: Record<string, unknown>): Record<string, unknown> {
    return buildWebhookPayload(this.#state.requireTask(taskProcessId), overrides);
  }

  /** `X-CF-Signature` of a raw body; default variant `b64key-sha256-base64`. */
  signWebhook(rawBody: string | Buffer, secretBase64: string, variant?: SignatureVariant): string {
    return signWebhook(rawBody, secretBase64, variant);
  }

  /** POSTs the task's ReadyToWork webhook (application/json, signed) to `url`. */
  sendWebhook(
    url: string,
    taskProcessId: string,
    secretBase64: string,
    opts: SendWebhookOptions = {},
  ): Promise<{ status: number; body: unknown }> {
    return postWebhook(url, this.webhookPayload(taskProcessId, opts.overrides), secretBase64, opts);
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Accepted Submit Output requests, in order. */
  submissions(taskProcessId?: string): RecordedSubmission[] {
    return clone(this.#state.submissions.filter((s) => taskProcessId === undefined || s.taskProcessId === taskProcessId));
  }

  /** Refused Submit Output requests with the error returned, in order. */
  rejectedSubmissions(taskProcessId?: string): RecordedSubmission[] {
    return clone(this.#state.rejectedSubmissions.filter((s) => taskProcessId === undefined || s.taskProcessId === taskProcessId));
  }

  /** Pre-signed upload URL requests answered 200, in order: the workspace, localIds and temp assets of each. */
  presignCalls(): PresignCall[] {
    return clone(this.#state.presignCalls);
  }

  /** Update Process Status calls, in order. */
  statusUpdates(taskProcessId?: string): StatusUpdate[] {
    return clone(this.#state.statusUpdates.filter((s) => taskProcessId === undefined || s.taskProcessId === taskProcessId));
  }

  /** The Get Process Detail body CF would answer now. */
  processDetail(taskProcessId: string): Record<string, unknown> {
    return clone(this.#state.processDetail(this.#state.requireTask(taskProcessId)));
  }

  /** `inProgress` until a submission is accepted, `submitted` after (until outputs are rejected). */
  taskState(taskProcessId: string): 'inProgress' | 'submitted' {
    return this.#state.requireTask(taskProcessId).state;
  }

  /** The outputs CF holds for a task process. */
  outputs(taskProcessId: string): StoredOutput[] {
    return clone(this.#state.requireTask(taskProcessId).outputs);
  }

  /** Every token and gateway request (not S3), in arrival order. */
  callLog(): CallLogEntry[] {
    return this.#calls.entries();
  }

  /** Max token + gateway arrivals (any status) within any sliding window of `windowMs`. */
  maxRequestsInWindow(windowMs = 1000): number {
    return maxInWindow(this.#calls.arrivals(), windowMs);
  }

  /** How many 429 answers were given (rate limit and forced). */
  count429(): number {
    return this.#count429;
  }

  /** Forgets the call log and the 429 count (for benchmarks measuring one phase). */
  resetCallLog(): void {
    this.#calls.clear();
    this.#count429 = 0;
  }

  /** Successful S3 downloads and uploads. */
  s3Stats(): { gets: number; puts: number } {
    return { gets: this.#s3.gets, puts: this.#s3.puts };
  }

  /** The bytes uploaded to a temp asset's pre-signed URL, if the upload completed. */
  uploadedObject(tempAssetId: string): { contentType: string; body: Buffer } | undefined {
    const temp = this.#state.tempAssets.get(tempAssetId);
    const object = temp?.uploaded ? this.#s3.getObject(temp.objectKey) : undefined;
    return object ? { contentType: object.contentType, body: Buffer.from(object.body) } : undefined;
  }

  // ---- fault injection -----------------------------------------------------------------------

  /**
   * The next `count` Submit Output requests are processed (accepted or refused, and recorded as
   * usual) but their answer is lost: the connection is dropped instead, as on a network failure
   * after Creative Force acted.
   */
  loseSubmitAnswers(count = 1): void {
    this.#lostSubmitAnswers += count;
  }

  /** Answers 429 to every token and gateway request for `durationMs`; `retryAfterSeconds: null` sends no Retry-After. */
  forceRateLimit(durationMs: number, opts: { retryAfterSeconds?: number | null } = {}): void {
    this.#forced.force(durationMs, opts.retryAfterSeconds === undefined ? 1 : opts.retryAfterSeconds, Date.now());
  }

  /**
   * Holds the next Submit Output request (after authentication) without recording or answering it
   * until `release()`. If the client disconnects meanwhile the request is dropped, not recorded.
   */
  holdSubmissions(): SubmissionHold {
    return this.#holds.create();
  }

  /**
   * Answers the next `times` requests matching `match` (token, gateway or S3) with `response`
   * instead of handling them. Token/gateway requests are still rate limited first.
   */
  failNext(match: FaultMatch, response: FaultResponse, times = 1): void {
    this.#faults.add(match, response, times);
  }

  /** Stops the server and drops open connections. */
  close(): Promise<void> {
    if (!this.#closing.signal.aborted) {
      // Held Submit Output requests are let go and then dropped unanswered (see #answer).
      this.#closing.abort();
      this.#holds.releaseAll();
    }
    return this.#http.close();
  }

  // ---- request handling ----------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.baseUrl);
    let clientGone = false;
    res.once('close', () => {
      if (!res.writableFinished) clientGone = true;
    });

    if (url.pathname.startsWith(s3PathPrefix)) {
      const body = await this.#readOrDrop(req, res);
      if (body === undefined) return;
      const reply =
        this.#faults.take(method, url.pathname) ??
        this.#s3.handle(
          { method, url, headers: req.headers, body },
          Date.now(),
          (key) => {
            const id = this.#state.tempAssetByObjectKey.get(key);
            const temp = id ? this.#state.tempAssets.get(id) : undefined;
            return temp ? { contentType: temp.contentType } : undefined;
          },
          (key) => {
            const id = this.#state.tempAssetByObjectKey.get(key);
            const temp = id ? this.#state.tempAssets.get(id) : undefined;
            if (temp) temp.uploaded = true;
          },
        );
      this.#logger.debug({ method, path: url.pathname, status: reply.status }, 'cf-sim s3');
      writeReply(res, reply);
      return;
    }

    const isToken = url.pathname === tokenPath;
    const isGateway = url.pathname.startsWith(`${gatewayPrefix}/`);
    if (!isToken && !isGateway) {
      if ((await this.#readOrDrop(req, res)) !== undefined) writeReply(res, { status: 404 });
      return;
    }

    const clientIp = clientIpOf(req);
    const entry = this.#calls.record({ at, method, path: url.pathname, clientIp, status: 0 });
    // The limiter decides on arrival, before the body is read.
    const allowed = this.#limiter.arrive(clientIp, at);
    const forced = this.#forced.active(at);
    const body = await this.#readOrDrop(req, res);
    if (body === undefined) return;

    const reply = await this.#answer({ req, method, url, body, allowed, forced, isToken, gone: () => clientGone });
    if (reply === undefined) {
      this.#logger.debug({ method, path: url.pathname }, 'cf-sim request dropped');
      return;
    }
    if (reply.status === 429) this.#count429++;
    entry.status = reply.status;
    this.#logger.debug({ method, path: url.pathname, status: reply.status, clientIp }, 'cf-sim request');
    writeReply(res, reply);
  }

  async #answer(r: {
    req: IncomingMessage;
    method: string;
    url: URL;
    body: Buffer;
    allowed: boolean;
    forced: { retryAfterSeconds: number | null } | undefined;
    isToken: boolean;
    gone: () => boolean;
  }): Promise<Reply | undefined> {
    if (r.forced) {
      const headers: Record<string, string> =
        r.forced.retryAfterSeconds === null ? {} : { 'retry-after': String(r.forced.retryAfterSeconds) };
      return { status: 429, headers, body: tooManyRequestsBody };
    }
    if (!r.allowed) return { status: 429, headers: { 'retry-after': '1' }, body: tooManyRequestsBody };
    const fault = this.#faults.take(r.method, r.url.pathname);
    if (fault) return fault;
    const now = Date.now();
    if (r.isToken) {
      return this.#tokens.handleTokenRequest(r.method, r.req.headers['content-type'], r.req.headers.authorization, r.body, now);
    }
    // 401 carries an empty body, as the KNOWN gateway does.
    if (!this.#tokens.isAuthorized(r.req.headers.authorization, now)) {
      return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
    }
    const matched = matchRoute(this.#routes, r.method, r.url.pathname.slice(gatewayPrefix.length));
    if (matched === undefined) return { status: 404 };
    if (matched === 'method-not-allowed') return { status: 405 };
    if (matched.route.name === 'submitOutput') {
      const released = this.#holds.claim(matched.params.taskProcessId ?? '');
      if (released) {
        await Promise.race([released, this.#closingPromise()]);
        // Let pending socket events run first: a client killed just before release() has its
        // FIN queued already, and must count as gone rather than race the release.
        await new Promise((resolve) => setImmediate(resolve));
        if (r.gone() || this.#closing.signal.aborted) return undefined;
      }
    }
    const ctx: RouteContext = {
      state: this.#state,
      s3: this.#s3,
      baseUrl: this.#publicOrigin,
      statusBodyFields: { ...this.statusBodyFields },
      wireForms: this.wireForms,
      caps: this.sharedCallCaps,
    };
    const reply = await matched.route.handle(ctx, {
      params: matched.params,
      headers: r.req.headers,
      body: r.body,
      now: Date.now(),
    });
    if (renamedAnswers.has(matched.route.name) && reply.status < 300) {
      reply.body = renameAnswerFields(reply.body, this.wireForms.fieldAliases);
    }
    if (matched.route.name === 'submitOutput' && this.#lostSubmitAnswers > 0) {
      // Recorded and acted on, but the answer never reaches the client.
      this.#lostSubmitAnswers -= 1;
      r.req.socket.destroy();
      return undefined;
    }
    return reply;
  }

  #closingPromise(): Promise<void> {
    const signal = this.#closing.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  /** Reads the body; on failure (too large, client gone) ends the exchange and returns undefined. */
  async #readOrDrop(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
    try {
      return await readBody(req, maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError && !res.headersSent) {
        res.once('finish', () => req.socket.destroy());
        writeReply(res, { status: 413, headers: { connection: 'close' } });
      } else {
        res.destroy();
      }
      return undefined;
    }
  }
}
