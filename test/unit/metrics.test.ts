/** The metrics of a service, as `/metrics` renders them: Prometheus text, per service, Redis part optional. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PrometheusMetrics, type ScrapeSources } from '../../src/observability/metrics.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';

const logger = pino({ level: 'silent' });

/** What BullMQ 6's Queue.exportPrometheusMetrics() writes (no line feed at the end). */
const bullmqExport = [
  '# HELP bullmq_job_count Number of jobs in the queue by state',
  '# TYPE bullmq_job_count gauge',
  'bullmq_job_count{queue="cycles", state="waiting"} 2',
  'bullmq_job_count{queue="cycles", state="active"} 1',
  '# HELP bullmq_job_completed_total Total number of completed jobs',
  '# TYPE bullmq_job_completed_total counter',
  'bullmq_job_completed_total{queue="cycles"} 7',
].join('\n');

const sources = (deadLetters = 0): ScrapeSources => ({
  queue: async () => bullmqExport,
  deadLetters: async () => deadLetters,
  limiterRate: async () => ({ rateRps: 16.66, limit: 20 }),
});

describe('PrometheusMetrics', () => {
  it('renders what was recorded, the process metrics and the queue as strict Prometheus text', async () => {
    const metrics = new PrometheusMetrics({ sources: sources(3), logger });
    metrics.webhookAnswered('acme', 202);
    metrics.webhookAnswered('acme', 202);
    metrics.cycleEnded({ connection: 'acme', recipe: 'convert', outcome: 'submitted' });
    metrics.stepFinished('submit-output', 0.3);
    metrics.queueWaited(2);
    metrics.creativeForceRequest('submitOutput', '200');
    metrics.creativeForceRequest('getProcessDetail', '429');
    metrics.limiterWaited(0.004);
    metrics.limiterSlotsMissed('socket', 1);
    metrics.limiterSlotsMissed('wake', 2);
    metrics.limiterSlotsMissed('wake', 0);
    metrics.providerCall('sartiq', 'getGeneration', 'ok');
    metrics.paidGeneration('sartiq');
    metrics.failureReport('acme', 'dead_lettered');

    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await metrics.render());
    const value = (name: string, labels?: Record<string, string>) => sampleValue(families, name, labels);
    expect(value('cf_ai_connector_webhooks_total', { connection: 'acme', status: '202' })).toBe(2);
    expect(value('cf_ai_connector_cycles_total', { connection: 'acme', recipe: 'convert', outcome: 'submitted' })).toBe(1);
    expect(value('cf_ai_connector_cycle_step_duration_seconds_count', { step: 'submit-output' })).toBe(1);
    expect(value('cf_ai_connector_cycle_step_duration_seconds_bucket', { step: 'submit-output', le: '0.25' })).toBe(0);
    expect(value('cf_ai_connector_cycle_step_duration_seconds_bucket', { step: 'submit-output', le: '0.5' })).toBe(1);
    expect(value('cf_ai_connector_queue_wait_seconds_sum')).toBe(2);
    expect(value('cf_ai_connector_creative_force_requests_total', { operation: 'getProcessDetail', status: '429' })).toBe(1);
    expect(value('cf_ai_connector_creative_force_limiter_wait_seconds_count')).toBe(1);
    expect(value('cf_ai_connector_creative_force_limiter_slots_missed_total', { at: 'socket' })).toBe(1);
    expect(value('cf_ai_connector_creative_force_limiter_slots_missed_total', { at: 'wake' })).toBe(2);
    expect(value('cf_ai_connector_provider_calls_total', { provider: 'sartiq', outcome: 'ok' })).toBe(1);
    expect(value('cf_ai_connector_paid_generations_total', { provider: 'sartiq' })).toBe(1);
    expect(value('cf_ai_connector_failure_reports_total', { outcome: 'dead_lettered' })).toBe(1);
    expect(value('cf_ai_connector_dead_letters')).toBe(3);
    expect(value('cf_ai_connector_creative_force_limiter_rate_requests_per_second')).toBe(16.66);
    expect(value('cf_ai_connector_creative_force_limiter_ceiling_requests_per_second')).toBe(20);
    expect(value('bullmq_job_count', { state: 'waiting' })).toBe(2);
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
  });

  it('keeps each service to its own counts, in one process', async () => {
    const first = new PrometheusMetrics({ sources: sources(), logger });
    const second = new PrometheusMetrics({ sources: sources(), logger });
    first.webhookAnswered('acme', 401);
    const count = async (metrics: PrometheusMetrics) =>
      sampleValue(parsePrometheusText(await metrics.render()), 'cf_ai_connector_webhooks_total', { status: '401' });
    expect(await count(first)).toBe(1);
    expect(await count(second)).toBe(0);
  });

  it('leaves the queue and the dead letters out while Redis does not answer, and serves the rest', async () => {
    const hanging = new PrometheusMetrics({
      sources: { ...sources(), queue: () => new Promise(() => {}) },
      logger,
      scrapeTimeoutMs: 50,
    });
    const failing = new PrometheusMetrics({
      sources: { ...sources(), deadLetters: () => Promise.reject(new Error('Connection is closed.')) },
      logger,
    });
    for (const metrics of [hanging, failing]) {
      metrics.webhookAnswered('acme', 503);
      const families = parsePrometheusText(await metrics.render());
      expect(families.has('bullmq_job_count')).toBe(false);
      expect(families.has('cf_ai_connector_dead_letters')).toBe(false);
      expect(families.has('cf_ai_connector_creative_force_limiter_rate_requests_per_second')).toBe(false);
      expect(sampleValue(families, 'cf_ai_connector_webhooks_total', { status: '503' })).toBe(1);
    }
  });
});
