/**
 * Request/response plumbing of the simulator's node:http server and the two error body forms of
 * the gateway (reference section 8): business errors and ASP.NET ProblemDetails.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bodies larger than this are refused with 413 (the simulator keeps everything in memory). */
export const maxBodyBytes = 256 * 1024 * 1024;

/** What a handler answers. A string or Buffer body is sent as is; anything else as JSON. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Reads the whole request body; rejects when it exceeds {@link maxBodyBytes} or the client aborts. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        req.off('data', onData);
        reject(new BodyTooLargeError());
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

/** The body exceeded {@link maxBodyBytes}. */
export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body exceeds ${maxBodyBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Writes a {@link Reply}; undefined body = empty body with Content-Length 0. */
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

/** A W3C trace id like ASP.NET puts in ProblemDetails. */
export function traceId(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
}

/** A gateway business error: `{"errors":[{"code","message"}]}`. */
export function businessError(status: number, code: string, message: string): Reply {
  return { status, body: { errors: [{ code, message }] } };
}

/** The KNOWN business error for invalid data: GEN-4 "InvalidData: <what>". */
export function invalidData(what: string): Reply {
  return businessError(400, 'GEN-4', `InvalidData: ${what}`);
}

/** The business error of an unknown resource id. */
export function notFound(what: string): Reply {
  return businessError(404, 'GEN-404', `NotFound: ${what}`);
}

/** An ASP.NET model-binding 400: ProblemDetails with per-field messages. */
export function problemDetails(errors: Record<string, string[]>): Reply {
  return {
    status: 400,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: {
      type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
      title: 'One or more validation errors occurred.',
      status: 400,
      errors,
      traceId: traceId(),
    },
  };
}

/** ProblemDetails from schema issues, keyed by JSON path like ASP.NET (`$.files[0].localId`). */
export function problemDetailsFromIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Reply {
  const errors: Record<string, string[]> = {};
  for (const issue of issues) {
    const path = issue.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${String(p)}`), '$');
    errors[path] = [...(errors[path] ?? []), issue.message];
  }
  return problemDetails(errors);
}

/** ASP.NET's answer to a body that is not `application/json`. */
export function unsupportedMediaType(): Reply {
  return {
    status: 415,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: {
      type: 'https://tools.ietf.org/html/rfc9110#section-15.5.16',
      title: 'Unsupported Media Type',
      status: 415,
      traceId: traceId(),
    },
  };
}

/** Parsed JSON body of a gateway request, or the error {@link Reply} ASP.NET would give. */
export type JsonBody = { ok: true; value: unknown } | { ok: false; reply: Reply };

/** Parses a gateway JSON body the way ASP.NET model binding does ([FromBody], JSON only). */
export function parseJsonBody(contentType: string | undefined, body: Buffer): JsonBody {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !type.endsWith('+json')) return { ok: false, reply: unsupportedMediaType() };
  if (body.length === 0) return { ok: false, reply: problemDetails({ '': ['A non-empty request body is required.'] }) };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (err) {
    return { ok: false, reply: problemDetails({ $: [`The JSON value could not be converted: ${(err as Error).message}`] }) };
  }
}

/** Normalizes an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) to plain IPv4. */
export function clientIpOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
