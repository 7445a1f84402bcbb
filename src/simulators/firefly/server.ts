/**
 * The Adobe Firefly Creative Production Workflow API simulator ("Workflow Builder API",
 * docs/providers/firefly.md): a real HTTP server on loopback answering like
 * `https://run-workflow.adobe.io` (the batch endpoints), Adobe IMS's token call (`/ims/token/v3`)
 * and the storage of produced images
 * (`/outputs/…`), plus the test-facing API to register credentials and workflows, fail runs, inject
 * faults and inspect what clients did.
 *
 * Order of checks of an API call (not documented; the simulator's choice): injected fault, the four
 * authentication headers (401/403), the per-(org, user) rate limit (429), `api-version` (400), the
 * route (404/405), the body size (413), then the endpoint. Every API answer carries
 * `api-version: 1.0` and the `x-ratelimit-*` headers (for an unauthenticated call, those of the org
 * and user its headers claim, without using their budget).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import { CallLog } from '../harness/call-log.ts';
import { FaultQueue } from '../harness/fault-queue.ts';
import { type CappedBody, type Reply, readCappedBody, writeReply } from '../harness/http-io.ts';
import { LoopbackServer } from '../harness/loopback-server.ts';
import { LostAnswers } from '../harness/lost-answers.ts';
import { methodNotAllowed, noSuchPath, payloadTooLarge, rateLimited, unsupportedApiVersion } from './errors.ts';
import type { InputUrlPolicy } from './execute-request.ts';
import { ImsTokens, imsTokenPath, single } from './ims.ts';
import { OutputStore, outputsPrefix } from './outputs.ts';
import { callerKey, FixedWindowLimiter, type RateLimitState, rateLimitHeaders, resetSeconds } from './rate-limit.ts';
import { batchIdOf, type RouteContext, routes } from './routes.ts';
import { FireflyState } from './state.ts';
import {
  type FireflyBatchRecord,
  type FireflyCallLogEntry,
  type FireflyCredential,
  type FireflyFaultMatch,
  type FireflyFaultResponse,
  type FireflySimulatorOptions,
  type FireflyWorkflow,
  fireflyDocumentedInputHosts,
  fireflyDocumentedScopes,
} from './types.ts';
import { RunWorker } from './work.ts';

/** Largest request body (the real limit is not documented). */
const maxBodyBytes = 1024 * 1024;
/** The only `api-version` of the contract. */
const apiVersion = '1.0';

/** A fake Workflow API on a loopback port. Start it with {@link FireflySimulator.start}. */
export class FireflySimulator {
  /** The run-workflow API base, `http://host:port` (production: `https://run-workflow.adobe.io`). */
  readonly baseUrl: string;
  /** The IMS token endpoint on the same server: `${baseUrl}/ims/token/v3`. */
  readonly tokenUrl: string;

  readonly #http: LoopbackServer;
  readonly #logger: Logger;
  readonly #tokens: ImsTokens;
  readonly #limiter: FixedWindowLimiter;
  readonly #state: FireflyState;
  readonly #outputs: OutputStore;
  readonly #worker: RunWorker;
  readonly #policy: InputUrlPolicy;
  readonly #faults = new FaultQueue();
  readonly #lost = new LostAnswers();
  readonly #calls = new CallLog<FireflyCallLogEntry>();

