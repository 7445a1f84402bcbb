/**
 * What an authenticated endpoint handler gets and answers. Routing, fault injection, the Bearer
 * check and the `organization_id` query parameter are handled before, in server.ts.
 */
import type { Reply } from '../harness/http-io.ts';
import type { Account } from './auth.ts';
import { notEnoughPermissions } from './errors.ts';
import type { SimState } from './state.ts';
import type { Checked } from './validation.ts';

/** An authenticated request after routing. */
export interface SimRequest {
  url: URL;
  /** Path parameters by name, e.g. `id` of `/generations/{id}`. */
  params: Record<string, string>;
  body: Buffer;
  /** The request's Content-Type header. */
  contentType: string | undefined;
  account: Account;
  /** The `organization_id` query parameter (canonical UUID), when given. */
  organizationId: string | null;
  now: number;
}

/** What handlers need from the simulator. */
export interface RouteContext {
  state: SimState;
}

/** One authenticated endpoint; `path` is relative to `/api/v1` and may hold `{name}` parameters. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle: (ctx: RouteContext, req: SimRequest) => Reply | Promise<Reply>;
}

/** The parameters of `path` when it matches the route pattern `pattern`, else `undefined`. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of want.entries()) {
    const value = got[index] ?? '';
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name !== undefined && value !== '') params[name] = decodeSegment(value);
    else if (part !== value) return undefined;
  }
  return params;
}

/**
 * The organization a request acts in: the query's `organization_id`, else the body's; 403 "Not
 * enough permissions" when the user is not a member of a named organization.
 */
export function organizationOf(req: SimRequest, bodyOrganizationId: string | null = null): Checked<string | null> {
  for (const organization of [req.organizationId, bodyOrganizationId]) {
    if (organization !== null && !req.account.organizations.has(organization))
      return { ok: false, reply: notEnoughPermissions() };
  }
  return { ok: true, value: req.organizationId ?? bodyOrganizationId };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
