/**
 * `cf-ai-connector preview <connection> <subfunction> --task <taskProcessId>`: what a cycle would
 * produce for a real task, without submitting anything. Its arguments and help; what it does is
 * preview-task.ts (loaded when it runs).
 */
import { defineCommand, UsageError } from './command.ts';

const help = `usage: cf-ai-connector preview <connection> <subfunction> --task <taskProcessId> [--out <dir>] [--yes]

Runs a subfunction's configured recipe on a real task without touching it: reads the task process
from Creative Force (read-only calls: process detail, inputs, and the context the recipe declares,
such as the reviewers' annotations on a rework), runs the recipe, checks its results as a cycle
does, and writes them and a report to <dir>: which file would go into which drop box, as new or
redone, and which earlier outputs would be kept. Nothing is uploaded or submitted to Creative
Force, no status is reported, nothing is queued, and the task history is not written.

Before it starts it says how many paid provider calls it makes (generations, renders, workflow
runs); when there are any it makes them only with --yes.

options:
  --task <id>   the task process (TaskProcessId) to preview
  --out <dir>   where the outputs and report.json / report.md go (default ./preview-<task>)
  --yes         make the paid provider calls
  -h, --help    this help

exit codes: 0 the outputs and the report are written; 1 the configuration is invalid, Redis or
Creative Force cannot be reached, or the recipe failed (its error is printed); 2 usage (an unknown
connection or subfunction, no --task, or paid calls without --yes)`;

export const previewCommand = defineCommand({
  name: 'preview',
  summary: "run a subfunction's recipe on a real task and write what it would submit (submits nothing)",
  help,
  options: {
    task: { type: 'string' },
    out: { type: 'string' },
    yes: { type: 'boolean' },
  },
  maxPositionals: 2,
  async run({ values, positionals }, io) {
    const [connectionId, subfunctionId] = positionals;
    if (connectionId === undefined || subfunctionId === undefined) {
      throw new UsageError('preview takes a connection id and a subfunction id');
    }
    if (!/^\d+$/.test(subfunctionId)) throw new UsageError(`a subfunction id is a number, not "${subfunctionId}"`);
    const taskProcessId = values.task?.trim();
    if (!taskProcessId) throw new UsageError('preview needs --task <taskProcessId>');
    const { previewTask } = await import('./preview-task.ts');
    return previewTask(
      {
        connectionId,
        subfunctionId,
        taskProcessId,
        outDir: values.out ?? `preview-${taskProcessId}`,
        yes: values.yes === true,
      },
      io,
    );
  },
});
