/**
 * The Sartiq simulator: a real HTTP server on loopback that answers like the Sartiq Backend API
 * under `/api/v1` (its "Generation Endpoints" reference and "Authentication" page) — login,
 * presigned uploads, the generation endpoints and their polling — plus its object storage
 * (`/temp/…` uploads, `/media/…` results), and the test-facing API to register users, inject
 * failures and inspect what clients did.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import { CallLog } from '../harness/call-log.ts';
import { FaultQueue } from '../harness/fault-queue.ts';
import { type CappedBody, type Reply, readCappedBody, writeReply } from '../harness/http-io.ts';
import { LoopbackServer } from '../harness/loopback-server.ts';
import { LostAnswers } from '../harness/lost-answers.ts';
import { Accounts, TokenStore } from './auth.ts';
import { detail, methodNotAllowed, noSuchPath } from './errors.ts';
import { maxUploadBytes, mediaPrefix, tempPrefix } from './files.ts';
import { generationRoutes } from './generation-routes.ts';
import { readRoutes } from './read-routes.ts';
import { refineRoutes } from './refine-routes.ts';
import { matchPath, type Route } from './route.ts';
import { SimState } from './state.ts';
import type {
  CallLogEntry,
  FaultMatch,
  FaultResponse,
  GenerationRecord,
  RefineRecord,
  SartiqAccount,
  SartiqSimulatorOptions,
  UploadRecord,
} from './types.ts';
import { uploadRoutes } from './upload-routes.ts';
import { userRoutes } from './user-routes.ts';
import { FieldReader } from './validation.ts';

/** Path prefix of the API, as in `https://api.sartiq.com/api/v1`. */
const apiPrefix = '/api/v1';
/** The OAuth2 token URL, relative to {@link apiPrefix}. */
const loginPath = '/login/access-token';
/** Largest body of an API call (JSON or form); not documented by Sartiq. */
const maxApiBodyBytes = 1024 * 1024;

/** In FastAPI's order: the first route whose path and method match answers. */
const routes: readonly Route[] = [...uploadRoutes, ...userRoutes, ...generationRoutes, ...refineRoutes, ...readRoutes];

/** A fake Sartiq Backend on a loopback port. Start it with {@link SartiqSimulator.start}. */
export class SartiqSimulator {
  /** `http://host:port/api/v1`: the service's `SARTIQ_API_BASE_URL`. */
  readonly baseUrl: string;

  readonly #http: LoopbackServer;
  readonly #logger: Logger;
  readonly #state: SimState;
  readonly #accounts = new Accounts();
  readonly #tokens: TokenStore;
  readonly #faults = new FaultQueue();
  readonly #lost = new LostAnswers();
  readonly #calls = new CallLog<CallLogEntry>();

