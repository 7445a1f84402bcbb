/**
 * `cf-ai-connector tasks <connection>`: a connection's recent tasks from the task history, newest
 * first. Its arguments and help; what it does is task-list.ts (loaded when it runs).
 */
import { cycleStatuses } from '../history/task-history.ts';
import { defineCommand, UsageError } from './command.ts';

const help = `usage: cf-ai-connector tasks <connection> [--status <status>] [--since <age>] [--limit <n>] [--json]

A connection's recent tasks from the task history, newest first: when the cycle was received, its
status, the task process, product code, recipe, attempts, and the error of a failed one.

options:
  --status <status>  only cycles in this status: ${cycleStatuses.join(', ')}
  --since <age>      only cycles received in the last <age>: 30m, 24h, 7d (default 24h)
  --limit <n>        at most n cycles (1-1000, default 50)
  --json             one JSON object a line (the admin API's summary)
  -h, --help         this help

exit codes: 0 done; 1 Redis unreachable or the configuration invalid; 2 usage (an unknown
connection, status or age)`;

/** An age like `30m`, `24h`, `7d` in milliseconds. */
function parseAge(text: string): number {
  const match = /^(\d{1,6})([mhd])$/.exec(text);
  if (!match) throw new UsageError(`--since takes an age like 30m, 24h or 7d, not "${text}"`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

export const tasksCommand = defineCommand({
  name: 'tasks',
  summary: "a connection's recent tasks from the task history",
  help,
  options: {
    status: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  },
  maxPositionals: 1,
  async run({ values, positionals }, io) {
    const [connectionId] = positionals;
    if (connectionId === undefined) throw new UsageError('tasks takes a connection id');
    const status = values.status === undefined ? undefined : cycleStatuses.find((s) => s === values.status);
    if (values.status !== undefined && status === undefined) {
      throw new UsageError(`--status takes one of ${cycleStatuses.join(', ')}, not "${values.status}"`);
    }
    const sinceMs = parseAge(values.since ?? '24h');
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new UsageError(`--limit takes 1 to 1000, not "${values.limit}"`);
    const { listTasks } = await import('./task-list.ts');
    return listTasks({ connectionId, status, sinceMs, limit, json: values.json === true }, io);
  },
});
