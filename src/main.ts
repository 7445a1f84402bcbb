/**
 * The composition root: the only place that reads the configuration, listens, and traps signals.
 */
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { loadConnectionsFile } from './config/connections.ts';
import { loadEnvConfig, requiredConnectionsFile } from './config/env.ts';
import { isConnectorError } from './errors.ts';
import { closeSharedDispatcher } from './http/shared-agent.ts';
import { createLogger } from './observability/logger.ts';
import { startTracing } from './observability/start-tracing.ts';
import type { Tracing } from './observability/tracing.ts';
import { commandLineError } from './operations/command.ts';
import { createRecipeRegistry } from './providers/index.ts';
import { buildService, forcedCloseMs, type Service, type ServiceMode } from './service.ts';

/** Time past stop()'s own bound (deadline + forced close) for the HTTP agent and the last log lines. */
const exitMarginMs = 2_000;

/**
 * Starts the service in `mode`; it then runs until a signal. When it cannot start, it exits 1
 * after one line: a configuration error (CONFIG_INVALID), or any error before the logger exists,
 * as `cf-ai-connector: CODE: …` on stderr, for the person who wrote the configuration; any other
 * error as a `fatal` log line with its stack on stdout, where the service's other lines go.
 */
export async function runService(mode: ServiceMode, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadEnvConfig(env);
    const recipes = createRecipeRegistry();
    const connections = await loadConnectionsFile(requiredConnectionsFile(config), recipes, env, {
      scope: mode === 'serve' ? 'receiver' : 'full',
    });
    logger = createLogger(config.logLevel);
    const tracing = await startTracing(config.tracing);
    const service = await buildService({ config, connections, recipes, mode, logger, tracing });
    exitThroughStop(service, tracing, logger, config.shutdownTimeoutMs);
    await service.start();
  } catch (err) {
    if (logger && !(isConnectorError(err) && err.code === 'CONFIG_INVALID')) {
      logger.fatal({ err }, 'cf-ai-connector could not start');
    } else {
      process.stderr.write(`${commandLineError(err)}\n`);
    }
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
 * Tracing, when on, sends its last spans after the stop, within exitMarginMs.
 */
function exitThroughStop(service: Service, tracing: Tracing, log: Logger, shutdownTimeoutMs: number): void {
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
      await Promise.all([closeSharedDispatcher(), tracing.shutdown()]);
      log.info({ exitCode: err ? 1 : 0 }, 'cf-ai-connector stopped');
    },
  );
}
