/**
 * The HTTP side of the service, built but not started: the webhook route, health probes, and the
 * admin API and console under `/admin`.
 * `main` listens; tests use `inject()`.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { AdminApiDeps } from '../admin/admin-api.ts';
import { adminSurface } from '../admin/admin-surface.ts';
import { type MetricsRouteDeps, metricsRoute } from '../observability/metrics-route.ts';
import { type WebhookRouteDeps, webhookRoute } from './webhook-route.ts';

export interface ReceiverDeps {
  logger: Logger;
  /** Present on processes that receive webhooks; workers-only processes serve health only. */
  webhooks?: Omit<WebhookRouteDeps, 'logger'>;
  /** Redis reachable and not shutting down. */
  isReady(): Promise<boolean>;
  /** The admin API and the studio console, on processes that receive webhooks when an admin token is configured. */
  admin?: AdminApiDeps;
  /** `/metrics` behind the ops token, on every process when ADMIN_TOKEN is set. */
  metrics?: MetricsRouteDeps;
}

export function buildReceiver(deps: ReceiverDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = await deps.isReady().catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });

  const webhooks = deps.webhooks;
  if (webhooks) app.register(async (scope) => webhookRoute(scope, { ...webhooks, logger: deps.logger }));
  const admin = deps.admin;
  if (admin?.auth.enabled) app.register(async (scope) => adminSurface(scope, admin));
  const metrics = deps.metrics;
  if (metrics) app.register(async (scope) => metricsRoute(scope, metrics));
  return app;
}
