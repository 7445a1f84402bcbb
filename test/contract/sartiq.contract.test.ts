import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { SartiqClient } from '../../src/providers/sartiq/client.ts';
import { defaultSartiqStatuses, defaultSartiqUploadFields } from '../../src/providers/sartiq/config.ts';
import { generateRecipe } from '../../src/providers/sartiq/recipes.ts';
import { SartiqTokenStore } from '../../src/providers/sartiq/token-store.ts';
import { SartiqSimulator } from '../../src/simulators/index.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';
import { type ProviderHarness, providerContract } from './provider-contract.ts';

/** Sartiq's simulator with a real client over real Redis. */
async function sartiqHarness(): Promise<ProviderHarness> {
  const sim = await SartiqSimulator.start({ predictionDurationMs: 200 });
  const credentials = { email: 'contract@studio.example', password: randomBytes(12).toString('hex') };
  sim.addAccount(credentials);
  const prefix = testPrefix('sartiq-contract');
  const redis = new Redis(redisUrl);
  const logger = pino({ level: 'silent' });
  const config = {
    baseUrl: sim.baseUrl,
    requestTimeoutMs: 10_000,
    uploadFields: defaultSartiqUploadFields,
    statuses: defaultSartiqStatuses,
  };
  const tokens = new SartiqTokenStore({ redis, config, logger, keyPrefix: `${prefix}:token` });
  const readGeneration = { method: 'GET', pathIncludes: '/api/v1/generations/' };
  return {
    client: new SartiqClient({ connectionId: 'contract', credentials, config, tokens, logger }),
    paidGenerations: () => sim.generationCount(),
    progressPolls: () =>
      sim.callLog().filter((c) => c.method === 'GET' && /\/generations\/[0-9a-f-]{36}$/.test(c.path) && c.status === 200).length,
    setDuration: (ms) => sim.setPredictionDuration(ms),
    failPermanently: () =>
      sim.failNext(
        { method: 'POST', pathIncludes: '/api/v1/generations/' },
        {
          status: 422,
          body: { detail: [{ loc: ['body', 'product_image'], msg: 'Input should be a valid URL', type: 'url_parsing' }] },
        },
      ),
    failTransiently: () => sim.failNext(readGeneration, { status: 503, body: { detail: 'Service Unavailable' } }),
    answerMalformed: () => sim.failNext(readGeneration, { status: 200, body: { surprise: true } }),
    async close() {
      await sim.close();
      await dropPrefix(prefix);
      redis.disconnect();
    },
  };
}

providerContract({
  name: 'sartiq-generate',
  recipe: generateRecipe,
  options: { shotType: 'front_full_body' },
  permanentCode: 'PROVIDER_REJECTED',
  start: sartiqHarness,
});
