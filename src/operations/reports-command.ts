/**
 * `cf-ai-connector reports`: the failure reports Creative Force never got (dead letters), for ops
 * to see and send again once the cause is fixed (credentials, the gateway, a deleted connection).
 * Its arguments and help; what it does is dead-letter-reports.ts (loaded when it runs).
 *
 *   reports [list]          list them, oldest first (`--json`: one JSON object a line)
 *   reports resend <id>...  queue those again (a worker delivers them)
 *   reports resend --all    queue all of them again
 */
import { defineCommand, UsageError } from './command.ts';

const help = `usage: cf-ai-connector reports [list] [--json]
       cf-ai-connector reports resend <id>... | --all

The failure reports Creative Force never got (refused, out of attempts, or of a connection no
longer configured), kept in Redis as dead letters.

  reports [list]          list them, oldest first: id, time, connection, task process, code, last error
  reports resend <id>...  queue those again once the cause is fixed (a worker delivers them)
  reports resend --all    queue all of them again

options:
  --json      list: one JSON object a line
  --all       resend: every dead letter
  -h, --help  this help

exit codes: 0 done; 1 Redis unreachable, the configuration invalid, or an id unknown; 2 usage`;

export const reportsCommand = defineCommand({
  name: 'reports',
  summary: 'the failure reports Creative Force never got; `reports resend` sends them again',
  help,
  options: { json: { type: 'boolean' }, all: { type: 'boolean' } },
  maxPositionals: Number.POSITIVE_INFINITY,
  async run({ values, positionals }, io) {
    const [verb = 'list', ...ids] = positionals;
    if (verb !== 'list' && verb !== 'resend') throw new UsageError(`unknown reports command "${verb}" (list or resend)`);
    if (verb === 'list' && (ids.length > 0 || values.all)) {
      throw new UsageError(ids.length > 0 ? `unexpected argument "${ids[0]}"` : '--all goes with resend');
    }
    if (verb === 'resend' && values.json) throw new UsageError('--json goes with list');
    if (verb === 'resend' && ids.length > 0 === (values.all === true)) {
      throw new UsageError('resend takes dead letter ids or --all');
    }
    const { runReports } = await import('./dead-letter-reports.ts');
    return runReports(verb === 'list' ? { verb, json: values.json === true } : { verb, ids: values.all ? 'all' : ids }, io);
  },
});
