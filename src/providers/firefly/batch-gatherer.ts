/**
 * Several tasks waiting on the same published workflow share one Firefly batch: a batch takes many
 * runs, and each batch is one paid execution request and one rate-limit hit. The first task to
 * arrive for (connection, workflow) becomes the leader, waits a short gathering window, takes
 * every run queued meanwhile (by any process) and executes them as one batch; each task then gets
 * the batch id and the indexes of its own runs. Everything lives in Redis, so tasks from all
 * worker processes gather together; a leader that dies before executing lets its key expire and
 * a waiting task takes over with the runs still queued.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConnectorError } from '../../errors.ts';
import { sleep } from '../../sleep.ts';
import type { FireflyClient, FireflyNodeInput } from './client.ts';

export interface BatchAssignment {
  batchId: string;
  /** The indexes (assetIndex) of this task's runs in the batch, in the order given. */
  runIndexes: number[];
  /** How many runs the batch holds in all (more than this task's: the batch is shared). */
  totalRuns: number;
}

interface QueuedRuns {
  ticket: string;
  runs: FireflyNodeInput[][];
}

export interface BatchGathererOptions {
  redis: Redis;
  keyPrefix?: string;
  logger: Logger;
}

/** Moves every queued entry out of the list at once, so no entry is taken by two leaders. */
const takeAllScript = `
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return items
`;

export class BatchGatherer {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #logger: Logger;

  constructor(options: BatchGathererOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix ?? '{cfc}:ff';
    this.#logger = options.logger;
  }

  /**
   * Queues `runs` for `workflowId` and resolves with this task's place in the batch that ran them.
   * `windowMs` is how long a leader waits for other tasks before executing.
   */
  async join(
    client: FireflyClient,
    workflowId: string,
    runs: FireflyNodeInput[][],
    windowMs: number,
    signal: AbortSignal,
  ): Promise<BatchAssignment> {
    const group = `${this.#prefix}:${client.connectionId}:${workflowId}`;
    const ticket = randomUUID();
    const entry: QueuedRuns = { ticket, runs };
    await this.#redis.rpush(`${group}:queue`, JSON.stringify(entry));
    const assignmentKey = `${this.#prefix}:assignment:${ticket}`;
    const deadline = Date.now() + windowMs * 4 + 120_000;
    while (Date.now() < deadline) {
      signal.throwIfAborted();
      const leader = await this.#redis.set(`${group}:leader`, ticket, 'PX', windowMs + 60_000, 'NX');
      if (leader === 'OK') await this.#lead(client, workflowId, group, windowMs, signal);
      const raw = await this.#redis.get(assignmentKey);
      if (raw) return this.#read(raw);
      await sleep(Math.min(250, windowMs), signal);
    }
    throw new ConnectorError('PROVIDER_TIMEOUT', `no Firefly batch took the runs of workflow ${workflowId}`, {
      details: { provider: 'firefly' },
    });
  }

  async #lead(client: FireflyClient, workflowId: string, group: string, windowMs: number, signal: AbortSignal): Promise<void> {
    try {
      // Not cut short by the signal: other tasks' runs are queued on this window, and the batch is
      // executed (or fails) for all of them; an aborted signal fails the execute call itself.
      await sleep(windowMs);
      const items = (await this.#redis.eval(takeAllScript, 1, `${group}:queue`)) as string[];
      const entries = items.map((item) => JSON.parse(item) as QueuedRuns);
      if (entries.length === 0) return;
      const runs = entries.flatMap((e) => e.runs);
      let assignments: [string, string][];
      try {
        const started = await this.#executeAfterPause(client, workflowId, runs, signal);
        let next = 0;
        assignments = entries.map((e) => {
          const runIndexes = e.runs.map(() => next++);
          const value: BatchAssignment = { batchId: started.batchId, runIndexes, totalRuns: runs.length };
          return [e.ticket, JSON.stringify(value)];
        });
        this.#logger.info(
          { workflowId, batchId: started.batchId, tasks: entries.length, runs: runs.length },
          'firefly batch executed',
        );
      } catch (err) {
        // Every task of this batch fails with the same error (each decides retry or not by its code).
        const failure =
          err instanceof ConnectorError
            ? { code: err.code, message: err.message, retryAfterMs: err.retryAfterMs }
            : { code: 'PROVIDER_NETWORK', message: String(err) };
        assignments = entries.map((e) => [e.ticket, JSON.stringify({ failure })]);
      }
      const multi = this.#redis.multi();
      for (const [ticket, value] of assignments) multi.set(`${this.#prefix}:assignment:${ticket}`, value, 'PX', 24 * 3600_000);
      await multi.exec();
    } finally {
      await this.#redis.del(`${group}:leader`);
    }
  }

  /**
   * A 429 pauses every Firefly call of the connection, in every process, until the reset Adobe
   * names (x-ratelimit-reset): the next call waits for it instead of retrying in a burst.
   */
  async pause(connectionId: string, ms: number): Promise<void> {
    if (ms > 0) await this.#redis.set(`${this.#prefix}:pause:${connectionId}`, '1', 'PX', Math.ceil(ms));
  }

  /** Resolves when no pause of the connection is in force. */
  async waitIfPaused(connectionId: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const left = await this.#redis.pttl(`${this.#prefix}:pause:${connectionId}`);
      if (left <= 0) return;
      signal.throwIfAborted();
      await sleep(left, signal);
    }
  }

  /** Runs a Firefly call after any pause; a 429 sets the pause and the call is made once more after it. */
  async call<T>(connectionId: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      await this.waitIfPaused(connectionId, signal);
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ConnectorError) || err.code !== 'PROVIDER_RATE_LIMITED' || attempt >= 3) throw err;
        this.#logger.warn({ connectionId, retryAfterMs: err.retryAfterMs }, 'firefly rate limit: pausing until its reset');
        await this.pause(connectionId, err.retryAfterMs ?? 1_000);
      }
    }
  }

  #executeAfterPause(client: FireflyClient, workflowId: string, runs: FireflyNodeInput[][], signal: AbortSignal) {
    return this.call(client.connectionId, () => client.executeBatch(workflowId, runs, signal), signal);
  }

  #read(raw: string): BatchAssignment {
    const value = JSON.parse(raw) as
      | BatchAssignment
      | { failure: { code: ConnectorError['code']; message: string; retryAfterMs?: number } };
    if ('failure' in value) {
      const { code, message, retryAfterMs } = value.failure;
      throw new ConnectorError(code, message, {
        details: { provider: 'firefly' },
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
    return value;
  }
}
