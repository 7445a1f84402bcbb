/**
 * GET /metrics, the service's Prometheus text, served two ways:
 * - on the service's port (the receiver's, or a `work` process's health port), behind the ops
 *   token (ADMIN_TOKEN, `Authorization: Bearer`); a studio's token is refused with 403, since the
 *   metrics cover every connection; without ADMIN_TOKEN the route does not exist;
 * - on the metrics port (METRICS_PORT, on METRICS_HOST) without a token, for a Prometheus that
 *   reaches the process over a private network only: that port must never be exposed publicly.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { Logger } from 'pino';
import { requirePrincipal } from '../admin/admin-api.ts';
import { type AdminAuth, adminCookieName } from '../admin/admin-auth.ts';
import type { PrometheusMetrics } from './metrics.ts';

/** What serving the metrics needs of them. */
export type MetricsText = Pick<PrometheusMetrics, 'render' | 'contentType'>;

export interface MetricsRouteDeps {
  metrics: MetricsText;
  /** The admin tokens: only the ops token is accepted. */
  auth: AdminAuth;
}

async function sendMetrics(reply: FastifyReply, metrics: MetricsText): Promise<FastifyReply> {
  return reply
    .type(metrics.contentType)
    .header('cache-control', 'no-store')
    .send(await metrics.render());
}

/** Registers `/metrics` behind the ops token, in its own encapsulated context. */
export async function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): Promise<void> {
  requirePrincipal(app, deps.auth, adminCookieName);
  app.get('/metrics', async (request, reply) => {
    if (request.principal?.kind !== 'ops') {
      return reply.code(403).send({ error: 'the metrics need the ops token (ADMIN_TOKEN)' });
    }
    return sendMetrics(reply, deps.metrics);
  });
}

/** The token-free listener of METRICS_PORT: `/metrics` and nothing else. Built, not started. */
export function buildMetricsServer(metrics: MetricsText, logger: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/metrics', async (_request, reply) => sendMetrics(reply, metrics));
  return app;
}
