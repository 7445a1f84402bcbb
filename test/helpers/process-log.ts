/** The output of a spawned service process (`capture: true`): its pino JSON lines, stderr and exit. */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** One pino line; the fields a test reads are declared by the type it passes. */
export interface LogLine {
  level: number;
  msg: string;
}

export interface ProcessLog<L extends LogLine> {
  /** The JSON lines of stdout, in order. */
  lines: L[];
  messages(): string[];
  stderr(): string;
  /** Everything the process wrote, for a failure message. */
  text(): string;
  /** Calls `listener` with each JSON line from now on; returns its remover. */
  onLine(listener: (line: L) => void): () => void;
  /** The exit code (null after a signal), once the pipes are read to their end. */
  exited: Promise<number | null>;
}

/** Collects a process's stdout lines (JSON; any other line is kept in the text) and stderr. */
export function watchProcess<L extends LogLine = LogLine>(child: ChildProcess): ProcessLog<L> {
  const lines: L[] = [];
  const listeners = new Set<(line: L) => void>();
  let partial = '';
  let other = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const text of complete) {
      if (!text.trim()) continue;
      let line: L;
      try {
        line = JSON.parse(text) as L;
      } catch {
        other += `${text}\n`;
        continue;
      }
      lines.push(line);
      for (const listener of listeners) listener(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // 'close', not 'exit': 'exit' may come before the last output has been read from the pipes.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return {
    lines,
    messages: () => lines.map((l) => l.msg),
    stderr: () => stderr,
    text: () => `${JSON.stringify(lines)}\n${other}${partial}\n${stderr}`,
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    exited,
  };
}
