/**
 * The node:http server under each simulator: listening on loopback (or another interface) on a
 * given or random port, dispatching requests to an async handler, and closing with every open
 * connection dropped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Reply, type WriteReplyOptions, writeReply } from './http-io.ts';

/** Where a simulator listens. */
export interface ListenOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port; default `0` (a random free port). */
  port?: number;
}

/** Handles one request; a rejection is answered by {@link LoopbackServer.serve}'s failure handling. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** What {@link LoopbackServer.serve} does when a handler rejects. */
export interface ServeOptions {
  /**
   * Called with the rejection (to log it); returns the answer sent when no header was sent yet.
   * Once headers were sent, the response is destroyed instead.
   */
  onFailure: (err: unknown) => Reply;
  /** Options of every {@link writeReply} the server does itself. */
  writeOptions?: WriteReplyOptions;
}

/** A started node:http server and its base URL. Create it with {@link LoopbackServer.listen}. */
export class LoopbackServer {
  /** `http://host:port`, with an IPv6 host in brackets. */
  readonly baseUrl: string;

  readonly #server: Server;
  #closed: Promise<void> | undefined;

  private constructor(server: Server, baseUrl: string) {
    this.#server = server;
    this.baseUrl = baseUrl;
  }

  /**
   * Starts a server (no request timeout, 5 s keep-alive) listening on `options.host:options.port`
   * (default 127.0.0.1, random port); rejects when it cannot listen.
   */
  static async listen(options: ListenOptions = {}): Promise<LoopbackServer> {
    const host = options.host ?? '127.0.0.1';
    const server = createServer({ requestTimeout: 0, keepAliveTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    return new LoopbackServer(server, `http://${urlHost}:${port}`);
  }

  /** Sends every request to `handle`; see {@link ServeOptions} for a handler that rejects. */
  serve(handle: RequestHandler, options: ServeOptions): void {
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      handle(req, res).catch((err: unknown) => {
        const reply = options.onFailure(err);
        if (!res.headersSent) writeReply(res, reply, options.writeOptions);
        else res.destroy();
      });
    });
  }

  /** Stops listening and drops open connections; resolves once closed. Later calls return the same promise. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }
}
