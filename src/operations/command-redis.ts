/**
 * The Redis connection of a command that runs and ends (`reports`, `check`): connected once, no
 * reconnecting, a command retried once; unlike the service, which waits for Redis to come back.
 */
import { Redis } from 'ioredis';

/** A connection named `cf-ai-connector:<command>`, not yet connected. */
export function commandRedis(redisUrl: string, command: string): Redis {
  const redis = new Redis(redisUrl, {
    connectionName: `cf-ai-connector:${command}`,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // the command's own calls fail and say why
  return redis;
}

/** Connects; resolves with why it could not (the cause ioredis reported), or undefined once connected. */
export async function reachRedis(redis: Redis): Promise<string | undefined> {
  let cause: unknown;
  const onError = (err: unknown) => {
    cause ??= err;
  };
  redis.on('error', onError);
  try {
    await redis.connect();
    return undefined;
  } catch (err) {
    const reason = cause ?? err;
    return `cannot reach Redis at REDIS_URL: ${reason instanceof Error ? reason.message : String(reason)}`;
  } finally {
    redis.off('error', onError);
  }
}
