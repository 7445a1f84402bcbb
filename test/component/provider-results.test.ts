/**
 * Provider results outside a connection's rules, end to end: the Sartiq simulator answers result
 * URLs on its own host (127.0.0.1), and the connection's result hosts, the loopback test switch or
 * the size cap refuse them. The cycle fails at once and Creative Force is told why.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SartiqSimulator, sampleImage } from '../../src/simulators/index.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

describe('provider results outside the rules are not used, and the studio is told why', () => {
  let stack: Stack | undefined;
  let sartiq: SartiqSimulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await sartiq?.close();
    stack = undefined;
    sartiq = undefined;
  });

  /** Runs one sartiq-generate cycle; resolves with the failure message Creative Force received. */
  async function failedCycle(name: string, resultHosts: string[] | null, env: Record<string, string> = {}) {
    sartiq = await SartiqSimulator.start({ predictionDurationMs: 200 });
    const credentials = { email: `${name}@studio.example`, password: randomBytes(12).toString('hex') };
    sartiq.addAccount(credentials);
    stack = await startStack(name, {
      recipe: 'sartiq-generate',
      subfunctionOptions: { pollIntervalMs: 100 },
      sartiq: { baseUrl: sartiq.baseUrl, credentials, resultHosts },
      env,
    });
    const { sim } = stack;
    const { service, port } = await stack.startService('start');
    const task = sim.addTask({
      inputs: [
        { positionName: 'Front', fileName: 'front.jpg', body: await sampleImage({ width: 400, height: 600, format: 'jpeg' }) },
      ],
      slots: [{ mappingKeyId: '1_Front', positionName: 'Front' }],
    });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0, 60_000);
    await stack.idle(service);
    expect(sim.submissions(task.taskProcessId)).toEqual([]);
    expect(sim.statusUpdates(task.taskProcessId)).toHaveLength(1);
    const message = sim.statusUpdates(task.taskProcessId)[0]?.message ?? '';
    expect(message).toContain('[PROVIDER_RESULT_REFUSED]. The AI service answered with a result from a place or of a size');
    expect(message).not.toMatch(/https?:|\/media\//);
    return message;
  }

  /** The result downloads the Sartiq simulator served (GETs of its `/media/` storage). */
  const resultGets = () => sartiq?.callLog().filter((c) => c.method === 'GET' && c.path.startsWith('/media/')) ?? [];

  it('a result on a host outside the allow-list is not fetched', async () => {
    const message = await failedCycle('results-host', ['cdn.sartiq.example']);
    expect(message).toContain('Sartiq result not downloaded: host 127.0.0.1 is not on the allow-list of result hosts');
    expect(message).toContain('sartiq.resultHosts');
    expect(resultGets()).toEqual([]);
  });

  it("without a resultHosts setting the provider's defaults apply, which the simulator's host is not on", async () => {
    const message = await failedCycle('results-defaults', null);
    expect(message).toContain('host 127.0.0.1 is not on the allow-list of result hosts');
    expect(resultGets()).toEqual([]);
  });

  it('a result on a loopback address is not fetched, although its host is allowed', async () => {
    const message = await failedCycle('results-loopback', ['127.0.0.1'], { PROVIDER_RESULT_ALLOW_LOOPBACK: 'false' });
    expect(message).toContain('host 127.0.0.1 leads to a refused address (loopback)');
    expect(resultGets()).toEqual([]);
  });

  it('a result over the cap is refused', async () => {
    const message = await failedCycle('results-cap', ['127.0.0.1'], { PROVIDER_RESULT_MAX_BYTES: '2000' });
    expect(message).toContain('the result from host 127.0.0.1 is larger than 2000 bytes (PROVIDER_RESULT_MAX_BYTES)');
    // Refused at once, not retried: one download of the one result.
    expect(resultGets()).toHaveLength(1);
  });
});
