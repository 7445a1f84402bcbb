/**
 * A scripted loopback HTTP server (node:http) for component tests of provider clients. It records
 * every request (method, path, query, headers, body) and answers each path with the handler a test
 * sets; a path without a handler gets the `notFound` answer. Provider-specific defaults (a login or
 * token endpoint answering by default, helpers such as `logins()`) belong in a small subclass in the
 * test file, usually by overriding `reset()` and calling `super.reset()` first.
 *
 * Typical use: one instance per file, `start()` in beforeAll, `reset()` in beforeEach, `stop()` in
 * afterAll, and `on(path, handler)` in each test.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the server received it. */
export interface Recorded {
  method: string;
  /** The path without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the server answers to one request. */
export interface Answer {
  /** 200 unless set. */
  status?: number;
  /** Sent as JSON (content-type application/json unless headers say otherwise). */
  json?: unknown;
  /** Sent as is (text/plain unless headers say otherwise). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Waits this long before answering (a request whose client went away is left unanswered). */
  delayMs?: number;
  /** Drop the connection instead of answering. */
  destroy?: boolean;
}

/** Answers a request; `n` counts the requests to this path, from 1. */
export type Handler = (request: Recorded, n: number) => Answer;

export interface ScriptedServerOptions {
  /** The answer to a path without a handler (default: 404 with an empty JSON object). */
  notFound?: Answer;
}

/** A recording loopback HTTP server that answers each path with the handler a test sets. */
export class ScriptedServer {
  /** Every request since the last reset, in arrival order. */
  readonly requests: Recorded[] = [];
  /** The handler of each absolute path. */
  readonly handlers = new Map<string, Handler>();
  /** `http://127.0.0.1:<port>` once started. */
  origin = '';
  readonly #notFound: Answer;
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://loopback');
      const recorded: Recorded = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      this.requests.push(recorded);
      const handler = this.handlers.get(url.pathname);
      const answer = handler ? handler(recorded, this.to(url.pathname).length) : this.#notFound;
      if (answer.destroy) {
        req.socket.destroy();
        return;
      }
      setTimeout(() => {
        if (res.destroyed) return;
        const json = answer.json !== undefined;
        const headers = { 'content-type': json ? 'application/json' : 'text/plain', ...answer.headers };
        res.writeHead(answer.status ?? 200, headers);
        res.end(json ? JSON.stringify(answer.json) : answer.raw);
      }, answer.delayMs ?? 0);
    });
  });

  constructor(options: ScriptedServerOptions = {}) {
    this.#notFound = options.notFound ?? { status: 404, json: {} };
  }

  /** Forgets the recorded requests and every handler. */
  reset(): void {
    this.requests.length = 0;
    this.handlers.clear();
  }

  /** Sets the handler of an absolute path (replacing any earlier one). */
  on(path: string, handler: Handler): void {
    this.handlers.set(path, handler);
  }

  /** Requests to one absolute path. */
  to(path: string): Recorded[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Listens on a free loopback port; resolves to the origin. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.origin;
  }

  /** Drops open connections and stops listening. */
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
