/**
 * Everything under `/admin`: the JSON API and the studio console, behind guards they share.
 *
 * - A request that changes something (any method but GET and HEAD) from another site is refused
 *   (403) before authentication: the browser's `Sec-Fetch-Site` must say `same-origin`, or, from a
 *   browser that does not send it, `Origin` must be this host or PUBLIC_URL's. A request with
 *   neither (curl, scripts with a bearer token) is not a browser's and passes. With the
 *   SameSite=Strict cookie this makes the cookie useless to another site; the console's forms
 *   carry a CSRF token as well.
 * - Every answer is `no-store`, may not be framed, and carries a Content-Security-Policy that
 *   allows the console's own script and style sheet and nothing inline.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AdminApiDeps, adminApi } from './admin-api.ts';
import { adminConsole } from './console/console-routes.ts';

const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const headers = {
  'content-security-policy': contentSecurityPolicy,
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // Task ids are in the console's URLs: they go to no other site.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Whether a request comes from a page of another site (see the top of this file). */
export function fromAnotherSite(request: FastifyRequest, publicUrl: string | undefined): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return true; // "null" (a sandboxed or privacy-sensitive context) or garbage
  }
  const allowed = [request.headers.host, publicUrl ? new URL(publicUrl).host : undefined];
  return !allowed.includes(host);
}

export async function adminSurface(app: FastifyInstance, deps: AdminApiDeps): Promise<void> {
  app.addHook('onRequest', async (request, reply) => {
    void reply.headers(headers);
    if (request.method !== 'GET' && request.method !== 'HEAD' && fromAnotherSite(request, deps.publicUrl))
      return reply.code(403).send({ error: 'refused: this request came from another site' });
  });
  app.register(async (scope) => adminApi(scope, deps));
  app.register(async (scope) => adminConsole(scope, deps));
}
