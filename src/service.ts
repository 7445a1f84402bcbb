/**
 * Builds the running parts of the service from validated configuration: Redis connections, the
 * shared rate limiter and token store, one gateway client per connection, the receiver and the
 * workers. It builds; `main` (and the demo) decide what to start and when to stop.
 */
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueEvents, type Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AdminAuth, adminCookieName } from './admin/admin-auth.ts';
import { type Connection, isFullConnection, type ReceiverConnection } from './config/connections.ts';
import type { AppConfig } from './config/env.ts';
import { gatewayClientOf, gatewayLimiter, gatewayTokenStore, SharedCalls } from './creative-force/index.ts';
import type { GatewayClient } from './cycle/cycle-context.ts';
import { ConnectorError } from './errors.ts';
import { TaskHistory } from './history/task-history.ts';
import { waitingCycles } from './history/waiting-cycles.ts';
import { PrometheusMetrics } from './observability/metrics.ts';
import { buildMetricsServer } from './observability/metrics-route.ts';
import { countProviderCalls } from './observability/provider-calls.ts';
import { throttledErrorLog } from './observability/throttled-error-log.ts';
import { type Tracing, tracingOff } from './observability/tracing.ts';
import { createProviderClients, type ProviderClients, type RecipeRegistry } from './providers/index.ts';
import { cycleQueueName } from './queue/cycle-job.ts';
import { CycleQueue } from './queue/cycle-queue.ts';
import { DeadLetters } from './queue/dead-letters.ts';
import { buildReceiver } from './receiver/build-receiver.ts';
import { type CycleWorkerDeps, createCycleWorker, reportAbandonedCycles } from './worker/cycle-worker.ts';
import { sweepStaleWorkDirs } from './worker/sweep-work-dirs.ts';

export type ServiceMode = 'start' | 'serve' | 'work';

export interface Service {
  app: FastifyInstance;
  /** The token-free `/metrics` listener of METRICS_PORT, when it is set. */
  metricsApp: FastifyInstance | undefined;
  worker: Worker | undefined;
  queue: CycleQueue;
  /** Starts the workers (if any) and the HTTP listener; resolves with the bound port. */
  start(): Promise<number>;
  /**
   * Stops taking work, lets active jobs finish within the deadline, closes everything. Resolves
   * within SHUTDOWN_TIMEOUT_MS + `forcedCloseMs` (plus the receiver's in-flight requests), also
   * while Redis is down.
   */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  config: AppConfig;
  /** Loaded in full when the mode runs workers; mode `serve` needs only scope `receiver`. */
  connections: readonly ReceiverConnection[];
  recipes: RecipeRegistry;
  mode: ServiceMode;
  logger: Logger;
  onStep?: CycleWorkerDeps['onStep'];
  /** Started by `main` when OTEL_EXPORTER_OTLP_ENDPOINT is set; default off. */
  tracing?: Tracing;
}

/**
 * How long `stop()` may take beyond SHUTDOWN_TIMEOUT_MS: aborted cycles hand their jobs back and
 * the queue connections close within it, or are dropped.
 */
export const forcedCloseMs = 3_000;

/** True when `promise` fulfils within `ms`; false when it is still pending then. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), sleep(ms, false, { ref: false })]);
}

/** The connections by id, each loaded in full (workers use every credential). */
function fullConnections(list: readonly ReceiverConnection[], mode: ServiceMode): Map<string, Connection> {
  const connections = new Map<string, Connection>();
  for (const connection of list) {
    if (!isFullConnection(connection)) {
      throw new ConnectorError(
        'CONFIG_INVALID',
        `connection "${connection.id}" was loaded for the receiver only; mode ${mode} runs workers, which need it in full`,
      );
    }
    connections.set(connection.id, connection);
  }
  return connections;
}

