/**
 * Request/response plumbing of the simulator's node:http server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a handler answers. A string or Buffer body is sent as is; anything else as JSON. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A request body read up to a cap. */
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

/** Writes a {@link Reply}; an undefined body is sent as an empty body. */
export function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.writableEnded || res.destroyed) return;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let payload: Buffer;
  if (reply.body === undefined) {
    payload = Buffer.alloc(0);
  } else if (Buffer.isBuffer(reply.body)) {
    payload = reply.body;
  } else if (typeof reply.body === 'string') {
    payload = Buffer.from(reply.body, 'utf8');
    if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'text/plain; charset=utf-8';
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