  private constructor(http: LoopbackServer, options: SartiqSimulatorOptions) {
    this.#http = http;
    this.baseUrl = http.baseUrl + apiPrefix;
    this.#logger = options.logger?.child({ component: 'sartiq-simulator' }) ?? pino({ level: 'silent' });
    this.#state = new SimState(http.baseUrl, options.predictionDurationMs ?? 1000);
    this.#tokens = new TokenStore(this.#accounts, options.tokenTtlSeconds ?? 3600);
    http.serve((req, res) => this.#handle(req, res), {
      onFailure: (err) => {
        this.#logger.error({ err }, 'sartiq simulator request failed');
        return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Internal Server Error' };
      },
    });
  }

  /** Starts a simulator listening on `options.host:options.port` (default 127.0.0.1, random port). */
  static async start(options: SartiqSimulatorOptions = {}): Promise<SartiqSimulator> {
    return new SartiqSimulator(await LoopbackServer.listen(options), options);
  }

  // ---- seeding -------------------------------------------------------------------------------

  /**
   * Registers a user (or updates a known email's password and adds the organization to it).
   * Throws when `organizationId` is not a UUID.
   */
  addAccount(account: SartiqAccount): void {
    this.#accounts.add(account);
  }

  /** Makes the generations and refines created from now on take `ms` (their predictions finish staggered over it). */
  setPredictionDuration(ms: number): void {
    this.#state.setDuration(ms);
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Paid generations created, in order (a refine request creates one per uploaded image). */
  generations(): GenerationRecord[] {
    return structuredClone(this.#state.records);
  }

  /** The ids of a generation's predictions, in order (none for an unknown generation). */
  predictionIds(generationId: string): string[] {
    return this.#state.generations.get(generationId)?.predictions.map((p) => p.id) ?? [];
  }

  /** How many paid generations were created. Prediction refines create no generation and are not counted. */
  generationCount(): number {
    return this.#state.records.length;
  }

  /** Refines of predictions created (`POST /generations/refines` with `prediction_ids`), in order. */
  refines(): RefineRecord[] {
    return structuredClone(this.#state.refineRecords);
  }

  /**
   * The bytes of a file the simulator holds (an upload, or a finished result) by the URL or key a
   * request gave, e.g. an entry of `reference_images`; undefined for any other reference.
   */
  async fileAt(reference: string): Promise<Buffer | undefined> {
    const found = this.#state.files.lookup(reference, Date.now());
    return found.kind === 'local' ? found.data() : undefined;
  }

  /** Files PUT to presigned upload URLs, in order. */
  uploads(): UploadRecord[] {
    return structuredClone(this.#state.files.uploads);
  }

  /** Every HTTP request (API and storage), in arrival order. */
  callLog(): CallLogEntry[] {
    return this.#calls.entries();
  }

  // ---- fault injection -----------------------------------------------------------------------

  /** Expires every access token issued so far: the next call with one answers 401 "Could not validate credentials". */
  expireTokens(): void {
    this.#tokens.expireAll();
  }

  /**
   * Answers the next `times` requests matching `match` with `response` instead of handling them
   * (before authentication). `match.pathIncludes` is matched against the full path, `/api/v1/…`.
   */
  failNext(match: FaultMatch, response: FaultResponse, times = 1): void {
    this.#faults.add(match, response, times);
  }

  /**
   * The next `times` requests matching `match` (matched against the full path, `/api/v1/…`) are
   * handled as usual (a generation is created, paid and recorded) but their answer is lost: the
   * connection is dropped instead, as on a network failure after Sartiq acted.
   */
  loseAnswers(match: FaultMatch, times = 1): void {
    this.#lost.add(match, times);
  }

  /**
   * In the next created generation, the last `count` predictions (all, when `count` exceeds the
   * batch) end in status `error` with an `error_message` and `error_category`; the generation is
   * COMPLETED when any prediction completes, else FAILED.
   */
  errorPredictions(count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new Error('count must be a non-negative integer');
    this.#state.pendingPredictionErrors = count;
  }

  /**
   * The confidence scores the evaluator gives the attempts of the next agentic run, in order (the
   * last repeats): attempts go on until one reaches the run's `min_confidence_score`, at most
   * `max_attempts`. Default (and after each run): one attempt scoring 0.9.
   */
  scoreAgenticAttempts(scores: readonly number[]): void {
    if (scores.length === 0 || scores.some((s) => !Number.isFinite(s) || s < 0 || s > 1)) {
      throw new Error('scores must be a non-empty list of numbers between 0 and 1');
    }
    this.#state.pendingAgenticScores = [...scores];
  }

  /** Stops the server and drops open connections. */
  close(): Promise<void> {
    return this.#http.close();
  }

  // ---- request handling ----------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.#http.baseUrl);
    const entry = this.#calls.record({ at: Date.now(), method, path: url.pathname, status: 0 });
    const upload = method === 'PUT' && url.pathname.startsWith(tempPrefix);
    let body: CappedBody;
    try {
      body = await readCappedBody(req, upload ? maxUploadBytes : maxApiBodyBytes);
    } catch {
      res.destroy();
      return;
    }
    const reply = await this.#answer(req, method, url, body);
    entry.status = reply.status;
    this.#logger.debug({ method, path: url.pathname, status: reply.status }, 'sartiq-sim request');
    if (this.#lost.dropped(method, url.pathname, res)) return;
    writeReply(res, reply);
  }

  async #answer(req: IncomingMessage, method: string, url: URL, { body, overCap }: CappedBody): Promise<Reply> {
    const fault = this.#faults.take(method, url.pathname);
    if (fault) return fault;
    const now = Date.now();
    const path = url.pathname;
    if (path.startsWith(tempPrefix) || path.startsWith(mediaPrefix)) {
      if (overCap) return detail(413, 'Request body too large');
      if (method === 'GET') return this.#state.files.serve(path, now);
      if (method === 'PUT' && path.startsWith(tempPrefix)) {
        return this.#state.files.put(path, url.searchParams, req.headers['content-type'], body, now);
      }
      return methodNotAllowed(path.startsWith(tempPrefix) ? ['GET', 'PUT'] : ['GET']);
    }
    if (!path.startsWith(`${apiPrefix}/`)) return noSuchPath();
    const apiPath = path.slice(apiPrefix.length);
    if (apiPath === loginPath) {
      if (method !== 'POST') return methodNotAllowed(['POST']);
      return overCap ? detail(413, 'Request body too large') : this.#tokens.login(req.headers['content-type'], body, now);
    }
    const routed = findRoute(method, apiPath);
    if (routed.kind === 'none') return redirectSlash(url, apiPath) ?? noSuchPath();
    if (routed.kind === 'method') return methodNotAllowed(routed.allowed);
    const auth = this.#tokens.authenticate(req.headers.authorization, now);
    if (!auth.ok) return auth.reply;
    const query = new FieldReader({ organization_id: url.searchParams.get('organization_id') ?? undefined }, 'query');
    const organizationId = query.uuid('organization_id');
    const problem = query.problem();
    if (problem) return problem;
    if (overCap) return detail(413, 'Request body too large');
    return routed.route.handle(
      { state: this.#state },
      { url, params: routed.params, body, contentType: req.headers['content-type'], account: auth.account, organizationId, now },
    );
  }
}

type Routed =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method'; allowed: string[] }
  | { kind: 'none' };

/** The first route matching path and method; else whether the path exists with other methods. */
function findRoute(method: string, apiPath: string): Routed {
  const allowed: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.path, apiPath);
    if (!params) continue;
    if (route.method === method) return { kind: 'found', route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
}

/** FastAPI's `redirect_slashes`: 307 to the same path with the trailing slash added or removed, when that one exists. */
function redirectSlash(url: URL, apiPath: string): Reply | undefined {
  const other = apiPath.endsWith('/') ? apiPath.slice(0, -1) : `${apiPath}/`;
  if (!routes.some((route) => matchPath(route.path, other))) return undefined;
  const location = new URL(url);
  location.pathname = apiPrefix + other;
  return { status: 307, headers: { location: location.toString() } };
}
