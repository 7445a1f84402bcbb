/**
 * Request/response plumbing shared by the simulators' node:http servers: the {@link Reply} handlers
 * answer, writing it, and reading request bodies. Nothing here knows which service is simulated.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a handler answers. A string or Buffer body is sent as is; anything else as JSON. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** How {@link writeReply} fills in headers a {@link Reply} leaves out. */
export interface WriteReplyOptions {
  /**
   * Content-Type sent with a string body that has none; by default a string body goes without
   * one. (A JSON body always gets `application/json; charset=utf-8` when it has none.)
   */
  textContentType?: string;
}

/**
 * Writes a {@link Reply}: an undefined body is sent as an empty body, every body with its
 * Content-Length. Does nothing once the response has ended or its socket is destroyed.
 */
export function writeReply(res: ServerResponse, reply: Reply, options: WriteReplyOptions = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let payload: Buffer;
  if (reply.body === undefined) {
    payload = Buffer.alloc(0);
  } else if (Buffer.isBuffer(reply.body)) {
    payload = reply.body;
  } else if (typeof reply.body === 'string') {
    payload = Buffer.from(reply.body, 'utf8');
    if (options.textContentType !== undefined && !hasHeader(headers, 'content-type')) {
      headers['content-type'] = options.textContentType;
    }
  } else {
    payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
    if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/json; charset=utf-8';
  }
  headers['content-length'] = String(payload.length);
  res.writeHead(reply.status, headers);
  res.end(payload);
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/** The request body exceeded the limit given to {@link readBody}. */
export class BodyTooLargeError extends Error {
  /** The limit, in bytes. */
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super(`request body exceeds ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/**
 * Reads the whole request body. Rejects with {@link BodyTooLargeError} as soon as it exceeds
 * `maxBytes` (the rest is not read), and with an `Error` when the client aborts.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(new BodyTooLargeError(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('client went away before the body was complete'));
    });
  });
}

/** A request body read up to a cap, see {@link readCappedBody}. */
export interface CappedBody {
  /** The bytes kept: the whole body, or its first `cap` bytes when `overCap`. */
  body: Buffer;
  /** True when the body was longer than the cap; the rest was read and dropped, not kept. */
  overCap: boolean;
}

/**
 * Reads a request body, keeping at most `cap` bytes. A longer body is still read to its end
 * (and dropped), so the client can send it all and read the answer instead of seeing a reset.
 * Rejects when the client aborts.
 */
export function readCappedBody(req: IncomingMessage, cap: number): Promise<CappedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let overCap = false;
    req.on('data', (chunk: Buffer) => {
      if (overCap) return;
      if (kept + chunk.length > cap) {
        chunks.push(chunk.subarray(0, cap - kept));
        overCap = true;
        return;
      }
      chunks.push(chunk);
      kept += chunk.length;
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks), overCap }));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('client went away before the body was complete'));
    });
  });
}

/** The client's address, with an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) normalized to plain IPv4. */
export function clientIpOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
