/**
 * What `cf-ai-connector check` does (check-command.ts defines its arguments): validates the
 * configuration as `start` does, reaches Redis, runs the token checks of each connection
 * (remote-system-checks.ts), and prints one line per check, the webhook URL of each subfunction,
 * then how many checks failed.
 */
import { loadConnectionsFile } from '../config/connections.ts';
import { loadEnvConfig, requiredConnectionsFile } from '../config/env.ts';
import { createLogger } from '../observability/logger.ts';
import { createRecipeRegistry } from '../providers/index.ts';
import { webhookPath, webhookUrl } from '../receiver/webhook-url.ts';
import { type CommandIo, commandLineError, pickConnections } from './command.ts';
import { commandRedis, reachRedis } from './command-redis.ts';
import { type CheckResult, createRemoteSystemChecks } from './remote-system-checks.ts';

/**
 * Checks every connection, or the one `connectionId` names; resolves with the exit code: 0 when
 * every check passed, 1 when one failed or the configuration is invalid.
 *
 * @throws UsageError when the connections file has no connection `connectionId`.
 */
export async function checkDeployment(connectionId: string | undefined, { env, out, err }: CommandIo): Promise<number> {
  const loaded = await loadConfiguration(env).catch((e: unknown) => {
    err.write(`${commandLineError(e)}\n`);
    return undefined;
  });
  if (!loaded) return 1;
  const { config } = loaded;
  const connections = pickConnections(loaded.connections, connectionId);
  const redis = commandRedis(config.redisUrl, 'check');
  try {
    const unreachable = await reachRedis(redis);
    const checksOf = createRemoteSystemChecks({ config, redis, redisReachable: !unreachable, logger: createLogger('silent') });
    const count = loaded.connections.length;
    // Every check starts now; the lines come in this order as their results arrive.
    const rows: { label: string; result: CheckResult | Promise<CheckResult> }[] = [
      {
        label: 'configuration',
        result: { ok: true, text: `ok, ${count} ${count === 1 ? 'connection' : 'connections'} in ${config.connectionsFile}` },
      },
      {
        label: 'redis',
        result: unreachable
          ? { ok: false, text: `${unreachable}. To do: check REDIS_URL and its password; no service process runs without Redis` }
          : { ok: true, text: 'ok' },
      },
      {
        label: 'PUBLIC_URL',
        result: {
          ok: true,
          text:
            config.publicUrl ??
            'unset: the webhook URLs below are paths; a studio enters https://<public host of the receiver><path> (set PUBLIC_URL to print them whole)',
        },
      },
      ...connections.flatMap((connection) => {
        const url = webhookUrl(config.publicUrl, connection.id) ?? webhookPath(connection.id);
        const subfunctions = Object.entries(connection.subfunctions).sort(([a], [b]) => Number(a) - Number(b));
        return [
          ...checksOf(connection).map((check) => ({ label: `${connection.id} ${check.system}`, result: check.run() })),
          ...subfunctions.map(([id, sub]) => ({
            label: `${connection.id} subfunction ${id}`,
            result: { ok: true, text: `webhook ${url} (recipe ${sub.recipe})` },
          })),
        ];
      }),
    ];
    const width = Math.max(...rows.map((row) => row.label.length));
    let failed = 0;
    for (const row of rows) {
      const result = await row.result;
      out.write(`${row.label.padEnd(width)}  ${result.text}\n`);
      if (!result.ok) failed += 1;
    }
    out.write(failed === 0 ? 'every check passed\n' : `${failed} ${failed === 1 ? 'check' : 'checks'} failed\n`);
    return failed === 0 ? 0 : 1;
  } finally {
    redis.disconnect();
  }
}

/** The environment and the whole connections file, validated as `start` does. */
async function loadConfiguration(env: Record<string, string | undefined>) {
  const config = loadEnvConfig(env);
  const connections = await loadConnectionsFile(requiredConnectionsFile(config), createRecipeRegistry(), env);
  return { config, connections };
}
