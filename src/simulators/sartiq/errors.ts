/**
 * The error bodies of the Sartiq Backend (FastAPI; its "Generation Endpoints" and "Authentication"
 * pages): `{"detail": "..."}` for authentication, permission and lookup failures,
 * `{"detail": [ValidationError]}` for 422.
 */
import type { Reply } from '../harness/http-io.ts';

/** One entry of a FastAPI/pydantic 422 `detail` list. */
export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** `{"detail": message}` with `status`. */
export function detail(status: number, message: string, headers?: Record<string, string>): Reply {
  return headers ? { status, body: { detail: message }, headers } : { status, body: { detail: message } };
}

/** FastAPI sends `WWW-Authenticate: Bearer` with the 401s of its OAuth2 dependencies. */
const bearerChallenge = { 'www-authenticate': 'Bearer' };

/** 401 of a request without `Authorization: Bearer`. */
export function notAuthenticated(): Reply {
  return detail(401, 'Not authenticated', bearerChallenge);
}

/** 401 of an unknown or expired token. */
export function couldNotValidate(): Reply {
  return detail(401, 'Could not validate credentials', bearerChallenge);
}

/** 401 of a login with a wrong email or password. */
export function incorrectLogin(): Reply {
  return detail(401, 'Incorrect email or password');
}

/** 403 of an organization or resource the user may not use. */
export function notEnoughPermissions(): Reply {
  return detail(403, 'Not enough permissions');
}

/** 404 of an unknown resource, e.g. `notFound('Generation')` → "Generation not found". */
export function notFound(resource: string): Reply {
  return detail(404, `${resource} not found`);
}

/** FastAPI's 404 of an unknown path. */
export function noSuchPath(): Reply {
  return detail(404, 'Not Found');
}

/** FastAPI's 405 of a known path with another method. */
export function methodNotAllowed(allowed: readonly string[]): Reply {
  return detail(405, 'Method Not Allowed', { allow: allowed.join(', ') });
}

/** The 422 `HTTPValidationError`. */
export function validationFailed(issues: readonly ValidationIssue[]): Reply {
  return { status: 422, body: { detail: issues } };
}
