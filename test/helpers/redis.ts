import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix of its own for each test, so tests never see each other's jobs. */
export function testPrefix(name: string): string {
  return `{cfc-test-${name}-${randomUUID().slice(0, 8)}}`;
}

/** A client like the service's producer connection: one retry per command. */
export function producerRedis(url = redisUrl): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  r.on('error', () => {});
  return r;
}

/** Removes every key under a prefix (SCAN, never FLUSHDB: other tests share this Redis). */
export async function dropPrefix(prefix: string, url = redisUrl): Promise<void> {
  const r = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

/** Resolves when the client is connected (the queue refuses to add jobs before that). */
export async function ready(r: Redis): Promise<Redis> {
  if (r.status !== 'ready') await new Promise<void>((resolve) => r.once('ready', () => resolve()));
  return r;
}
