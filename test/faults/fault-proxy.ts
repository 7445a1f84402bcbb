/**
 * The fault proxy: a small HTTP proxy on loopback between the service and one simulator. Every
 * request is forwarded to the simulator unless a rule acts on it; a rule picks requests by method,
 * path and occurrence and then hangs them (never answers), drops them before forwarding (a reset:
 * the simulator never sees the request), drops them after forwarding (the simulator acted, the
 * answer is lost), delays them, or answers a status of its own. Hooks on a rule run when it acts
 * and when the simulator has answered, before the answer is relayed: a test kills a worker there.
 *
 * Point the service at it through the base-URL environment variables; absolute URLs a simulator
 * hands out (pre-signed S3 URLs) pass through it when the simulator is started with the proxy as
 * its public origin (`CfSimulatorOptions.publicOrigin`).
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallLog } from '../../src/simulators/harness/call-log.ts';
import { readBody, writeReply } from '../../src/simulators/harness/http-io.ts';
import { LoopbackServer } from '../../src/simulators/harness/loopback-server.ts';

/** What a rule does with a request it acts on. */
export type FaultAction =
  /** Forwards it as usual (for a rule that only observes, through its hooks). */
  | { kind: 'forward' }
  /** Never answers and never forwards: the client's own deadline has to end it. */
  | { kind: 'hang' }
  /** Resets the connection before forwarding: the simulator never sees the request. */
  | { kind: 'drop-before' }
  /** Forwards it, then resets the connection instead of relaying the answer. */
  | { kind: 'drop-after' }
  /** Waits `ms` (or until the client gives up: then nothing is forwarded), then forwards it. */
  | { kind: 'delay'; ms: number }
  /** Answers this instead of forwarding. */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> };

/** A request as a rule sees it. */
export interface ProxiedRequest {
  /** How many requests this rule has matched (method and path), this one included. */
  n: number;
  method: string;
  /** The path without the query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One fault: which requests (method, path, occurrence) and what happens to them. */
export interface FaultRule {
  /** Shown in the proxy's log for the requests it acted on; default the action's kind. */
  name?: string;
  /** Any method when omitted. */
  method?: string;
  path: RegExp;
  /** Which matching requests the rule acts on (default every one), e.g. `({ n }) => n === 1`. */
  when?: (request: ProxiedRequest) => boolean;
  /** How many times it acts before it retires; default unbounded. */
  times?: number;
  action: FaultAction;
  /** Runs when the rule acts on a request, before anything else happens to it. */
  onArrival?: (request: ProxiedRequest) => void | Promise<void>;
  /** Runs once the simulator has answered a forwarded request, before the answer is relayed or dropped. */
  onAnswered?: (request: ProxiedRequest, status: number) => void | Promise<void>;
}

/** One request through the proxy. */
export interface ProxyLogEntry {
  at: number;
  method: string;
  path: string;
  /** The status relayed or answered; 0 when the client got none (hang, drop, or it went away). */
  status: number;
  /** The rule that acted on it, if any. */
  fault: string | null;
}

interface ActiveRule {
  rule: FaultRule;
  matched: number;
  actsLeft: number;
}

/** Headers that belong to one connection and are not passed on. */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !hopByHop.has(name)) kept[name] = value;
  return kept;
}

/** The largest body the proxy takes (outputs of the fault tests are small images). */
const maxBodyBytes = 64 * 1024 * 1024;

export class FaultProxy {
  /** `http://127.0.0.1:port` */
  readonly baseUrl: string;
  readonly #http: LoopbackServer;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #calls = new CallLog<ProxyLogEntry>();
  #rules: ActiveRule[] = [];
  #upstream: URL | undefined;
  #inFlight = 0;

