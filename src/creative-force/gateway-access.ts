/**
 * Creative Force access built from the service's configuration, the same way in every process
 * (the service, `check`, `preview`): the shared limiter, one token store per process, caching under
 * QUEUE_PREFIX and asking through that limiter, and one gateway client per connection using both
 * (and, in a worker, the shared calls of shared-calls.ts).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/env.ts';
import { CreativeForceClient } from './gateway-client.ts';
import type { CreativeForceMetrics } from './http.ts';
import { type RateLimiter, RedisRateLimiter } from './rate-limiter.ts';
import type { SharedCalls } from './shared-calls.ts';
import { TokenStore } from './token-store.ts';

/** What the access is built from. */
export interface GatewayAccessDeps {
  config: Pick<AppConfig, 'cf' | 'queuePrefix'>;
  redis: Redis;
  limiter: RateLimiter;
  logger: Logger;
  metrics?: CreativeForceMetrics;
}

/** The limiter every process shares through Redis under `<QUEUE_PREFIX>:rl`: its ceiling and whether it learns the rate. */
export function gatewayLimiter({ config, redis }: Pick<GatewayAccessDeps, 'config' | 'redis'>): RedisRateLimiter {
  return new RedisRateLimiter({
    redis,
    limit: config.cf.rateLimitRps,
    adaptive: config.cf.rateLimitAdaptive,
    keyPrefix: `${config.queuePrefix}:rl`,
  });
}

/** The process's token store: tokens shared through Redis under `<QUEUE_PREFIX>:token`. */
export function gatewayTokenStore({ config, redis, limiter, logger, metrics }: GatewayAccessDeps): TokenStore {
  return new TokenStore({
    redis,
    limiter,
    tokenUrl: config.cf.tokenUrl,
    requestTimeoutMs: config.cf.requestTimeoutMs,
    keyPrefix: `${config.queuePrefix}:token`,
    logger,
    ...(metrics ? { metrics } : {}),
  });
}

/** The gateway client of a connection (its Registered App credentials), with the process's limiter and tokens. */
export function gatewayClientOf(
  connection: { id: string; creativeForce: { clientId: string; clientSecret: string } },
  deps: Omit<GatewayAccessDeps, 'redis'> & { tokens: TokenStore; shared?: SharedCalls | undefined },
): CreativeForceClient {
  return new CreativeForceClient({
    connection: {
      id: connection.id,
      clientId: connection.creativeForce.clientId,
      clientSecret: connection.creativeForce.clientSecret,
    },
    config: deps.config.cf,
    limiter: deps.limiter,
    tokens: deps.tokens,
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    shared: deps.shared,
  });
}
