/**
 * The admin HTTP API, under `/admin/api`, JSON: what the studio admin and ops ask of the service.
 * A studio token sees its connection only (another connection is 404, as if it did not exist); the
 * ops token sees every connection. Nothing under `/admin/api` is served without a token.
 *
 *   GET  /admin/api/connections
 *   GET  /admin/api/connections/:id/tasks?status=&q=&from=&to=&cursor=&limit=
 *   GET  /admin/api/connections/:id/tasks/:taskProcessId
 *   GET  /admin/api/connections/:id/usage?from=&to=
 *   POST /admin/api/connections/:id/tasks/:taskProcessId/retry
 *   GET  /admin/api/ops                      (the ops token only; 404 for a studio token)
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ReceiverConnection } from '../config/connections.ts';
import { cycleStatuses, type TaskHistory } from '../history/task-history.ts';
import type { CycleQueue } from '../queue/cycle-queue.ts';
import type { DeadLetters } from '../queue/dead-letters.ts';
import { webhookPath, webhookUrl } from '../receiver/webhook-url.ts';
import { type AdminAuth, maySee, type Principal } from './admin-auth.ts';
import { cookieOf } from './console/console-session.ts';
import { type OpsStateDeps, opsState } from './ops-state.ts';
import { retryCycle } from './retry-task.ts';

export interface AdminApiDeps {
  auth: AdminAuth;
  connections: ReadonlyMap<string, ReceiverConnection>;
  history: TaskHistory;
  queue: CycleQueue;
  deadLetters: DeadLetters;
  /** The Creative Force limiter, read for the operations view. */
  limiter: OpsStateDeps['limiter'];
  /** The receiver's public origin, for webhook URLs; undefined: paths only. */
  publicUrl: string | undefined;
  /** The console's cookie name: its value is accepted as the bearer token. */
  cookieName: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** A time as ISO 8601 or milliseconds since the epoch. */
const time = z
  .union([z.iso.datetime({ offset: true }), z.iso.date(), z.coerce.number().int().nonnegative()])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));
export const tasksQuery = z
  .object({
    status: z.enum(cycleStatuses).optional(),
    q: z.string().max(200).optional(),
    from: time.optional(),
    to: time.optional(),
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(200).optional(),
  })
  .strict();
export const usageQuery = z.object({ from: time.optional(), to: time.optional() }).strict();

function bearerOf(request: FastifyRequest, cookieName: string): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^Bearer /i.test(header)) return header.slice('Bearer '.length).trim();
  return cookieOf(request, cookieName);
}

/** Authenticates every request of the scope; answers 401 (or 429 while an address fails too often). */
export function requirePrincipal(app: FastifyInstance, auth: AdminAuth, cookieName: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (auth.limited(request.ip))
      return reply.code(429).header('retry-after', '60').send({ error: 'too many failed sign-ins; wait a minute' });
    const principal = auth.authenticate(bearerOf(request, cookieName), request.ip);
    if (!principal)
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a valid admin token is required' });
    request.principal = principal;
  });
}

function badRequest(reply: FastifyReply, error: z.ZodError): FastifyReply {
  const issue = error.issues[0];
  const field = issue?.path.join('.') || '(query)';
  return reply.code(400).send({ error: 'bad query', field, message: `${field}: ${issue?.message}` });
}

/** The connection of `:id` if the principal may see it, else a 404 was sent. */
function visible(
  deps: AdminApiDeps,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): ReceiverConnection | null {
  const connection = deps.connections.get(request.params.id);
  if (!connection || !request.principal || !maySee(request.principal, connection.id)) {
    void reply.code(404).send({ error: 'unknown connection' });
    return null;
  }
  return connection;
}

/** The webhook URL of a connection, or its path when PUBLIC_URL is not set. */
function webhookUrlOf(publicUrl: string | undefined, connectionId: string): string {
  return webhookUrl(publicUrl, connectionId) ?? webhookPath(connectionId);
}

