/**
 * The studio console at `/admin`: server-rendered pages over the same history, queue and
 * authentication as the admin API (no front-end build, no script needed but for copy buttons).
 * Rendering on the server keeps the one escaping rule (console/html.ts) in one place, works
 * without a script, and lets the Content-Security-Policy forbid every inline script.
 *
 *   GET  /admin/sign-in, POST /admin/sign-in (token → cookie), POST /admin/sign-out
 *   GET  /admin                                           the connections, webhook URLs
 *   GET  /admin/connections/:id/tasks?status=&q=&cursor=  the task list
 *   GET  /admin/connections/:id/tasks/:taskProcessId      the task page
 *   POST /admin/connections/:id/tasks/:taskProcessId/retry
 *   GET  /admin/connections/:id/usage?from=&to=           usage per day
 *   GET  /admin/ops                                       the operations view (ops token only)
 *
 * A page the viewer may not see is 404, as in the API. A signed-out GET goes to the sign-in page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ReceiverConnection } from '../../config/connections.ts';
import { dayOf } from '../../history/task-history.ts';
import { type AdminApiDeps, connectionView, tasksQuery, usageQuery } from '../admin-api.ts';
import { maySee } from '../admin-auth.ts';
import { opsState } from '../ops-state.ts';
import { refusalOf, retryCycle } from '../retry-task.ts';
import { connectionsPage } from './connections-page.ts';
import { consoleCss, consoleJs } from './console-assets.ts';
import { clearedCookie, cookieOf, csrfField, csrfTokenOf, csrfValid, secureCookies, sessionCookie } from './console-session.ts';
import { messagePage, type Viewer } from './layout.ts';
import { opsPage } from './ops-page.ts';
import { signInPage } from './sign-in-page.ts';
import { taskListPage } from './task-list-page.ts';
import { taskPage } from './task-page.ts';
import { usagePage } from './usage-page.ts';

/** A signed-in request: who, and the session token its forms' CSRF token comes from. */
type Session = Viewer & { token: string };

const signInForm = z.object({ token: z.string().trim().min(1).max(512) });
const dayMs = 24 * 3600_000;

function sendPage(reply: FastifyReply, code: number, body: string): FastifyReply {
  return reply.code(code).type('text/html; charset=utf-8').send(body);
}

/** The query without its empty fields (an empty search box means no search). */
function filled(query: unknown): Record<string, string> {
  if (!query || typeof query !== 'object') return {};
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
}

