/** A `serve` process of the stack's configuration, spawned as in production, with its port and output. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Stack } from '../helpers/stack.ts';

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  /** Everything it wrote to stderr (a crash leaves its trace there). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Logs at `info`: its port is read from its "started" line. */
export async function spawnServe(stack: Stack, env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [resolve('src/cli.ts'), 'serve'], {
    env: { ...process.env, ...stack.env, ...env, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        const started = line.includes('"cf-ai-connector started"') ? (JSON.parse(line) as { port: number }) : null;
        if (started) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolvePort(started.port);
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
  });
  return {
    child,
    port,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
