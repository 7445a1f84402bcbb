/**
 * What an authenticated endpoint handler gets and answers. Authentication, fault injection and
 * body reading happen before, in server.ts.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Reply } from '../harness/http-io.ts';
import { unauthorized } from './error-bodies.ts';
import { type SimState, sameId } from './state.ts';

/** An authenticated request after routing. */
export interface SimRequest {
  url: URL;
  headers: IncomingHttpHeaders;
  /** The body, or its first bytes when `overCap`. */
  body: Buffer;
  /** The body was longer than the route accepts (for upload routes: larger than any accepted image). */
  overCap: boolean;
  /** The application of the Bearer token. */
  applicationId: string;
  now: number;
}

/** What handlers need from the simulator. */
export interface RouteContext {
  state: SimState;
  baseUrl: string;
  maxUploadBytes: number;
}

/** One authenticated endpoint. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** Takes an image upload: the body may be up to `maxUploadBytes` plus the other form fields. */
  upload?: boolean;
  handle: (ctx: RouteContext, req: SimRequest) => Reply | Promise<Reply>;
}

/**
 * The documented 401 when a request names another application than its token's
 * ("ApplicationId is not found in the token"), else `undefined`.
 */
export function refuseOtherApplication(req: SimRequest, applicationId: string): Reply | undefined {
  return sameId(applicationId, req.applicationId) ? undefined : unauthorized();
}

/** A query parameter (names matched case-insensitively, as ASP.NET binds them). */
export function queryValue(url: URL, name: string): string | undefined {
  const key = name.toLowerCase();
  for (const [k, v] of url.searchParams) if (k.toLowerCase() === key) return v;
  return undefined;
}
