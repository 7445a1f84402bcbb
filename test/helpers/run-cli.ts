/** `cf-ai-connector <args>` spawned from src/cli.ts as a real process: its exit code and output. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command line with `env` and nothing of the test's own environment but PATH (in `cwd`, default this one). */
export async function runCli(args: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<CliRun> {
  const child = spawn(process.execPath, [resolve('src/cli.ts'), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // 'close', not 'exit': 'exit' may come before the last output has been read from the pipes.
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