  private constructor(http: LoopbackServer, options: FireflySimulatorOptions) {
    this.#http = http;
    this.baseUrl = http.baseUrl;
    this.tokenUrl = http.baseUrl + imsTokenPath;
    this.#logger = options.logger?.child({ component: 'firefly-simulator' }) ?? pino({ level: 'silent' });
    this.#tokens = new ImsTokens(options.tokenTtlSeconds ?? 86399, options.requiredImsScopes ?? fireflyDocumentedScopes);
    this.#limiter = new FixedWindowLimiter(options.rateLimit ?? { limit: 60, windowMs: 60_000 });
    this.#state = new FireflyState(options.executionDurationMs ?? 1000);
    this.#outputs = new OutputStore(http.baseUrl);
    this.#worker = new RunWorker(this.#outputs, this.#logger);
    this.#policy = {
      acceptedHosts: [...(options.acceptedInputHosts ?? fireflyDocumentedInputHosts)],
      allowHttpLoopback: options.allowHttpLoopbackInputs ?? false,
      acceptedStorageTypes: [...(options.acceptedStorageTypes ?? ['AWS'])],
    };
    http.serve((req, res) => this.#handle(req, res), {
      onFailure: (err) => {
        this.#logger.error({ err }, 'firefly simulator request failed');
        return {
          status: 500,
          body: { error: 'Internal server error', message: 'An unexpected error occurred', status: 'failed' },
        };
      },
    });
  }

  /** Starts a simulator listening on `options.host:options.port` (default 127.0.0.1, random port). */
  static async start(options: FireflySimulatorOptions = {}): Promise<FireflySimulator> {
    return new FireflySimulator(await LoopbackServer.listen(options), options);
  }

  // ---- seeding -------------------------------------------------------------------------------

  /** Registers an OAuth Server-to-Server credential (a known client ID is replaced). */
  addCredential(credential: FireflyCredential): void {
    this.#tokens.add(credential);
  }

  /** Publishes a workflow (a known UUID is replaced). Throws when the UUID or the node list is invalid. */
  addWorkflow(workflow: FireflyWorkflow): void {
    this.#state.addWorkflow(workflow);
  }

  /** Makes the batches accepted from now on take `ms` (their runs finish staggered over it). */
  setExecutionDuration(ms: number): void {
    this.#state.setDuration(ms);
  }

  /**
   * Makes run `runIndex` (default 0) end `failed` with an error: of the batch `batchId`, or, when
   * `batchId` is omitted, of the next batch accepted (calls add up; an index beyond that batch's
   * runs is ignored). Other runs are unaffected (continue-on-error). Throws for an unknown batch or
   * run, or a run already ended.
   */
  failRun(batchId?: string, runIndex = 0): void {
    if (!Number.isInteger(runIndex) || runIndex < 0) throw new Error('runIndex must be a non-negative integer');
    if (batchId === undefined) {
      this.#state.failInNextBatch(runIndex);
      return;
    }
    const batch = this.#state.batches.get(batchId);
    if (!batch) throw new Error(`unknown batch ${batchId}`);
    const run = batch.runs[runIndex];
    if (!run) throw new Error(`batch ${batchId} has no run ${runIndex}`);
    const status = run.status(Date.now());
    if (status === 'success' || status === 'failed') throw new Error(`run ${runIndex} of ${batchId} already ended (${status})`);
    run.forceFailure();
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Paid batches (every accepted `POST /batch/execute`), in order, with the runs' inputs as received. */
  batches(): FireflyBatchRecord[] {
    return structuredClone(this.#state.records);
  }

  /** How many batches were accepted (paid). */
  batchCount(): number {
    return this.#state.records.length;
  }

  /** Every input URL the simulator fetched (GET), in order. */
  fetchedInputs(): string[] {
    return [...this.#worker.fetched];
  }

  /** Every HTTP request (IMS, API, outputs), in arrival order. */
  callLog(): FireflyCallLogEntry[] {
    return this.#calls.entries();
  }

  // ---- fault injection -----------------------------------------------------------------------

  /**
   * Answers the next `times` requests matching `match` with `response` instead of handling them
   * (before authentication and the rate limit; no headers are added). `match.pathIncludes` is
   * matched against the path, e.g. `/batch/execute`.
   */
  failNext(match: FireflyFaultMatch, response: FireflyFaultResponse, times = 1): void {
    this.#faults.add(match, response, times);
  }

  /**
   * The next `times` requests matching `match` are handled as usual (a batch is accepted, paid and
   * run) but their answer is lost: the connection is dropped instead, as on a network failure after
   * Firefly acted.
   */
  loseAnswers(match: FireflyFaultMatch, times = 1): void {
    this.#lost.add(match, times);
  }

  /** Expires every IMS token issued so far: the next API call with one answers 401. */
  expireTokens(): void {
    this.#tokens.expireAll();
  }

  /** Stops runs in progress (no further inputs are fetched), the server, and drops open connections. */
  close(): Promise<void> {
    this.#worker.close();
    return this.#http.close();
  }

  // ---- request handling ----------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.#http.baseUrl);
    const entry = this.#calls.record({ at: Date.now(), method, path: url.pathname, status: 0 });
    let body: CappedBody;
    try {
      body = await readCappedBody(req, maxBodyBytes);
    } catch {
      res.destroy();
      return;
    }
    const reply = this.#answer(req, method, url, body);
    entry.status = reply.status;
    this.#logger.debug({ method, path: url.pathname, status: reply.status }, 'firefly-sim request');
    if (this.#lost.dropped(method, url.pathname, res)) return;
    writeReply(res, reply);
  }

  #answer(req: IncomingMessage, method: string, url: URL, body: CappedBody): Reply {
    const fault = this.#faults.take(method, url.pathname);
    if (fault) return fault;
    const now = Date.now();
    const path = url.pathname;
    if (path === imsTokenPath) {
      if (method !== 'POST') return methodNotAllowed(['POST']);
      if (body.overCap) return payloadTooLarge(maxBodyBytes);
      return this.#tokens.issue(req.headers['content-type'], body.body, now);
    }
    if (path.startsWith(outputsPrefix)) {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(['GET', 'HEAD']);
      return this.#outputs.serve(path, url.searchParams);
    }
    const auth = this.#tokens.authenticate(req.headers, now);
    if (!auth.ok) {
      const claimed = callerKey(single(req.headers['x-gw-ims-org-id']) ?? '', single(req.headers['x-gw-ims-user-id']) ?? '');
      return withApiHeaders(auth.reply, this.#limiter.peek(claimed, now));
    }
    const limit = this.#limiter.consume(callerKey(auth.credential.orgId, auth.credential.userId), now);
    if (!limit.allowed) return withApiHeaders(rateLimited(resetSeconds(limit)), limit);
    const version = single(req.headers['api-version']);
    if (version !== undefined && version !== apiVersion) return withApiHeaders(unsupportedApiVersion(), limit);
    return withApiHeaders(this.#route(method, url, body, auth.credential, now), limit);
  }

  #route(method: string, url: URL, { body, overCap }: CappedBody, caller: FireflyCredential, now: number): Reply {
    const allowed: string[] = [];
    for (const route of routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      if (overCap) return payloadTooLarge(maxBodyBytes);
      const ctx: RouteContext = { state: this.#state, worker: this.#worker, policy: this.#policy, baseUrl: this.baseUrl };
      return route.handle(ctx, { url, batchId: batchIdOf(match), body, caller, now });
    }
    return allowed.length > 0 ? methodNotAllowed(allowed) : noSuchPath();
  }
}

/** The reply with `api-version` and the `x-ratelimit-*` headers added. */
function withApiHeaders(reply: Reply, limit: RateLimitState): Reply {
  return { ...reply, headers: { ...(reply.headers ?? {}), 'api-version': apiVersion, ...rateLimitHeaders(limit) } };
}