export async function adminApi(app: FastifyInstance, deps: AdminApiDeps): Promise<void> {
  requirePrincipal(app, deps.auth, deps.cookieName);

  app.get('/admin/api/connections', async (request) => {
    const principal = request.principal as Principal;
    const list = [...deps.connections.values()].filter((c) => maySee(principal, c.id));
    return {
      connections: await Promise.all(list.map((connection) => connectionView(deps, connection))),
      publicUrlConfigured: deps.publicUrl !== undefined,
    };
  });

  app.get<{ Params: { id: string } }>('/admin/api/connections/:id/tasks', async (request, reply) => {
    const connection = visible(deps, request, reply);
    if (!connection) return reply;
    const query = tasksQuery.safeParse(request.query);
    if (!query.success) return badRequest(reply, query.error);
    return deps.history.list(connection.id, query.data);
  });

  app.get<{ Params: { id: string; taskProcessId: string } }>(
    '/admin/api/connections/:id/tasks/:taskProcessId',
    async (request, reply) => {
      const connection = visible(deps, request, reply);
      if (!connection) return reply;
      const cycles = await deps.history.taskProcess(connection.id, request.params.taskProcessId);
      if (cycles.length === 0) return reply.code(404).send({ error: 'no such task process in the history' });
      return { taskProcessId: cycles[0]?.summary.taskProcessId, cycles };
    },
  );

  app.get<{ Params: { id: string } }>('/admin/api/connections/:id/usage', async (request, reply) => {
    const connection = visible(deps, request, reply);
    if (!connection) return reply;
    const query = usageQuery.safeParse(request.query);
    if (!query.success) return badRequest(reply, query.error);
    const to = query.data.to ?? Date.now();
    const from = query.data.from ?? to - 29 * 24 * 3600_000;
    if (from > to) return reply.code(400).send({ error: 'bad query', field: 'from', message: 'from: after to' });
    return { days: await deps.history.usage(connection.id, from, to) };
  });

  app.post<{ Params: { id: string; taskProcessId: string } }>(
    '/admin/api/connections/:id/tasks/:taskProcessId/retry',
    async (request, reply) => {
      const connection = visible(deps, request, reply);
      if (!connection) return reply;
      const cycles = await deps.history.taskProcess(connection.id, request.params.taskProcessId);
      const last = cycles.at(-1)?.summary;
      if (!last) return reply.code(404).send({ error: 'no such task process in the history' });
      const outcome = await retryCycle(deps, last.cycleJobId, last.status);
      return reply.code(outcome.code).send(outcome.body);
    },
  );

  app.get('/admin/api/ops', async (request, reply) => {
    if (request.principal?.kind !== 'ops') return reply.code(404).send({ error: 'not found' });
    return opsState(deps);
  });
}

/** A connection as the API and the console show it: webhook URLs, recipes, last webhook, credential health. */
export async function connectionView(deps: Pick<AdminApiDeps, 'history' | 'publicUrl'>, connection: ReceiverConnection) {
  const stats = await deps.history.connection(connection.id);
  const credentials = Object.fromEntries(
    Object.entries(stats)
      .filter(([k]) => k.startsWith('credentials:'))
      .map(([k, v]) => [k.slice('credentials:'.length), JSON.parse(v) as { ok: boolean; code?: string; at: string }]),
  );
  return {
    id: connection.id,
    name: connection.name,
    webhookUrl: webhookUrlOf(deps.publicUrl, connection.id),
    subfunctions: Object.entries(connection.subfunctions).map(([id, sub]) => ({
      subfunctionId: Number(id),
      recipe: sub.recipe,
      webhookUrl: webhookUrlOf(deps.publicUrl, connection.id),
      ownWebhookSecrets: sub.webhookSecrets !== undefined,
    })),
    stepIds: connection.stepIds,
    signatureScheme: connection.creativeForce.signatureScheme,
    signatureVariantLastSeen: stats.signatureVariant ?? null,
    lastWebhookAt: stats.lastWebhookAt ?? null,
    credentials,
  };
}
