/**
 * The Creative Force simulator with a real gateway client in front of it (Redis limiter and token
 * store, as in the service), and cycle contexts over that client: for tests of the cycle's steps.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Agent } from 'undici';
import type { AppConfig } from '../../src/config/env.ts';
import {
  CreativeForceClient,
  defaultKeptOutputDownload,
  defaultSharedCallCaps,
  RedisRateLimiter,
  TokenStore,
  webhookPayloadSchema,
} from '../../src/creative-force/index.ts';
import type { CycleContext } from '../../src/cycle/cycle-context.ts';
import { CreativeForceSimulator } from '../../src/simulators/index.ts';
import { dropPrefix, redisUrl, testPrefix } from './redis.ts';

export interface SimulatedGateway {
  sim: CreativeForceSimulator;
  client: CreativeForceClient;
  /** A cycle context as the worker builds it, over the client and the given work directory. */
  cycleContext(taskProcessId: string, workDir: string): CycleContext;
  close(): Promise<void>;
}

export async function startSimulatedGateway(name: string): Promise<SimulatedGateway> {
  const logger = pino({ level: 'silent' });
  const dispatcher = new Agent();
  const app = { clientId: `${name}-client`, clientSecret: randomBytes(12).toString('hex') };
  const prefix = testPrefix(name);
  const sim = await CreativeForceSimulator.start();
  sim.addApp(app);
  const redis = new Redis(redisUrl);
  const config: AppConfig['cf'] = {
    apiBaseUrl: sim.apiBaseUrl,
    tokenUrl: sim.tokenUrl,
    rateLimitRps: 18,
    rateLimitAdaptive: true,
    requestTimeoutMs: 10_000,
    failedStatus: 'Failed',
    sharedCalls: false,
    caps: { ...defaultSharedCallCaps },
    statusBodyFields: { ...sim.statusBodyFields },
    wireForms: sim.wireForms,
    keptOutputDownload: defaultKeptOutputDownload,
    paths: { ...sim.paths },
  };
  const limiter = new RedisRateLimiter({ redis, limit: config.rateLimitRps, keyPrefix: `${prefix}:rl` });
  const tokens = new TokenStore({
    redis,
    limiter,
    tokenUrl: config.tokenUrl,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
    dispatcher,
    keyPrefix: `${prefix}:token`,
  });
  const client = new CreativeForceClient({ connection: { id: 'acme', ...app }, config, limiter, tokens, dispatcher, logger });
  return {
    sim,
    client,
    cycleContext(taskProcessId, workDir) {
      const shutdown = new AbortController();
      return {
        event: webhookPayloadSchema.parse(sim.webhookPayload(taskProcessId)),
        client,
        providers: {},
        finalAttempt: false,
        workDir,
        limits: { maxAssetBytes: 10 * 1024 * 1024, transferTimeoutMs: 10_000 },
        keptOutputDownload: defaultKeptOutputDownload,
        signal: shutdown.signal,
        transferSignal: () => AbortSignal.any([shutdown.signal, AbortSignal.timeout(10_000)]),
        logger,
        paidWork: async () => {},
      };
    },
    async close() {
      await sim.close();
      await dispatcher.close();
      await dropPrefix(prefix);
      await redis.quit();
    },
  };
}