  private constructor(http: LoopbackServer) {
    this.#http = http;
    this.baseUrl = http.baseUrl;
    http.serve((req, res) => this.#handle(req, res), {
      onFailure: (err) => {
        process.stderr.write(`fault proxy: ${String(err)}\n`);
        return { status: 502 };
      },
    });
  }

  /** Starts a proxy on a random loopback port; it forwards to `upstream`, or to what `forwardTo` sets later. */
  static async start(upstream?: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(await LoopbackServer.listen());
    if (upstream) proxy.forwardTo(upstream);
    return proxy;
  }

  /** Sets the origin requests go to (a simulator started after the proxy, with the proxy as its public origin). */
  forwardTo(origin: string): void {
    this.#upstream = new URL(origin);
  }

  /** Adds a rule (after the ones already there: the first rule that acts on a request wins); returns its remover. */
  add(rule: FaultRule): () => void {
    const active = { rule, matched: 0, actsLeft: rule.times ?? Number.POSITIVE_INFINITY };
    this.#rules.push(active);
    return () => {
      this.#rules = this.#rules.filter((r) => r !== active);
    };
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** Requests the proxy holds now (hanging, delayed, forwarded and not answered yet). */
  inFlight(): number {
    return this.#inFlight;
  }

  /** Every request, in arrival order. */
  log(): ProxyLogEntry[] {
    return this.#calls.entries();
  }

  /** Stops listening and drops every connection (hanging requests included). */
  async close(): Promise<void> {
    await this.#http.close();
    this.#agent.destroy();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.baseUrl);
    const entry = this.#calls.record({ at, method, path: url.pathname, status: 0, fault: null });
    this.#inFlight += 1;
    let gone = false;
    res.once('close', () => {
      this.#inFlight -= 1;
      gone = !res.writableFinished;
    });
    let body: Buffer;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch {
      res.destroy();
      return;
    }

    const picked = this.#pick(method, url.pathname, req.headers, body);
    const action: FaultAction = picked?.rule.action ?? { kind: 'forward' };
    if (picked) {
      entry.fault = picked.rule.name ?? action.kind;
      await picked.rule.onArrival?.(picked.request);
    }
    switch (action.kind) {
      case 'hang':
        return; // the exchange stays open until the client or close() ends it
      case 'drop-before':
        req.socket.resetAndDestroy();
        return;
      case 'status':
        entry.status = action.status;
        writeReply(res, { status: action.status, body: action.body, headers: action.headers ?? {} });
        return;
      case 'delay':
        await Promise.race([sleep(action.ms), new Promise((resolve) => res.once('close', resolve))]);
        if (gone) return;
        break;
      default:
        break;
    }

    const answer = await this.#forward(method, url, req.headers, body);
    if (picked) await picked.rule.onAnswered?.(picked.request, answer.status);
    if (action.kind === 'drop-after') {
      req.socket.resetAndDestroy();
      return;
    }
    if (res.destroyed || res.writableEnded) return;
    entry.status = answer.status;
    res.writeHead(answer.status, { ...endToEnd(answer.headers), 'content-length': String(answer.body.length) });
    res.end(answer.body);
  }

  /** The rule that acts on this request (counting it for every rule that matches), with the request as it saw it. */
  #pick(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): { rule: FaultRule; request: ProxiedRequest } | undefined {
    let picked: { rule: FaultRule; request: ProxiedRequest } | undefined;
    for (const active of this.#rules) {
      const { rule } = active;
      if ((rule.method !== undefined && rule.method.toUpperCase() !== method) || !rule.path.test(path)) continue;
      active.matched += 1;
      const request = { n: active.matched, method, path, headers, body };
      if (picked || active.actsLeft <= 0 || !(rule.when?.(request) ?? true)) continue;
      active.actsLeft -= 1;
      picked = { rule, request };
    }
    return picked;
  }

  /**
   * Sends the request to the upstream and reads its whole answer. A reset on a kept-alive
   * connection before any answer is the upstream closing it as idle while the request was on its
   * way (it never read it): the request is sent again on a new connection, as HTTP clients do, so
   * the proxy adds no fault of its own.
   */
  async #forward(
    method: string,
    url: URL,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#send(method, url, headers, body);
      } catch (err) {
        if (!(err instanceof StaleConnection) || attempt === 3) throw err;
      }
    }
  }

  #send(
    method: string,
    url: URL,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const upstream = this.#upstream;
    if (!upstream) throw new Error('fault proxy: no upstream set (forwardTo)');
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          agent: this.#agent,
          host: upstream.hostname,
          port: upstream.port,
          method,
          path: url.pathname + url.search,
          headers: { ...endToEnd(headers), 'content-length': String(body.length) },
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () =>
            resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
          );
          answer.on('error', reject);
        },
      );
      outgoing.on('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ECONNRESET' && outgoing.reusedSocket ? new StaleConnection() : err);
      });
      outgoing.end(body);
    });
  }
}

/** The upstream closed a kept-alive connection as the request went out on it. */
class StaleConnection extends Error {}