/** Resolves when the client is ready, or after `ms` (whichever comes first). */
function connected(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function buildService(options: ServiceOptions): Promise<Service> {
  const { config, logger, mode } = options;
  const withWorkers = mode !== 'serve';
  const withWebhooks = mode !== 'work';
  const connections = new Map(options.connections.map((c) => [c.id, c]));
  const workerConnections = withWorkers ? fullConnections(options.connections, mode) : new Map<string, Connection>();

  // Webhook requests must not wait on a Redis outage: one retry per command, then an error (503).
  const producerRedis = new Redis(config.redisUrl, { connectionName: 'cf-ai-connector:producer', maxRetriesPerRequest: 1 });
  // BullMQ workers block on Redis and must never give up on a command (maxRetriesPerRequest: null).
  const workerRedis = new Redis(config.redisUrl, { connectionName: 'cf-ai-connector:worker', maxRetriesPerRequest: null });
  const sharedRedis = new Redis(config.redisUrl, { connectionName: 'cf-ai-connector:shared', maxRetriesPerRequest: 3 });
  // While Redis is down every reconnect attempt is an error: warn (visible at the default level),
  // throttled per connection. The queue re-emits its connection's errors, so it shares that log.
  const connectionErrors = (redis: string) => throttledErrorLog(logger.child({ redis }), 'redis connection error');
  const producerErrors = connectionErrors('producer');
  producerRedis.on('error', producerErrors);
  workerRedis.on('error', connectionErrors('worker'));
  sharedRedis.on('error', connectionErrors('shared'));

  const deadLetters = new DeadLetters(sharedRedis, config.queuePrefix);
  const tracing = options.tracing ?? tracingOff;
  const queue = new CycleQueue({
    connection: producerRedis,
    prefix: config.queuePrefix,
    attempts: config.worker.attempts,
    backoffMs: config.worker.backoffMs,
    reportAttempts: config.worker.reportAttempts,
    onError: producerErrors,
  });
  const history = new TaskHistory({
    redis: sharedRedis,
    prefix: config.queuePrefix,
    ...config.history,
    waiting: waitingCycles(queue.queue, sharedRedis),
    onError: (err) => logger.warn({ err }, 'task history not written'),
  });
  const limiter = gatewayLimiter({ config, redis: sharedRedis });
  const metrics = new PrometheusMetrics({
    sources: {
      queue: () => queue.queue.exportPrometheusMetrics(),
      deadLetters: () => deadLetters.count(),
      limiterRate: () => limiter.state(),
    },
    logger,
  });
  const tokens = gatewayTokenStore({ config, redis: sharedRedis, limiter, logger, metrics });
  // Only workers make these calls; the receiver never needs the shared calls' subscriber.
  const shared =
    withWorkers && config.cf.sharedCalls
      ? new SharedCalls({ redis: sharedRedis, keyPrefix: `${config.queuePrefix}:share`, caps: config.cf.caps, logger, metrics })
      : undefined;
  const clients = new Map<string, GatewayClient>();
  const clientFor = (connection: Connection): GatewayClient => {
    let client = clients.get(connection.id);
    if (!client) {
      client = gatewayClientOf(connection, { config, limiter, tokens, logger, metrics, shared });
      clients.set(connection.id, client);
    }
    return client;
  };

  const providerClientsOf = createProviderClients({
    configs: config.providers,
    redis: sharedRedis,
    keyPrefix: config.queuePrefix,
    logger,
    results: config.providerResults,
  });
  const providers = new Map<string, ProviderClients>();
  const providersFor = (connection: Connection): ProviderClients => {
    let set = providers.get(connection.id);
    if (!set) {
      set = countProviderCalls(providerClientsOf(connection.id, connection), metrics);
      providers.set(connection.id, set);
    }
    return set;
  };

  let worker: Worker | undefined;
  let events: QueueEvents | undefined;
  const abortCycles = new AbortController();
  if (withWorkers) {
    await mkdir(config.workDir, { recursive: true });
    await sweepStaleWorkDirs(config.workDir, 24 * 3600_000, logger);
    worker = createCycleWorker({
      connection: workerRedis,
      prefix: config.queuePrefix,
      concurrency: config.worker.concurrency,
      lockDurationMs: config.worker.lockDurationMs,
      maxStalledCount: config.worker.maxStalledCount,
      abortSignal: abortCycles.signal,
      connections: workerConnections,
      recipes: options.recipes,
      clientFor,
      providersFor,
      queue,
      deadLetters,
      history,
      workRoot: config.workDir,
      maxAssetBytes: config.maxAssetBytes,
      transferTimeoutMs: config.transferTimeoutMs,
      keptOutputDownload: config.cf.keptOutputDownload,
      logger,
      metrics,
      tracing,
      ...(options.onStep ? { onStep: options.onStep } : {}),
    });
    events = new QueueEvents(cycleQueueName, {
      connection: { url: config.redisUrl, maxRetriesPerRequest: null, connectionName: 'cf-ai-connector:events' },
      prefix: config.queuePrefix,
      autorun: false,
    });
    events.on('error', throttledErrorLog(logger.child({ redis: 'events' }), 'queue events error'));
    reportAbandonedCycles(events, { queue, logger, workRoot: config.workDir, history });
  }

  let stopping = false;
  const adminAuth = new AdminAuth({
    opsToken: config.adminToken,
    studioTokens: new Map([...connections].map(([id, c]) => [id, c.adminTokens ?? []])),
  });
  const app = buildReceiver({
    logger,
    isReady: async () => !stopping && (await sharedRedis.ping()) === 'PONG',
    ...(config.adminToken ? { metrics: { metrics, auth: adminAuth } } : {}),
    ...(withWebhooks
      ? {
          admin: {
            auth: adminAuth,
            connections,
            history,
            queue,
            deadLetters,
            limiter,
            publicUrl: config.publicUrl,
            cookieName: adminCookieName,
          },
        }
      : {}),
    ...(withWebhooks
      ? {
          webhooks: {
            connections,
            // Inside the webhook's span: the job carries its trace on.
            enqueue: (id, event, seen) => queue.addCycle(id, event, { trace: tracing.carrier(), ...seen }),
            metrics,
            tracing,
            // After the answer; at most one Redis write a second per connection.
            accepted: ({ connectionId, signatureVariant }) => history.webhookSeen(connectionId, signatureVariant),
          },
        }
      : {}),
  });

  const metricsApp = config.metricsListener ? buildMetricsServer(metrics, logger) : undefined;

  return {
    app,
    metricsApp,
    worker,
    queue,
    async start() {
      // Listen even when Redis is down (readiness then says so and webhooks get 503), but give
      // it a moment first so a normal start does not answer its first webhooks with 503.
      await connected(producerRedis, 5_000);
      if (worker) void worker.run();
      if (events) void events.run();
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      if (metricsApp && config.metricsListener) {
        await metricsApp.listen({ ...config.metricsListener });
        const bound = metricsApp.server.address();
        logger.info(
          {
            host: config.metricsListener.host,
            port: typeof bound === 'object' && bound ? bound.port : config.metricsListener.port,
          },
          'metrics served without a token (METRICS_PORT)',
        );
      }
      logger.info(
        { mode, port, connections: [...connections.keys()], workers: worker ? config.worker.concurrency : 0 },
        'cf-ai-connector started',
      );
      return port;
    },
    async stop() {
      stopping = true;
      logger.info({ deadlineMs: config.shutdownTimeoutMs }, 'shutting down');
      // Stop taking webhooks, let active cycles finish within the deadline, then abort them (they
      // resume on another worker). BullMQ's close() never resolves while Redis is down, forced or
      // not (pitfalls: BullMQ 4656; close(true) only returns the pending close), so what is still
      // closing after the deadline gets forcedCloseMs, then its connections are dropped.
      const draining = (async () => {
        await Promise.all([app.close(), metricsApp?.close()]);
        await worker?.close();
      })();
      if (!(await settlesWithin(draining, config.shutdownTimeoutMs))) {
        logger.warn(
          'active cycles did not finish before the deadline (or Redis is unreachable); stopping them: they go back to the queue',
        );
        abortCycles.abort(new Error('shutdown deadline passed'));
      }
      const closing = (async () => {
        await draining;
        await history.flush(); // the connections' last webhooks
        await events?.close();
        await queue.close();
      })();
      if (!(await settlesWithin(closing, forcedCloseMs))) {
        logger.warn(
          { forcedCloseMs },
          'the worker and queue did not close after the deadline (is Redis reachable?); dropping them',
        );
        closing.catch((err: unknown) => logger.warn({ err }, 'closing the worker and queue failed'));
      }
      shared?.close();
      for (const r of [producerRedis, workerRedis, sharedRedis]) r.disconnect();
    },
  };
}
