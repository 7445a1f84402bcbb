/**
 * The AdCreative.ai simulator: a real HTTP server on loopback that answers like AdCreative's
 * Authorization, Product Photoshoot, Background Remover, Image Upscaler and Face Enhancer APIs
 * (as the AdCreative.ai API docs describe them), plus the test-facing API to register
 * applications, inject failures and inspect what clients did.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import { CallLog } from '../harness/call-log.ts';
import { FaultQueue } from '../harness/fault-queue.ts';
import { type CappedBody, type Reply, readCappedBody, type WriteReplyOptions, writeReply } from '../harness/http-io.ts';
import { LoopbackServer } from '../harness/loopback-server.ts';
import { LostAnswers } from '../harness/lost-answers.ts';
import { standardError, unauthorized } from './error-bodies.ts';
import { imageFeatureWire } from './image-feature-wire.ts';
import { imageJobRoutes } from './image-job-routes.ts';
import { adCreativeSimulatorPaths } from './paths.ts';
import { photoshootRoutes } from './photoshoot-routes.ts';
import { isPublicPath, servePublicFile } from './public-files.ts';
import { resultRoutes } from './result-routes.ts';
import type { Route, RouteContext } from './route.ts';
import { SimState } from './state.ts';
import { TokenStore } from './tokens.ts';
import type {
  AdCreativeApplication,
  AdCreativeSimulatorOptions,
  CallLogEntry,
  DownloadRecord,
  FaultMatch,
  FaultResponse,
  GenerationRecord,
  UploadRecord,
} from './types.ts';

/** Largest body of a request that takes no image. */
const maxJsonBodyBytes = 1024 * 1024;
/** Room for the text fields and multipart framing of an upload, on top of the image limit. */
const uploadFramingBytes = 256 * 1024;

/** A string body (the background-removal errors) goes as text/plain unless its reply says otherwise. */
const replyOptions: WriteReplyOptions = { textContentType: 'text/plain; charset=utf-8' };

/** A fake AdCreative.ai on a loopback port. Start it with {@link AdCreativeSimulator.start}. */
export class AdCreativeSimulator {
  /** `http://host:port`; the paths of `adCreativeSimulatorPaths` are under it. */
  readonly baseUrl: string;

  readonly #http: LoopbackServer;
  readonly #logger: Logger;
  readonly #state: SimState;
  readonly #tokens: TokenStore;
  readonly #faults = new FaultQueue();
  readonly #lost = new LostAnswers();
  readonly #maxUploadBytes: number;
  readonly #calls = new CallLog<CallLogEntry>();
  readonly #routes: readonly Route[];

