import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BatchGatherer } from '../../src/providers/firefly/batch-gatherer.ts';
import { FireflyClient } from '../../src/providers/firefly/client.ts';
import { defaultFireflyConfig } from '../../src/providers/firefly/config.ts';
import { FireflyTokenStore } from '../../src/providers/firefly/token-store.ts';
import { workflowRecipe } from '../../src/providers/firefly/workflow-recipe.ts';
import { FireflySimulator } from '../../src/simulators/index.ts';
import { loopbackResults } from '../helpers/loopback-results.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';
import { type ProviderHarness, providerContract } from './provider-contract.ts';

const workflowId = randomUUID();

/** Firefly's simulator with a real client and gatherer over real Redis; inputs served as S3-style URLs. */
async function fireflyHarness(): Promise<ProviderHarness> {
  const sim = await FireflySimulator.start({
    allowHttpLoopbackInputs: true,
    executionDurationMs: 200,
    rateLimit: { limit: 10_000, windowMs: 60_000 },
  });
  const credentials = {
    clientId: randomBytes(8).toString('hex'),
    clientSecret: randomBytes(12).toString('hex'),
    orgId: 'ORG@AdobeOrg',
    userId: 'tech@techacct.adobe.com',
  };
  sim.addCredential(credentials);
  sim.addWorkflow({ workflowId, inputNodes: [{ nodeId: 'node_in', kind: 'image' }], outputNodeIds: ['node_out'] });
  const images = new Map<string, Buffer>();
  const storage = createServer((req, res) => {
    const body = images.get(new URL(req.url ?? '/', 'http://x').pathname);
    res.writeHead(body ? 200 : 404, { 'content-type': 'image/jpeg' }).end(body);
  });
  await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
  const prefix = testPrefix('ff-contract');
  const redis = new Redis(redisUrl);
  const logger = pino({ level: 'silent' });
  const config = { ...defaultFireflyConfig, baseUrl: sim.baseUrl, imsTokenUrl: sim.tokenUrl, requestTimeoutMs: 10_000 };
  const tokens = new FireflyTokenStore({ redis, config, logger, keyPrefix: `${prefix}:token` });
  const statusPath = { method: 'GET', pathIncludes: '/status' };
  const executePath = { method: 'POST', pathIncludes: '/batch/execute' };
  const results = loopbackResults();
  return {
    client: {
      client: new FireflyClient({ connectionId: 'contract', credentials, config, tokens, results, logger }),
      batches: new BatchGatherer({ redis, keyPrefix: `${prefix}:ff`, logger }),
    },
    async inputUrl(image) {
      const path = `/bucket/${randomUUID()}.jpg`;
      images.set(path, image);
      return `http://127.0.0.1:${(storage.address() as AddressInfo).port}${path}?X-Amz-Signature=${randomBytes(8).toString('hex')}`;
    },
    paidGenerations: () => sim.batchCount(),
    progressPolls: () => sim.callLog().filter((c) => /\/batch\/.+\/status/.test(c.path) && c.status === 200).length,
    setDuration: (ms) => sim.setExecutionDuration(ms),
    failPermanently: () =>
      sim.failNext(
        { method: 'POST', pathIncludes: '/batch/execute' },
        { status: 400, body: { error: 'Invalid request', message: 'workflow input is not valid', status: 'failed' } },
      ),
    failTransiently: () => sim.failNext(statusPath, { status: 503, body: { error: 'Service unavailable', status: 'error' } }),
    answerMalformed: () => sim.failNext(statusPath, { status: 200, body: { surprise: true } }),
    loseStartAnswer: () => sim.loseAnswers(executePath),
    failStartTransiently: () =>
      sim.failNext(executePath, { status: 503, body: { error: 'Service unavailable', status: 'error' } }),
    async close() {
      await sim.close();
      await new Promise((r) => storage.close(r));
      await results.dispatcher.close();
      await dropPrefix(prefix);
      redis.disconnect();
    },
  };
}

providerContract({
  name: 'firefly-workflow',
  recipe: workflowRecipe,
  options: { workflowId, inputs: { node_in: { from: 'input' } }, gatherWindowMs: 0 },
  permanentCode: 'PROVIDER_REJECTED',
  start: fireflyHarness,
});
