/** What `cf-ai-connector tasks` does (tasks-command.ts defines its arguments). */
import { Queue } from 'bullmq';
import { loadConnectionsFile } from '../config/connections.ts';
import { loadEnvConfig } from '../config/env.ts';
import { type CycleStatus, type CycleSummary, TaskHistory } from '../history/task-history.ts';
import { waitingCycles } from '../history/waiting-cycles.ts';
import { createRecipeRegistry } from '../providers/index.ts';
import { cycleQueueName } from '../queue/cycle-job.ts';
import { type CommandIo, commandLineError, pickConnections, UsageError } from './command.ts';
import { commandRedis, reachRedis } from './command-redis.ts';

export interface TasksRequest {
  connectionId: string;
  status: CycleStatus | undefined;
  sinceMs: number;
  limit: number;
  json: boolean;
}

function line(c: CycleSummary): string {
  const error = c.errorCode ? `  ${c.errorCode}` : '';
  return `${c.receivedAt}  ${c.status.padEnd(11)}  ${c.taskProcessId}  ${c.productCode ?? '-'}  ${c.recipe}  attempts ${c.attempts}${error}`;
}

export async function listTasks(request: TasksRequest, { env, out, err }: CommandIo): Promise<number> {
  let config: ReturnType<typeof loadEnvConfig>;
  try {
    config = loadEnvConfig(env);
    // The connection must exist in this deployment's file (the receiver's part is enough).
    if (config.connectionsFile) {
      const connections = await loadConnectionsFile(config.connectionsFile, createRecipeRegistry(), env, { scope: 'receiver' });
      pickConnections(connections, request.connectionId);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    err.write(`${commandLineError(e)}\n`);
    return 1;
  }
  const redis = commandRedis(config.redisUrl, 'tasks');
  let queue: Queue | undefined;
  try {
    const unreachable = await reachRedis(redis);
    if (unreachable) {
      err.write(`cf-ai-connector: ${unreachable}\n`);
      return 1;
    }
    // The queue's cycles that no worker has recorded yet are listed from their jobs.
    queue = new Queue(cycleQueueName, { connection: redis, prefix: config.queuePrefix });
    queue.on('error', (e) => err.write(`cf-ai-connector: ${e.message}\n`));
    const history = new TaskHistory({
      redis,
      prefix: config.queuePrefix,
      ...config.history,
      waiting: waitingCycles(queue, redis),
    });
    const shown: CycleSummary[] = [];
    let cursor: string | undefined;
    while (shown.length < request.limit) {
      const page = await history.list(request.connectionId, {
        ...(request.status ? { status: request.status } : {}),
        from: Date.now() - request.sinceMs,
        limit: Math.min(200, request.limit - shown.length),
        ...(cursor ? { cursor } : {}),
      });
      shown.push(...page.cycles);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    if (request.json) for (const cycle of shown) out.write(`${JSON.stringify(cycle)}\n`);
    else if (shown.length === 0) out.write('no tasks\n');
    else for (const cycle of shown) out.write(`${line(cycle)}\n`);
    return 0;
  } finally {
    await queue?.close();
    redis.disconnect();
  }
}
