/**
 * `/metrics` end to end, on real Redis against the Creative Force and Sartiq simulators: who may
 * read it, that it is Prometheus text (read by a strict parser), and that its series move with
 * the cycles, failure reports and dead letters they count.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/service.ts';
import { SartiqSimulator, sampleImage } from '../../src/simulators/index.ts';
import { type Family, parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const opsToken = randomBytes(24).toString('hex');
const studioToken = randomBytes(24).toString('hex');

type Families = Map<string, Family>;

describe('/metrics', () => {
  let sartiq: SartiqSimulator;
  let stack: Stack;
  let service: Service;
  let port: number;
  let metricsPort: number;

  const scrapeAnswer = (url: string, token?: string) =>
    fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  /** The service port's /metrics, read with the ops token and parsed. */
  async function scrape(): Promise<Families> {
    const answer = await scrapeAnswer(`http://127.0.0.1:${port}/metrics`, opsToken);
    expect(answer.status).toBe(200);
    return parsePrometheusText(await answer.text());
  }
  /** Scrapes until `check` holds; fails after 30 s naming `what`. */
  async function scrapeUntil(what: string, check: (families: Families) => boolean): Promise<Families> {
    for (const deadline = Date.now() + 30_000; ; ) {
      const families = await scrape();
      if (check(families)) return families;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  /** How much each sample moved between two scrapes. */
  const moved =
    (before: Families, after: Families) =>
    (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);

  const image = async (positionName: string) => ({
    positionName,
    fileName: `${positionName.toLowerCase()}.jpg`,
    body: await sampleImage({ width: 400, height: 600, format: 'jpeg', label: positionName }),
  });

  beforeAll(async () => {
    sartiq = await SartiqSimulator.start({ predictionDurationMs: 200 });
    const credentials = { email: 'metrics@studio.example', password: randomBytes(12).toString('hex') };
    sartiq.addAccount(credentials);
    stack = await startStack('metrics', {
      sartiq: { baseUrl: sartiq.baseUrl, credentials },
      env: { ADMIN_TOKEN: opsToken, METRICS_PORT: '0' },
      connection: {
        adminTokens: [studioToken],
        subfunctions: {
          '54': {
            recipe: 'sartiq-generate',
            options: { shotTypeByPosition: { Front: 'front_full_body' }, pollIntervalMs: 100 },
          },
          '55': { recipe: 'convert', options: { format: 'jpeg', quality: 80, maxWidth: 400 } },
        },
      },
    });
    ({ service, port } = await stack.startService('start'));
    const address = service.metricsApp?.server.address();
    metricsPort = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    await stack.close();
    await sartiq.close();
  });

  it('needs the ops token on the service port (401 without, 403 for a studio), and no token on METRICS_PORT', async () => {
    const url = `http://127.0.0.1:${port}/metrics`;
    const anonymous = await scrapeAnswer(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('cf_ai_connector_');
    expect((await scrapeAnswer(url, randomBytes(24).toString('hex'))).status).toBe(401);
    expect((await scrapeAnswer(url, studioToken)).status).toBe(403);

    const answer = await scrapeAnswer(url, opsToken);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await answer.text());
    expect(families.get('cf_ai_connector_webhooks_total')?.type).toBe('counter');
    expect(families.get('bullmq_job_count')?.type).toBe('gauge');
    expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');

    expect(metricsPort).toBeGreaterThan(0);
    const open = await scrapeAnswer(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(open.status).toBe(200);
    expect(parsePrometheusText(await open.text()).has('cf_ai_connector_cycles_total')).toBe(true);
    expect((await scrapeAnswer(`http://127.0.0.1:${metricsPort}/admin/api/connections`, opsToken)).status).toBe(404);
  });

  it('counts a cycle: the webhook, the cycle, its steps, its Creative Force requests (a 429 too), the queue wait, the paid Sartiq generation', async () => {
    const { sim } = stack;
    const before = await scrape();
    const task = sim.addTask({ inputs: [await image('Front')], slots: [{ mappingKeyId: 'F', positionName: 'Front' }] });
    sim.failNext(
      { method: 'GET', pathIncludes: task.taskProcessId },
      { status: 429, headers: { 'retry-after': '1' }, body: { errors: [{ code: 'GEN-429', message: 'Too many requests' }] } },
    );
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length === 1);
    await stack.idle(service);

    const delta = moved(before, await scrape());
    expect(delta('cf_ai_connector_webhooks_total', { connection: 'acme', status: '202' })).toBe(1);
    expect(delta('cf_ai_connector_cycles_total', { connection: 'acme', recipe: 'sartiq-generate', outcome: 'submitted' })).toBe(
      1,
    );
    for (const step of ['get-process-detail', 'download-inputs', 'process-assets', 'upload-outputs', 'submit-output']) {
      expect(delta('cf_ai_connector_cycle_step_duration_seconds_count', { step }), step).toBe(1);
    }
    const cf = (operation: string, status: string) =>
      delta('cf_ai_connector_creative_force_requests_total', { operation, status });
    expect(cf('getProcessDetail', '429')).toBe(1);
    expect(cf('getProcessDetail', '200')).toBeGreaterThanOrEqual(1);
    expect(cf('bulkGetAssets', '200')).toBe(1);
    expect(cf('getPresignedUploadUrls', '200')).toBe(1);
    expect(cf('submitOutput', '200')).toBe(1);
    // Every request waited for the limiter, and the one after the 429 for its pause of 1 s.
    expect(delta('cf_ai_connector_creative_force_limiter_wait_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(delta('cf_ai_connector_creative_force_limiter_wait_seconds_sum')).toBeGreaterThanOrEqual(0.9);
    expect(delta('cf_ai_connector_queue_wait_seconds_count')).toBe(1);
    expect(delta('cf_ai_connector_paid_generations_total', { provider: 'sartiq' })).toBe(1);
    expect(
      delta('cf_ai_connector_provider_calls_total', { provider: 'sartiq', operation: 'getGeneration', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(delta('bullmq_job_completed_total', { queue: 'cycles' })).toBe(1);
  });

  it('counts a failed cycle and its failure report, and a report kept as a dead letter', async () => {
    const { sim } = stack;
    const unreadable = () =>
      sim.addTask({
        subfunctionId: 55,
        inputs: [{ positionName: 'Front', fileName: 'front.jpg', body: Buffer.from('not an image') }],
        slots: [{ mappingKeyId: 'A', positionName: 'Front' }],
      });
    const before = await scrape();
    const reported = unreadable();
    await sim.sendWebhook(stack.webhookUrl(port), reported.taskProcessId, stack.secret);
    await stack.waitFor('the failure report', () => sim.statusUpdates(reported.taskProcessId).length > 0);
    await stack.idle(service);
    const afterReport = await scrape();
    const delta = moved(before, afterReport);
    expect(delta('cf_ai_connector_cycles_total', { connection: 'acme', recipe: 'convert', outcome: 'failed' })).toBe(1);
    expect(delta('cf_ai_connector_failure_reports_total', { connection: 'acme', outcome: 'delivered' })).toBe(1);
    expect(sampleValue(afterReport, 'cf_ai_connector_dead_letters')).toBe(0);

    // Creative Force refuses the next report (a 4xx is not retried): it is kept as a dead letter.
    const refused = unreadable();
    sim.failNext(
      { method: 'PUT', pathIncludes: refused.taskProcessId },
      { status: 400, body: { errors: [{ code: 'ErrorCode-1', message: 'Refused' }] } },
    );
    await sim.sendWebhook(stack.webhookUrl(port), refused.taskProcessId, stack.secret);
    const after = await scrapeUntil('the dead letter', (families) => sampleValue(families, 'cf_ai_connector_dead_letters') > 0);
    expect(
      moved(afterReport, after)('cf_ai_connector_failure_reports_total', { connection: 'acme', outcome: 'dead_lettered' }),
    ).toBe(1);
    expect(sampleValue(after, 'cf_ai_connector_dead_letters')).toBe(1);
  });

  it('counts refused webhooks by status, under "(unknown)" for a URL naming no connection', async () => {
    const before = await scrape();
    const unknown = await fetch(`http://127.0.0.1:${port}/webhooks/creative-force/nobody`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    const unsigned = await fetch(stack.webhookUrl(port), { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(401);
    const delta = moved(before, await scrape());
    expect(delta('cf_ai_connector_webhooks_total', { connection: '(unknown)', status: '404' })).toBe(1);
    expect(delta('cf_ai_connector_webhooks_total', { connection: 'acme', status: '401' })).toBe(1);
    expect(delta('cf_ai_connector_webhooks_total', { connection: 'nobody' })).toBe(0);
  });

  // Last: the work process's workers take jobs from here on.
  it('is served by a work process too, behind the same ops token', async () => {
    const { port: workPort } = await stack.startService('work');
    const url = `http://127.0.0.1:${workPort}/metrics`;
    expect((await scrapeAnswer(url)).status).toBe(401);
    const answer = await scrapeAnswer(url, opsToken);
    expect(answer.status).toBe(200);
    const families = parsePrometheusText(await answer.text());
    expect(families.get('cf_ai_connector_cycles_total')?.type).toBe('counter');
    expect(families.get('bullmq_job_count')?.type).toBe('gauge');
    expect((await fetch(stack.webhookUrl(workPort), { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
