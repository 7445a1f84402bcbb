/**
 * What the gateway does with request bodies and errors (docs/creative-force-contract.md, "Error
 * bodies"): the body size it accepts, JSON body parsing the way ASP.NET model binding does, and its
 * two error body forms: business errors and ASP.NET ProblemDetails.
 */
import { randomBytes } from 'node:crypto';
import type { Reply } from '../harness/http-io.ts';

/** Bodies larger than this are refused with 413 (the simulator keeps everything in memory). */
export const maxBodyBytes = 256 * 1024 * 1024;

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
