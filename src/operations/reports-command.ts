/**
 * `cf-ai-connector reports`: the failure reports Creative Force never got (dead letters), for ops
 * to see and send again once the cause is fixed (credentials, the gateway, a deleted connection).
 *
 *   reports                 list them, oldest first (`--json`: one JSON object a line)
 *   reports resend <id>...  queue those again (a worker delivers them)
 *   reports resend --all    queue all of them again
 */
import { Redis } from 'ioredis';
import { loadEnvConfig } from '../config/env.ts';
import { isConnectorError } from '../errors.ts';
import { CycleQueue } from '../queue/cycle-queue.ts';
import { type DeadLetter, DeadLetters } from '../queue/dead-letters.ts';

export const reportsUsage = `usage: cf-ai-connector reports [--json]
       cf-ai-connector reports resend <id>... | --all`;

interface Output {
  write(text: string): unknown;
}

function line(letter: DeadLetter): string {
  const { report } = letter;
  return `${letter.id}  ${letter.at}  ${report.connectionId}  ${report.taskProcessId}  ${report.code}  attempts ${letter.attempts}  ${letter.error}`;
}

/** Runs the command; resolves with the exit code. */
export async function runReportsCommand(
  args: readonly string[],
  env: Record<string, string | undefined> = process.env,
  out: Output = process.stdout,
  err: Output = process.stderr,
): Promise<number> {
  let config: ReturnType<typeof loadEnvConfig>;
  try {
    config = loadEnvConfig(env);
  } catch (e) {
    err.write(`cf-ai-connector: ${isConnectorError(e) ? `${e.code}: ${e.message}` : String(e)}\n`);
    return 1;
  }
  const redis = new Redis(config.redisUrl, {
    connectionName: 'cf-ai-connector:reports',
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  redis.on('error', () => {}); // the command's own calls fail and say why
  try {
    await redis.connect().catch((e: unknown) => {
      throw new Error(`cannot reach Redis at REDIS_URL: ${e instanceof Error ? e.message : String(e)}`);
    });
    const letters = new DeadLetters(redis, config.queuePrefix);
    const [verb = 'list', ...rest] = args[0] === '--json' ? ['list', ...args] : args;
    if (verb === 'list') {
      const all = await letters.list();
      if (rest.includes('--json')) for (const letter of all) out.write(`${JSON.stringify(letter)}\n`);
      else if (all.length === 0) out.write('no undelivered failure reports\n');
      else for (const letter of all) out.write(`${line(letter)}\n`);
      return 0;
    }
    if (verb === 'resend' && rest.length > 0) {
      const all = await letters.list();
      const chosen = rest.includes('--all') ? all : all.filter((l) => rest.includes(l.id));
      const unknown = rest.filter((id) => id !== '--all' && !all.some((l) => l.id === id));
      for (const id of unknown) err.write(`cf-ai-connector: no dead letter ${id}\n`);
      const queue = new CycleQueue({
        connection: redis,
        prefix: config.queuePrefix,
        attempts: 1,
        backoffMs: config.worker.backoffMs,
        reportAttempts: config.worker.reportAttempts,
        onError: () => {},
      });
      try {
        for (const letter of chosen) {
          const jobId = await queue.resendFailureReport(letter.report);
          await letters.remove(letter.id);
          out.write(`queued ${letter.id} again as ${jobId}\n`);
        }
      } finally {
        await queue.close();
      }
      return unknown.length > 0 ? 1 : 0;
    }
    err.write(`${reportsUsage}\n`);
    return 2;
  } catch (e) {
    err.write(`cf-ai-connector: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
}
