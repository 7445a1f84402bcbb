/**
 * A RedisRateLimiter in a process of its own (forked by the tests, run with `node` directly): it
 * answers `state`, `acquire` (n grants in a row) and `rateLimited` messages over IPC, so a test
 * can tell what every process of the service sees of the shared limiter.
 *
 *   fork('test/helpers/limiter-process.ts', [JSON.stringify({ redisUrl, keyPrefix, limit, ... })])
 */
import { Redis } from 'ioredis';
import { type RateLimitGrant, RedisRateLimiter, type RedisRateLimiterOptions } from '../../src/creative-force/index.ts';

/** What the test asks. */
export type LimiterCommand =
  | { kind: 'state' }
  | { kind: 'acquire'; count: number }
  | { kind: 'rateLimited'; retryAfterMs: number | undefined };

/** What the test sends: a command and the id its reply carries. */
export type LimiterRequest = LimiterCommand & { id: number };

/** What the process answers: the request's id and its result. */
export interface LimiterReply {
  id: number;
  result: unknown;
}

type Options = Omit<RedisRateLimiterOptions, 'redis'> & { redisUrl: string };

const { redisUrl, ...options } = JSON.parse(process.argv[2] ?? '{}') as Options;
const redis = new Redis(redisUrl);
const limiter = new RedisRateLimiter({ ...options, redis });

process.on('message', (message: LimiterRequest) => {
  void (async () => {
    let result: unknown;
    if (message.kind === 'state') result = await limiter.state();
    if (message.kind === 'rateLimited') result = await limiter.onRateLimited(message.retryAfterMs);
    if (message.kind === 'acquire') {
      const grants: RateLimitGrant[] = [];
      for (let i = 0; i < message.count; i++) grants.push(await limiter.acquire());
      result = grants;
    }
    process.send?.({ id: message.id, result } satisfies LimiterReply);
  })();
});
process.on('disconnect', () => redis.disconnect());
process.send?.({ id: 0, result: 'ready' } satisfies LimiterReply);
