/**
 * The error bodies of the Workflow API (its OpenAPI spec): `ErrorResponse = { error, message?,
 * status: "failed" | "error" }`, with the documented texts where the spec gives them (400 not-JSON,
 * 400 api-version, 401, 404, 500, the 403 reason and the 429 `error`). The other texts (validation
 * messages, 405, 413, the 429 message) are this simulator's.
 */
import type { Reply } from '../harness/http-io.ts';

/** `{ error, message?, status }` with HTTP status `httpStatus`. */
export function errorReply(httpStatus: number, error: string, message?: string, status: 'failed' | 'error' = 'failed'): Reply {
  return { status: httpStatus, body: message === undefined ? { error, status } : { error, message, status } };
}

/** 400 "Invalid request" with a message saying what is wrong. */
export function invalidRequest(message: string): Reply {
  return errorReply(400, 'Invalid request', message);
}

/** The documented 400 of a body that does not parse. */
export function notJson(): Reply {
  return invalidRequest('Request body is not valid JSON');
}

/** The documented 400 of an unsupported `api-version` (a contract failure: `status: "error"`, no message). */
export function unsupportedApiVersion(): Reply {
  return errorReply(400, 'The api-version value is not supported. Supported version: 1.0', undefined, 'error');
}

/** The documented 401. */
export function unauthorized(): Reply {
  return errorReply(401, 'Unauthorized', 'Missing or invalid authentication');
}

/** 403 with the documented reason (OpenAPI spec): the caller is not in the org of `x-gw-ims-org-id`. */
export function notOrgMember(): Reply {
  return errorReply(403, 'Forbidden', 'The caller is not a member of the organization identified by x-gw-ims-org-id');
}

/** The documented 404 of an unknown workflow or batch. */
export function notFound(): Reply {
  return errorReply(404, 'Not found', 'Workflow or batch not found');
}

/** 404 of a path the API does not have (same body as {@link notFound}, the simulator's choice). */
export function noSuchPath(): Reply {
  return errorReply(404, 'Not found', 'Resource not found');
}

/** 405 of a known path with another method (not documented; the simulator's wording). */
export function methodNotAllowed(allowed: readonly string[]): Reply {
  const reply = errorReply(405, 'Method not allowed', `Use ${allowed.join(', ')}`);
  return { ...reply, headers: { allow: allowed.join(', ') } };
}

/** 413 of a body above the simulator's cap (not documented). */
export function payloadTooLarge(maxBytes: number): Reply {
  return errorReply(413, 'Payload too large', `Request body exceeds ${maxBytes} bytes`);
}

/** The documented 429 body (OpenAPI spec); the message is the simulator's. */
export function rateLimited(resetUnixSeconds: number): Reply {
  return errorReply(
    429,
    'Rate limit exceeded',
    `Too many requests for this organization and user; retry after ${new Date(resetUnixSeconds * 1000).toISOString()}`,
  );
}

/** IMS's OAuth error shape, `{ error, error_description }` (not part of the Workflow API spec). */
export function imsError(httpStatus: number, error: string, description: string): Reply {
  return { status: httpStatus, body: { error, error_description: description } };
}
