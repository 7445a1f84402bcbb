import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { AdCreativeClient } from '../../src/providers/adcreative/client.ts';
import { defaultAdCreativePaths, defaultImageJobNames } from '../../src/providers/adcreative/config.ts';
import { backgroundRemoveRecipe } from '../../src/providers/adcreative/image-jobs.ts';
import { AdCreativeJwtStore } from '../../src/providers/adcreative/jwt-store.ts';
import { photoshootRecipe } from '../../src/providers/adcreative/photoshoot.ts';
import { StartClaims } from '../../src/providers/start-claims.ts';
import { AdCreativeSimulator } from '../../src/simulators/index.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';
import { type ProviderHarness, providerContract } from './provider-contract.ts';

/** AdCreative's simulator with a real client over real Redis. */
async function adcreativeHarness(
  paths: { start: string; checkUserProgress: string },
  permanent: 'foreground',
): Promise<ProviderHarness> {
  const progressPath = paths.checkUserProgress;
  const start = { method: 'POST', pathIncludes: paths.start };
  const sim = await AdCreativeSimulator.start({ taskDurationMs: 200 });
  const credentials = {
    applicationId: randomUUID(),
    jwtPrivateKey: randomBytes(32).toString('hex'),
    apiKey: randomBytes(16).toString('hex'),
    apiSecret: randomBytes(16).toString('hex'),
  };
  const prefix = testPrefix('adc-contract');
  const redis = new Redis(redisUrl);
  const logger = pino({ level: 'silent' });
  const config = {
    baseUrl: sim.baseUrl,
    requestTimeoutMs: 10_000,
    paths: defaultAdCreativePaths,
    imageJobNames: defaultImageJobNames,
  };
  const jwt = new AdCreativeJwtStore({ redis, config, logger, keyPrefix: `${prefix}:jwt` });
  sim.addApplication(credentials);
  return {
    client: new AdCreativeClient({
      connectionId: 'contract',
      credentials: { ...credentials, userId: randomUUID() },
      config,
      jwt,
      claims: new StartClaims({ redis, keyPrefix: `${prefix}:claims` }),
      logger,
    }),
    paidGenerations: () => sim.paidGenerations(),
    progressPolls: () => sim.callLog().filter((c) => c.path.startsWith(progressPath) && c.status === 200).length,
    setDuration: (ms) => sim.setTaskDuration(ms),
    failPermanently: () => (permanent === 'foreground' ? sim.refuseForeground() : undefined),
    failTransiently: () =>
      sim.failNext({ method: 'GET', pathIncludes: progressPath }, { status: 503, body: { title: 'Service Unavailable' } }),
    answerMalformed: () => sim.failNext({ method: 'GET', pathIncludes: progressPath }, { status: 200, body: { surprise: true } }),
    loseStartAnswer: () => sim.loseAnswers(start),
    failStartTransiently: () => sim.failNext(start, { status: 503, body: { title: 'Service Unavailable' } }),
    async close() {
      await sim.close();
      await dropPrefix(prefix);
      redis.disconnect();
    },
  };
}

providerContract({
  name: 'adcreative-photoshoot',
  recipe: photoshootRecipe,
  options: { prompts: ['{productCode} on a marble table'], useRecommendations: false },
  permanentCode: 'PROVIDER_INPUT_REFUSED',
  start: () => adcreativeHarness(defaultAdCreativePaths.photoshoot, 'foreground'),
});

providerContract({
  name: 'adcreative-background-remove',
  recipe: backgroundRemoveRecipe,
  options: {},
  permanentCode: 'PROVIDER_INPUT_REFUSED',
  start: () => adcreativeHarness(defaultAdCreativePaths.backgroundRemove, 'foreground'),
});
