/**
 * The composition root: the only place that reads the configuration, listens, and traps signals.
 */
import type { Logger } from 'pino';
import { loadConnectionsFile } from './config/connections.ts';
import { loadEnvConfig } from './config/env.ts';
import { ConnectorError, isConnectorError } from './errors.ts';
import { createLogger } from './observability/logger.ts';
import { createRecipeRegistry } from './providers/index.ts';
import { buildService, type ServiceMode } from './service.ts';

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
    const log = logger;
    let stopping = false;
    const stop = (signal: string) => {
      log.info({ signal }, 'signal received');
      if (stopping) return;
      stopping = true;
      void service.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    await service.start();
  } catch (err) {
    const message = isConnectorError(err) ? `${err.code}: ${err.message}` : String(err);
    if (logger) logger.fatal({ err }, 'cf-ai-connector could not start');
    process.stderr.write(`cf-ai-connector: ${message}\n`);
    process.exit(1);
  }
}
