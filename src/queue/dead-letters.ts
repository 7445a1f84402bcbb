/**
 * Failure reports that could not be delivered to Creative Force (refused, or out of attempts): kept
 * in Redis for ops to see and re-send, so no failure ends unreported without a trace. A hash holds
 * each letter by id, a sorted set their order by time; at most `maxLetters` are kept (the oldest
 * go first).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { ReportFailureJobData } from './cycle-job.ts';

export interface DeadLetter {
  /** The report job's id. */
  id: string;
  report: ReportFailureJobData;
  /** The last error, as `CODE: message`. */
  error: string;
  attempts: number;
  at: string;
}

const deadLetterSchema = z.object({
  id: z.string().min(1),
  report: z.object({
    connectionId: z.string(),
    taskProcessId: z.string(),
    cycleJobId: z.string(),
    message: z.string(),
    code: z.string(),
  }),
  error: z.string(),
  attempts: z.number().int().nonnegative(),
  at: z.string(),
}) satisfies z.ZodType<DeadLetter>;

export const maxLetters = 10_000;

export class DeadLetters {
  readonly #redis: Redis;
  readonly #data: string;
  readonly #order: string;

  /** `prefix` is the queue prefix (QUEUE_PREFIX), so the keys sit beside the queue's. */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#data = `${prefix}:dead-letters`;
    this.#order = `${prefix}:dead-letters:order`;
  }

  async add(letter: DeadLetter): Promise<void> {
    await this.#redis
      .multi()
      .hset(this.#data, letter.id, JSON.stringify(letter))
      .zadd(this.#order, Date.parse(letter.at), letter.id)
      .exec();
    const excess = (await this.#redis.zcard(this.#order)) - maxLetters;
    if (excess > 0) {
      const oldest = await this.#redis.zrange(this.#order, 0, excess - 1);
      if (oldest.length > 0)
        await this.#redis
          .multi()
          .hdel(this.#data, ...oldest)
          .zrem(this.#order, ...oldest)
          .exec();
    }
  }

  /** The letters, oldest first; an unreadable entry is skipped. */
  async list(): Promise<DeadLetter[]> {
    const ids = await this.#redis.zrange(this.#order, 0, -1);
    if (ids.length === 0) return [];
    const values = await this.#redis.hmget(this.#data, ...ids);
    return values.flatMap((value) => {
      const parsed = value === null ? null : deadLetterSchema.safeParse(parseJson(value));
      return parsed?.success ? [parsed.data] : [];
    });
  }

  /** How many letters are kept (the failure reports waiting for ops). */
  async count(): Promise<number> {
    return this.#redis.zcard(this.#order);
  }

  async remove(id: string): Promise<void> {
    await this.#redis.multi().hdel(this.#data, id).zrem(this.#order, id).exec();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
