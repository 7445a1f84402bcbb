/**
 * A client secret that Creative Force echoes in an error body (of the token endpoint or of the
 * gateway) never reaches a log line nor the failure message sent back to Creative Force: the
 * whole service (receiver and worker) against the simulator, with the service's own logger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnectionsFile } from '../../src/config/connections.ts';
import { loadEnvConfig } from '../../src/config/env.ts';
import { createRecipeRegistry } from '../../src/providers/index.ts';
import { buildService, type Service } from '../../src/service.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/** A secret with characters that percent- and form-encoding change, echoed in each form. */
const clientSecret = 'cf+secret/with=odd&chars 42';
const forms = [clientSecret, encodeURIComponent(clientSecret), new URLSearchParams({ s: clientSecret }).toString().slice(2)];
const clientId = 'redaction-app';

describe('Creative Force error bodies echoing the client secret', () => {
  const { logger, lines } = capturedLogger('debug');
  let stack: Stack;
  let service: Service;
  let url = '';

  beforeAll(async () => {
    stack = await startStack('cf-redaction', { env: { T_CF_ID: clientId, T_CF_SECRET: clientSecret } });
    stack.sim.addApp({ clientId, clientSecret });
    const recipes = createRecipeRegistry();
    const connections = await loadConnectionsFile(stack.env.CONNECTIONS_FILE ?? '', recipes, stack.env);
    service = await buildService({ config: loadEnvConfig(stack.env), connections, recipes, mode: 'start', logger });
    url = stack.webhookUrl(await service.start());
  });
  afterAll(async () => {
    await service.stop();
    await stack.close();
  });

  /** Sends a new task's webhook and returns the failure message Creative Force received for it. */
  async function failureMessage(): Promise<string> {
    const { sim } = stack;
    const task = sim.addTask({ inputs: [], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
    expect((await sim.sendWebhook(url, task.taskProcessId, stack.secret)).status).toBe(202);
    await stack.waitFor('the status update', () => sim.statusUpdates(task.taskProcessId).length > 0);
    return sim.statusUpdates(task.taskProcessId)[0]?.message ?? '';
  }

  function expectNoSecret(message: string): void {
    for (const form of forms) {
      expect(message, form).not.toContain(form);
      for (const line of lines) expect(line, form).not.toContain(form);
    }
  }

  it('from the token endpoint', async () => {
    lines.length = 0;
    stack.sim.failNext(
      { method: 'POST', pathIncludes: '/connect/token' },
      {
        status: 400,
        body: { error: 'invalid_request', error_description: forms.map((form) => `client_secret=${form}`).join(' or ') },
      },
    );
    const message = await failureMessage();
    expect(message).toMatch(/Creative Force token request of connection acme answered 400 \(invalid_request\) \[CF_REJECTED\]/);
    expectNoSecret(message);
    // The body was logged, redacted.
    expect(lines.some((line) => line.includes('client_secret=[Redacted]'))).toBe(true);
  });

  it('from the gateway', async () => {
    lines.length = 0;
    stack.sim.failNext(
      { method: 'GET', pathIncludes: '/cloud-automation/task-processes/' },
      { status: 400, body: { errors: [{ code: 'GEN-4', message: `InvalidData ${forms.join(' ')}` }] } },
    );
    const message = await failureMessage();
    expect(message).toMatch(/GET \/cloud-automation\/task-processes\/[0-9a-f-]{36} answered 400 \(GEN-4\) \[CF_REJECTED\]/);
    expect(message).not.toContain('InvalidData');
    expectNoSecret(message);
    expect(lines.some((line) => line.includes('InvalidData [Redacted]'))).toBe(true);
  });
});