export async function adminConsole(app: FastifyInstance, deps: AdminApiDeps): Promise<void> {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 8 * 1024 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  const secure = (request: FastifyRequest) => secureCookies(request, deps.publicUrl);

  /**
   * The session of a request, or null when an answer was sent: a GET without a (valid) session
   * goes to the sign-in page, a form without one gets 401; an address that failed too often, 429.
   */
  function sessionOf(request: FastifyRequest, reply: FastifyReply): Session | null {
    const token = cookieOf(request, deps.cookieName);
    const signedOut = () => {
      if (token) void reply.header('set-cookie', clearedCookie(deps.cookieName, secure(request)));
      if (request.method === 'GET' || request.method === 'HEAD') void reply.code(303).redirect('/admin/sign-in');
      else sendPage(reply, 401, messagePage('Signed out', 'Your session has ended: sign in again.'));
      return null;
    };
    if (!token) return signedOut();
    if (deps.auth.limited(request.ip)) {
      sendPage(
        reply.header('retry-after', '60'),
        429,
        messagePage('Too many attempts', 'Too many failed sign-ins: wait a minute.'),
      );
      return null;
    }
    const principal = deps.auth.authenticate(token, request.ip);
    if (!principal) return signedOut();
    return { principal, csrf: csrfTokenOf(token), token };
  }

  /** The connection of `:id` if the session may see it, else a 404 page was sent. */
  function connectionOf(session: Session, id: string, reply: FastifyReply): ReceiverConnection | null {
    const connection = deps.connections.get(id);
    if (connection && maySee(session.principal, connection.id)) return connection;
    sendPage(reply, 404, messagePage('Not found', 'There is no such connection.', session));
    return null;
  }

  /** The session and the connection of `:id`, or null when an answer was sent. */
  function sessionWith(
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
  ): { session: Session; connection: ReceiverConnection } | null {
    const session = sessionOf(request, reply);
    const connection = session && connectionOf(session, request.params.id, reply);
    return session && connection ? { session, connection } : null;
  }

  const badQuery = (reply: FastifyReply, session: Session, error: z.ZodError) =>
    sendPage(reply, 400, messagePage('Bad request', `The address is not valid: ${error.issues[0]?.message}`, session));

  /** Whether the form carries the session's CSRF token; else a 403 page was sent. */
  function formFromConsole(session: Session, body: unknown, reply: FastifyReply): boolean {
    const given = body && typeof body === 'object' ? (body as Record<string, unknown>)[csrfField] : undefined;
    if (csrfValid(session.token, given)) return true;
    sendPage(
      reply,
      403,
      messagePage('Refused', 'This form did not come from your console session: reload the page and try again.', session),
    );
    return false;
  }

  app.get('/admin/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(consoleCss));
  app.get('/admin/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(consoleJs));

  app.get('/admin/sign-in', async (_request, reply) => sendPage(reply, 200, signInPage()));

  app.post('/admin/sign-in', async (request, reply) => {
    if (deps.auth.limited(request.ip))
      return sendPage(
        reply.header('retry-after', '60'),
        429,
        signInPage('Too many failed sign-ins from this address: wait a minute.'),
      );
    const form = signInForm.safeParse(request.body);
    if (!form.success) return sendPage(reply, 400, signInPage('Paste an admin token.'));
    const principal = deps.auth.authenticate(form.data.token, request.ip);
    if (!principal) return sendPage(reply, 401, signInPage('That token was not accepted.'));
    return reply
      .header('set-cookie', sessionCookie(deps.cookieName, form.data.token, secure(request)))
      .code(303)
      .redirect('/admin');
  });

  app.post('/admin/sign-out', async (request, reply) => {
    const token = cookieOf(request, deps.cookieName);
    const principal = token ? deps.auth.authenticate(token, request.ip) : null;
    if (token && principal && !formFromConsole({ principal, token, csrf: csrfTokenOf(token) }, request.body, reply)) return reply;
    return reply
      .header('set-cookie', clearedCookie(deps.cookieName, secure(request)))
      .code(303)
      .redirect('/admin/sign-in');
  });

  for (const path of ['/admin', '/admin/']) {
    app.get(path, async (request, reply) => {
      const session = sessionOf(request, reply);
      if (!session) return reply;
      const visible = [...deps.connections.values()].filter((c) => maySee(session.principal, c.id));
      const views = await Promise.all(
        visible.map(async (connection) => ({ connection, view: await connectionView(deps, connection) })),
      );
      return sendPage(reply, 200, connectionsPage(session, views, deps.publicUrl !== undefined));
    });
  }

  app.get<{ Params: { id: string } }>('/admin/connections/:id/tasks', async (request, reply) => {
    const found = sessionWith(request, reply);
    if (!found) return reply;
    const { session, connection } = found;
    const query = tasksQuery.safeParse(filled(request.query));
    if (!query.success) return badQuery(reply, session, query.error);
    const result = await deps.history.list(connection.id, query.data);
    const { status, q, cursor } = query.data;
    return sendPage(reply, 200, taskListPage(session, connection, { status, q, cursor }, result));
  });

  async function showTask(
    request: FastifyRequest<{ Params: { id: string; taskProcessId: string } }>,
    reply: FastifyReply,
    action: 'show' | 'retry',
  ): Promise<FastifyReply> {
    const found = sessionWith(request, reply);
    if (!found) return reply;
    const { session, connection } = found;
    if (action === 'retry' && !formFromConsole(session, request.body, reply)) return reply;
    const { taskProcessId } = request.params;
    const before = await deps.history.taskProcess(connection.id, taskProcessId);
    const last = before.at(-1)?.summary;
    if (!last) return sendPage(reply, 404, messagePage('Not found', 'There is no such task in the history.', session));
    const outcome = action === 'retry' ? await retryCycle(deps, last.cycleJobId, last.status) : undefined;
    const cycles = outcome ? await deps.history.taskProcess(connection.id, taskProcessId) : before;
    const status = cycles.at(-1)?.summary.status ?? last.status;
    return sendPage(
      reply,
      outcome?.code ?? 200,
      taskPage(session, connection, cycles, { refusal: refusalOf(status), ...(outcome ? { outcome } : {}) }),
    );
  }
  app.get<{ Params: { id: string; taskProcessId: string } }>('/admin/connections/:id/tasks/:taskProcessId', (request, reply) =>
    showTask(request, reply, 'show'),
  );
  app.post<{ Params: { id: string; taskProcessId: string } }>(
    '/admin/connections/:id/tasks/:taskProcessId/retry',
    (request, reply) => showTask(request, reply, 'retry'),
  );

  app.get<{ Params: { id: string } }>('/admin/connections/:id/usage', async (request, reply) => {
    const found = sessionWith(request, reply);
    if (!found) return reply;
    const { session, connection } = found;
    const query = usageQuery.safeParse(filled(request.query));
    if (!query.success) return badQuery(reply, session, query.error);
    const to = query.data.to ?? Date.now();
    const from = Math.min(query.data.from ?? to - 29 * dayMs, to);
    const days = await deps.history.usage(connection.id, from, to);
    return sendPage(reply, 200, usagePage(session, connection, { from: dayOf(from), to: dayOf(to) }, days));
  });

  app.get('/admin/ops', async (request, reply) => {
    const session = sessionOf(request, reply);
    if (!session) return reply;
    if (session.principal.kind !== 'ops')
      return sendPage(reply, 404, messagePage('Not found', 'There is no such page.', session));
    return sendPage(reply, 200, opsPage(session, await opsState(deps)));
  });
}
