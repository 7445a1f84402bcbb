/**
 * What `cf-ai-connector reports` does (reports-command.ts defines its arguments): lists the dead
 * letters, or queues some or all of them again for a worker to deliver.
 */
import { loadEnvConfig } from '../config/env.ts';
import { CycleQueue } from '../queue/cycle-queue.ts';
import { type DeadLetter, DeadLetters } from '../queue/dead-letters.ts';
import { type CommandIo, commandLineError } from './command.ts';
import { commandRedis, reachRedis } from './command-redis.ts';

/** List them (`json`: one JSON object a line), or queue those ids (or all) again. */
export type ReportsRequest = { verb: 'list'; json: boolean } | { verb: 'resend'; ids: readonly string[] | 'all' };

function line(letter: DeadLetter): string {
  const { report } = letter;
  return `${letter.id}  ${letter.at}  ${report.connectionId}  ${report.taskProcessId}  ${report.code}  attempts ${letter.attempts}  ${letter.error}`;
}

/** Runs the request; resolves with the exit code (1: Redis unreachable, the configuration invalid, an id unknown). */
export async function runReports(request: ReportsRequest, { env, out, err }: CommandIo): Promise<number> {
  let config: ReturnType<typeof loadEnvConfig>;
  try {
    config = loadEnvConfig(env);
  } catch (e) {
    err.write(`${commandLineError(e)}\n`);
    return 1;
  }
  const redis = commandRedis(config.redisUrl, 'reports');
  try {
    const unreachable = await reachRedis(redis);
    if (unreachable) throw new Error(unreachable);
    const letters = new DeadLetters(redis, config.queuePrefix);
    const all = await letters.list();
    if (request.verb === 'list') {
      if (request.json) for (const letter of all) out.write(`${JSON.stringify(letter)}\n`);
      else if (all.length === 0) out.write('no undelivered failure reports\n');
      else for (const letter of all) out.write(`${line(letter)}\n`);
      return 0;
    }
    const { ids } = request;
    const chosen = ids === 'all' ? all : all.filter((l) => ids.includes(l.id));
    const unknown = ids === 'all' ? [] : ids.filter((id) => !all.some((l) => l.id === id));
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
  } catch (e) {
    err.write(`${commandLineError(e)}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
}
