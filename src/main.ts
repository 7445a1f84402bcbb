/**
 * The composition root: the only place that reads the configuration, listens, and traps signals.
 */
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { loadConnectionsFile } from './config/connections.ts';
import { loadEnvConfig } from './config/env.ts';
import { ConnectorError, isConnectorError } from './errors.ts';
import { closeSharedDispatcher } from './http/shared-agent.ts';
import { createLogger } from './observability/logger.ts';
import { createRecipeRegistry } from './providers/index.ts';
import { buildService, forcedCloseMs, type Service, type ServiceMode } from './service.ts';

/** Time past stop()'s own bound (deadline + forced close) for the HTTP agent and the last log lines. */
const exitMarginMs = 2_000;

export async function runService(mode: ServiceMode, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadEnvConfig(env);
    logger = createLogger(config.logLevel);
    if (!config.connectionsFile)
      throw new ConnectorError('CONFIG_INVALID', 'CONNECTIONS_FILE: required (path to the YAML or JSON connections file)');
    const recipes = createRecipeRegistry();
    const connections = await loadConnectionsFile(config.connectionsFile, recipes, env, {
      scope: mode === 'serve' ? 'receiver' : 'full',
    });
    const service = await buildService({ config, connections, recipes, mode, logger });
    exitThroughStop(service, logger, config.shutdownTimeoutMs);
    await service.start();
  } catch (err) {
    const message = isConnectorError(err) ? `${err.code}: ${err.message}` : String(err);
    if (logger) logger.fatal({ err }, 'cf-ai-connector could not start');
    process.stderr.write(`cf-ai-connector: ${message}\n`);
    process.exit(1);
  }
}

/**
 * One way out of a running service: a signal (exit 0), an uncaught exception or an unhandled
 * rejection (logged, exit 1) all stop the service and close the shared HTTP agent. stop() bounds
 * itself to SHUTDOWN_TIMEOUT_MS + forcedCloseMs, so close-with-grace's forced exit (exit 1) comes
 * only after that, when something still hangs. A second signal or error exits at once (exit 1).
 * The native fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL) are left to Node: a JavaScript
 * listener on a real fault, e.g. in libvips, would leave the process spinning instead of dying.
 * `beforeExit` is left out too: a running service always has a listener or a worker pending.
 */
function exitThroughStop(service: Service, log: Logger, shutdownTimeoutMs: number): void {
  closeWithGrace(
    {
      delay: shutdownTimeoutMs + forcedCloseMs + exitMarginMs,
      skip: ['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'beforeExit'],
      // Used only when the close function below rejects.
      logger: { error: (err: unknown) => log.error({ err }, 'shutdown failed') },
      onTimeout: (delayMs) => log.error({ delayMs }, 'shutdown did not finish in time; exiting'),
      onSecondSignal: (signal) => log.warn({ signal }, 'second signal while shutting down; exiting'),
      onSecondError: (err) => log.fatal({ err }, 'second fatal error while shutting down; exiting'),
    },
    async ({ signal, err }) => {
      if (err) log.fatal({ err }, 'fatal error; shutting down');
      else log.info({ signal }, 'signal received');
      await service.stop();
      await closeSharedDispatcher();
      log.info({ exitCode: err ? 1 : 0 }, 'cf-ai-connector stopped');
    },
  );
}
