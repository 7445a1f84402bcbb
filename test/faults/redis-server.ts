/**
 * A redis-server of a fault test's own, on a free loopback port, with the persistence production
 * uses (AOF, fsync every second) in a temporary directory, so it can be killed and started again
 * with its data. The shared Redis on 6379 is never touched.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/free-port.ts';

/** How a restart stops the server: SIGKILL (what the AOF fsync policy allows to be lost is lost), or SHUTDOWN NOSAVE. */
export type RedisStop = 'kill' | 'shutdown';

export class RedisServer {
  readonly url: string;
  readonly #port: number;
  readonly #dir: string;
  #process: ChildProcess | undefined;

  private constructor(port: number, dir: string) {
    this.#port = port;
    this.#dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), await mkdtemp(join(tmpdir(), 'cfc-redis-')));
    await server.#launch();
    return server;
  }

  /** Stops the server the given way; resolves once it has exited. */
  async stop(how: RedisStop): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    if (how === 'kill') {
      child.kill('SIGKILL');
    } else {
      const client = new Redis(this.url, { maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      // The server closes the connection instead of answering.
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      client.disconnect();
    }
    await exited;
  }

  /** Starts the stopped server again on the same port and data; resolves once it answers (its AOF loaded). */
  startAgain(): Promise<void> {
    return this.#launch();
  }

  /** Stops the server the given way, waits `downMs`, and starts it again. */
  async restart(how: RedisStop, downMs = 0): Promise<void> {
    await this.stop(how);
    if (downMs > 0) await sleep(downMs);
    await this.startAgain();
  }

  /** Kills the server and removes its data. */
  async close(): Promise<void> {
    await this.stop('kill');
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.#port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--dir',
        this.#dir,
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.#process = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {});
      // Answers PONG only once the AOF is loaded (LOADING errors before).
      const answer = await client
        .connect()
        .then(() => client.ping())
        .catch(() => undefined);
      client.disconnect();
      if (answer === 'PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.#port} did not answer`);
      await sleep(50);
    }
  }
}