  private constructor(http: LoopbackServer, options: AdCreativeSimulatorOptions) {
    this.#http = http;
    this.baseUrl = http.baseUrl;
    this.#logger = options.logger?.child({ component: 'adcreative-simulator' }) ?? pino({ level: 'silent' });
    this.#state = new SimState(options.taskDurationMs ?? 1500);
    this.#tokens = new TokenStore(this.#state.applications, options.accessTokenTtlMs ?? 3_600_000);
    this.#maxUploadBytes = options.maxUploadBytes ?? 12 * 1024 * 1024;
    const wire = imageFeatureWire(options.imageFeatureWire);
    this.#routes = [...photoshootRoutes, ...imageJobRoutes(wire), ...resultRoutes(wire)];
    http.serve((req, res) => this.#handle(req, res), {
      onFailure: (err) => {
        this.#logger.error({ err }, 'adcreative simulator request failed');
        return standardError(500, { 'engine:': ['Unexpected error in the simulator.'] });
      },
      writeOptions: replyOptions,
    });
  }

  /** Starts a simulator listening on `options.host:options.port` (default 127.0.0.1, random port). */
  static async start(options: AdCreativeSimulatorOptions = {}): Promise<AdCreativeSimulator> {
    return new AdCreativeSimulator(await LoopbackServer.listen(options), options);
  }

  // ---- seeding -------------------------------------------------------------------------------

  /** Registers (or replaces) an integrator application; `applicationId` must be a GUID. */
  addApplication(application: AdCreativeApplication): void {
    this.#state.applications.add(application);
  }

  /**
   * Sets an application's credits. Each accepted start (Product Photoshoot or image feature)
   * costs one; at 0, starts and Downloads answer the documented 400 "Error decreasing Api Key
   * Credits for Application …". Downloads check the credits without spending them.
   */
  setCredits(applicationId: string, credits: number): void {
    this.#state.applications.require(applicationId).credits = credits;
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Makes the processes started from now on take `ms` to finish. */
  setTaskDuration(ms: number): void {
    this.#state.setTaskDuration(ms);
  }

  /** Accepted paid starts (Product Photoshoot starts and image feature starts). */
  paidGenerations(): number {
    return this.#state.generations.length;
  }

  /** Accepted paid starts, in order. */
  generations(): GenerationRecord[] {
    return structuredClone(this.#state.generations);
  }

  /** File parts read from upload requests (within the size of a body the simulator parses), in order. */
  uploads(): UploadRecord[] {
    return structuredClone(this.#state.uploads);
  }

  /** Successful Download calls, in order. */
  downloads(): DownloadRecord[] {
    return structuredClone(this.#state.downloads);
  }

  /** Every HTTP request, in arrival order. */
  callLog(): CallLogEntry[] {
    return this.#calls.entries();
  }

  // ---- fault injection -----------------------------------------------------------------------

  /** Expires every access token issued so far: the next call with one answers 401. Refresh tokens stay valid. */
  expireTokens(): void {
    this.#tokens.expireAccessTokens();
  }

  /**
   * Answers the next `times` requests matching `match` with `response` instead of handling them
   * (before authentication).
   */
  failNext(match: FaultMatch, response: FaultResponse, times = 1): void {
    this.#faults.add(match, response, times);
  }

  /**
   * The next `times` requests matching `match` are handled as usual (a start is accepted, paid and
   * recorded) but their answer is lost: the connection is dropped instead, as on a network failure
   * after AdCreative acted.
   */
  loseAnswers(match: FaultMatch, times = 1): void {
    this.#lost.add(match, times);
  }

  /**
   * The next `next` valid Recommendations / BackgroundRemoving starts answer 400 with the
   * documented background-removal error: the text "Error while removing background:" followed by
   * `{"errors":[{"title":"Could not identify foreground in image","code":"unknown_foreground"}]}`.
   */
  refuseForeground(next = 1): void {
    this.#state.pendingForegroundRefusals += next;
  }

  /**
   * The next `next` started processes fail: half their tasks (rounded down) finish, then progress
   * stops with `isSuccessful: false` and a non-empty `errorMessage`.
   */
  failGeneration(next = 1): void {
    this.#state.pendingGenerationFailures += next;
  }

  /** Stops the server and drops open connections. */
  close(): Promise<void> {
    return this.#http.close();
  }

  // ---- request handling ----------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.baseUrl);
    const entry = this.#calls.record({ at, method, path: url.pathname, status: 0 });
    const route = findRoute(this.#routes, url.pathname);
    const cap = route?.upload ? this.#maxUploadBytes + uploadFramingBytes : maxJsonBodyBytes;
    let body: CappedBody;
    try {
      body = await readCappedBody(req, cap);
    } catch {
      res.destroy();
      return;
    }
    const reply = await this.#answer(req, method, url, route, body);
    entry.status = reply.status;
    this.#logger.debug({ method, path: url.pathname, status: reply.status }, 'adcreative-sim request');
    if (this.#lost.dropped(method, url.pathname, res)) return;
    writeReply(res, reply, replyOptions);
  }

  async #answer(
    req: IncomingMessage,
    method: string,
    url: URL,
    route: Route | undefined,
    { body, overCap }: CappedBody,
  ): Promise<Reply> {
    const fault = this.#faults.take(method, url.pathname);
    if (fault) return fault;
    const now = Date.now();
    const ctx: RouteContext = { state: this.#state, baseUrl: this.baseUrl, maxUploadBytes: this.#maxUploadBytes };
    const path = url.pathname.toLowerCase();
    if (path === adCreativeSimulatorPaths.generateJwtToken.toLowerCase()) {
      return method === 'POST' ? this.#tokens.generate(req.headers['content-type'], body, now) : methodNotAllowed('POST');
    }
    if (path === adCreativeSimulatorPaths.refreshJwtToken.toLowerCase()) {
      return method === 'POST' ? this.#tokens.refresh(req.headers['content-type'], body, now) : methodNotAllowed('POST');
    }
    if (isPublicPath(url.pathname)) {
      return method === 'GET' ? servePublicFile(ctx, url.pathname, now) : methodNotAllowed('GET');
    }
    if (!route) return { status: 404 };
    if (route.method !== method) return methodNotAllowed(route.method);
    const applicationId = this.#tokens.authenticate(req.headers, now);
    if (applicationId === undefined) return unauthorized();
    if (overCap && !route.upload) return { status: 413 };
    return route.handle(ctx, { url, headers: req.headers, body, overCap, applicationId, now });
  }
}

/** The route of a path (ASP.NET routes are case-insensitive). */
function findRoute(routes: readonly Route[], pathname: string): Route | undefined {
  const path = pathname.toLowerCase();
  return routes.find((r) => r.path.toLowerCase() === path);
}

function methodNotAllowed(allow: string): Reply {
  return { status: 405, headers: { allow } };
}
