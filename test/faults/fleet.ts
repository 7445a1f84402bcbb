/**
 * The service as production runs it: a receiver (`serve`) and worker (`work`) processes spawned
 * from src/cli.ts, their pino lines read as they come (LOG_LEVEL=info), killed and replaced by
 * the fault tests.
 */
import type { ChildProcess } from 'node:child_process';
import { type LogLine, type ProcessLog, watchProcess } from '../helpers/process-log.ts';
import type { Stack } from '../helpers/stack.ts';

/** The fields of the service's log lines the fault tests read. */
export interface ServiceLine extends LogLine {
  port?: number;
  /** Of `request sent` lines (sent-requests.ts): when, and to where. */
  at?: number;
  origin?: string;
  path?: string;
  step?: string;
  taskProcessId?: string;
  jobId?: string;
}

export interface ServiceProcess {
  /** `receiver`, `worker-1`, `worker-2`, … */
  readonly name: string;
  readonly command: 'serve' | 'work';
  readonly child: ChildProcess;
  readonly log: ProcessLog<ServiceLine>;
  /** The port it listens on (from its "started" line). */
  readonly port: number;
  /** False once it has exited. */
  alive(): boolean;
}

type LineListener = (process: ServiceProcess, line: ServiceLine) => void;

export class Fleet {
  readonly #stack: Stack;
  readonly #nodeArgs: string[];
  readonly #processes: ServiceProcess[] = [];
  /** Processes sent a signal through `kill`: no longer counted as workers, even while they drain. */
  readonly #signalled = new Set<ServiceProcess>();
  readonly #listeners = new Set<LineListener>();
  /** The worker that last logged about each task process. */
  readonly #owners = new Map<string, ServiceProcess>();
  #spawned = 0;
  #starting = 0;
  #kills = 0;

  /** `nodeArgs` go before the script of every process (e.g. `--import` of a preload). */
  constructor(stack: Stack, nodeArgs: string[] = []) {
    this.#stack = stack;
    this.#nodeArgs = nodeArgs;
  }

  /** Spawns a process; resolves once it has logged "cf-ai-connector started", rejects if it exits first. */
  async start(command: 'serve' | 'work', env: Record<string, string> = {}): Promise<ServiceProcess> {
    this.#starting += 1;
    try {
      return await this.#start(command, env);
    } finally {
      this.#starting -= 1;
    }
  }

  /** Processes spawned that have not logged their start yet. */
  get starting(): number {
    return this.#starting;
  }

  async #start(command: 'serve' | 'work', env: Record<string, string>): Promise<ServiceProcess> {
    const child = this.#stack.spawnProcess(command, { env, nodeArgs: this.#nodeArgs, capture: true });
    const log = watchProcess<ServiceLine>(child);
    const name = command === 'serve' ? 'receiver' : `worker-${++this.#spawned}`;
    const port = await new Promise<number>((resolve, reject) => {
      const stop = log.onLine((line) => {
        if (line.msg !== 'cf-ai-connector started') return;
        stop();
        resolve(line.port ?? 0);
      });
      void log.exited.then((code) => reject(new Error(`${name} exited (${code}) before it started:\n${log.text()}`)));
    });
    let exited = false;
    void log.exited.then(() => {
      exited = true;
    });
    const process: ServiceProcess = { name, command, child, log, port, alive: () => !exited && child.exitCode === null };
    this.#processes.push(process);
    log.onLine((line) => {
      if (command === 'work' && line.taskProcessId) this.#owners.set(line.taskProcessId, process);
      for (const listener of this.#listeners) listener(process, line);
    });
    return process;
  }

  /** The worker processes running and not being stopped. */
  workers(): ServiceProcess[] {
    return this.#processes.filter((p) => p.command === 'work' && p.alive() && !this.#signalled.has(p));
  }

  /** The running worker that last logged about a task process (the one working on it). */
  ownerOf(taskProcessId: string): ServiceProcess | undefined {
    const owner = this.#owners.get(taskProcessId);
    return owner?.alive() ? owner : undefined;
  }

  /** How many processes were killed through `kill`. */
  get kills(): number {
    return this.#kills;
  }

  /** Calls `listener` with every line of every process started from now on; returns its remover. */
  onLine(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends `signal`; resolves with the exit code once the process has exited. */
  async kill(process: ServiceProcess, signal: NodeJS.Signals): Promise<number | null> {
    if (process.alive()) {
      this.#kills += 1;
      this.#signalled.add(process);
      process.child.kill(signal);
    }
    return process.log.exited;
  }

  /** Kills `process` and starts a worker in its place; resolves once the new one has started. */
  async replace(process: ServiceProcess, signal: NodeJS.Signals): Promise<ServiceProcess> {
    this.#starting += 1; // counted from now, so the fleet is never seen without a worker in between
    try {
      await this.kill(process, signal);
      return await this.#start('work', {});
    } finally {
      this.#starting -= 1;
    }
  }

  /** Every process's output, for a failure message. */
  text(): string {
    return this.#processes.map((p) => `--- ${p.name}\n${p.log.text()}`).join('\n');
  }
}
