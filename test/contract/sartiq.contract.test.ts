import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { SartiqClient } from '../../src/providers/sartiq/client.ts';
import { defaultSartiqLostStarts, defaultSartiqStatuses, defaultSartiqUploadFields } from '../../src/providers/sartiq/config.ts';
import { generateRecipe } from '../../src/providers/sartiq/recipes.ts';
import { SartiqTokenStore } from '../../src/providers/sartiq/token-store.ts';
import { StartClaims } from '../../src/providers/start-claims.ts';
import { SartiqSimulator } from '../../src/simulators/index.ts';
import { loopbackResults } from '../helpers/loopback-results.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';
import { type ProviderHarness, providerContract } from './provider-contract.ts';

/** What the contract counts and breaks for one way of running sartiq-generate. */
interface Variant {
  /** Paid calls, as the contract counts them: one for a run that paid once. */
  paidCalls(sim: SartiqSimulator): number;
  /** Answered polls of the work the recipe waits for last. */
  progressPolls(sim: SartiqSimulator): number;
  /** The poll the transient and malformed faults hit. */
  poll: { method: string; pathIncludes: string };
}

const generationPoll = /\/generations\/[0-9a-f-]{36}$/;
/** The first paid call of every variant: the generation's creation. */
const paidStart = { method: 'POST', pathIncludes: '/api/v1/generations/' };
const polls = (sim: SartiqSimulator, path: RegExp, after = 0) =>
  sim.callLog().filter((c) => c.method === 'GET' && path.test(c.path) && c.status === 200 && c.at >= after).length;

const variants = {
  plain: {
    paidCalls: (sim) => sim.generationCount(),
    progressPolls: (sim) => polls(sim, generationPoll),
    poll: { method: 'GET', pathIncludes: '/api/v1/generations/' },
  },
  // A run pays a generation and then a refine of its prediction: paying either twice shows as 2.
  refine: {
    paidCalls: (sim) => Math.max(sim.generationCount(), sim.refines().length),
    progressPolls: (sim) => {
      const [refine] = sim.refines();
      return refine ? polls(sim, generationPoll, refine.at) : 0;
    },
    poll: { method: 'GET', pathIncludes: '/api/v1/generations/' },
  },
  agentic: {
    paidCalls: (sim) => sim.generationCount(),
    progressPolls: (sim) => polls(sim, /\/generations\/agentic\/[^/]+\/status$/),
    poll: { method: 'GET', pathIncludes: '/status' },
  },
} satisfies Record<string, Variant>;

/** Sartiq's simulator with a real client over real Redis. */
async function sartiqHarness(variant: Variant): Promise<ProviderHarness> {
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
    lostStarts: defaultSartiqLostStarts,
  };
  const tokens = new SartiqTokenStore({ redis, config, logger, keyPrefix: `${prefix}:token` });
  const results = loopbackResults();
  const claims = new StartClaims({ redis, keyPrefix: `${prefix}:claims` });
  return {
    client: new SartiqClient({ connectionId: 'contract', credentials, config, tokens, claims, results, logger }),
    paidGenerations: () => variant.paidCalls(sim),
    progressPolls: () => variant.progressPolls(sim),
    setDuration: (ms) => sim.setPredictionDuration(ms),
    failPermanently: () =>
      sim.failNext(
        { method: 'POST', pathIncludes: '/api/v1/generations/' },
        {
          status: 422,
          body: { detail: [{ loc: ['body', 'product_image'], msg: 'Input should be a valid URL', type: 'url_parsing' }] },
        },
      ),
    failTransiently: () => sim.failNext(variant.poll, { status: 503, body: { detail: 'Service Unavailable' } }),
    answerMalformed: () => sim.failNext(variant.poll, { status: 200, body: { surprise: true } }),
    loseStartAnswer: () => sim.loseAnswers(paidStart),
    failStartTransiently: () => sim.failNext(paidStart, { status: 503, body: { detail: 'Service Unavailable' } }),
    async close() {
      await sim.close();
      await results.dispatcher.close();
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
  start: () => sartiqHarness(variants.plain),
});

providerContract({
  name: 'sartiq-generate with refine',
  recipe: generateRecipe,
  options: { shotType: 'front_full_body', refine: true },
  permanentCode: 'PROVIDER_REJECTED',
  start: () => sartiqHarness(variants.refine),
});

providerContract({
  name: 'sartiq-generate agentic',
  recipe: generateRecipe,
  options: { agentic: true },
  permanentCode: 'PROVIDER_REJECTED',
  start: () => sartiqHarness(variants.agentic),
});
