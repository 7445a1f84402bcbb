/**
 * For the benchmarks that spawn the service's processes: when this process is told to stop
 * (SIGINT, SIGTERM, SIGHUP), `cleanup` runs (killing what was spawned, dropping its Redis keys)
 * before it exits, so that nothing is left running behind it. A second signal exits at once.
 * Returns the remover, for when the work is done and the usual cleanup has run.
 */
import { constants } from 'node:os';

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long the cleanup may take before the process exits anyway. */
const cleanupTimeoutMs = 15_000;

export function onInterrupt(cleanup: () => Promise<unknown>): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    const code = 128 + (constants.signals[signal] ?? 0);
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`\n${signal}: stopping what this benchmark started\n`);
    const timer = setTimeout(() => process.exit(code), cleanupTimeoutMs);
    cleanup()
      .catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`))
      .finally(() => {
        clearTimeout(timer);
        process.exit(code);
      });
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
