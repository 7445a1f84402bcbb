/**
 * Tracing end to end, with an in-memory exporter: one trace from the webhook, through the job, to
 * each step and each outgoing request, Submit Output included; no trace header leaves for a remote
 * system; pre-signed query strings stay out of the spans; and with tracing off, none of the
 * OpenTelemetry SDK is loaded.
 */
import { execFileSync } from 'node:child_process';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleSteps } from '../../src/cycle/checkpoint.ts';
import { sharedDispatcher } from '../../src/http/shared-agent.ts';
import { openTelemetryTracing } from '../../src/observability/open-telemetry.ts';
import type { Service } from '../../src/service.ts';
import { photoInput } from '../helpers/photo-input.ts';
import { ScriptedServer } from '../helpers/scripted-server.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

describe('traces', () => {
  const exporter = new InMemorySpanExporter();
  const tracing = openTelemetryTracing({ serviceName: 'cf-ai-connector-test', exporter });
  let stack: Stack;
  let service: Service;
  let port: number;

  beforeAll(async () => {
    stack = await startStack('tracing');
    ({ service, port } = await stack.startService('start', { tracing }));
  });
  afterAll(async () => {
    await stack.close();
    await tracing.shutdown();
  });

  /** The finished spans, once the batch is exported. */
  async function spans(): Promise<ReadableSpan[]> {
    await tracing.flush();
    return exporter.getFinishedSpans();
  }
  const must = (span: ReadableSpan | undefined, what: string): ReadableSpan => {
    if (!span) throw new Error(`no span ${what}`);
    return span;
  };

  it('follows a task from the webhook through the job and every step to the Submit Output request, in one trace', async () => {
    const { sim } = stack;
    const task = sim.addTask({ inputs: [await photoInput('Front')], slots: [{ mappingKeyId: 'A', positionName: 'Front' }] });
    await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
    await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length === 1);
    await stack.idle(service);

    const all = await spans();
    const webhook = must(
      all.find(
        (s) =>
          s.name === 'POST /webhooks/creative-force/:connectionId' && s.attributes['cfc.task_process_id'] === task.taskProcessId,
      ),
      'of the webhook',
    );
    expect(webhook.kind).toBe(SpanKind.SERVER);
    expect(webhook.attributes['http.response.status_code']).toBe(202);
    const { traceId } = webhook.spanContext();
    const trace = all.filter((s) => s.spanContext().traceId === traceId);
    const parentOf = (span: ReadableSpan) => trace.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

    const cycle = must(
      trace.find((s) => s.name === 'cycle'),
      'of the cycle',
    );
    expect(cycle.kind).toBe(SpanKind.CONSUMER);
    expect(cycle.attributes).toMatchObject({
      'cfc.connection_id': 'acme',
      'cfc.task_process_id': task.taskProcessId,
      'cfc.attempt': 1,
    });
    expect(parentOf(cycle)).toBe(webhook);

    for (const step of cycleSteps) {
      const span = must(
        trace.find((s) => s.name === `step ${step}`),
        `of step ${step}`,
      );
      expect(parentOf(span), step).toBe(cycle);
    }
    const submitStep = must(
      trace.find((s) => s.name === 'step submit-output'),
      'of Submit Output',
    );
    const submitCall = must(
      trace.find((s) => s.kind === SpanKind.CLIENT && String(s.attributes['url.path']).endsWith('/submit-output')),
      'of the Submit Output request',
    );
    expect(submitCall.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });
    expect(parentOf(submitCall)).toBe(submitStep);

    // The pre-signed S3 upload is traced, without the query string that signs it.
    const upload = must(
      trace.find((s) => s.kind === SpanKind.CLIENT && s.attributes['http.request.method'] === 'PUT'),
      'of the S3 upload',
    );
    expect(parentOf(upload)?.name).toBe('step upload-outputs');
    expect(upload.attributes['url.query']).toBe('[Redacted]');
    expect(String(upload.attributes['url.full'])).not.toContain('?');
    expect(JSON.stringify(trace.map((s) => s.attributes))).not.toMatch(/X-Amz-Signature|Signature=/i);
  });

  it('sends no trace header to a remote system, and traces requests only inside a span', async () => {
    const remote = new ScriptedServer();
    await remote.start();
    try {
      remote.on('/thing', () => ({ json: {} }));
      exporter.reset();
      await tracing.span('outer', {}, async () => {
        await (await request(`${remote.origin}/thing`, { dispatcher: sharedDispatcher() })).body.text();
      });
      await (await request(`${remote.origin}/thing`, { dispatcher: sharedDispatcher() })).body.text();
      expect(remote.requests).toHaveLength(2);
      for (const received of remote.requests) {
        expect(received.headers.traceparent).toBeUndefined();
        expect(received.headers.tracestate).toBeUndefined();
      }
      const clients = (await spans()).filter((s) => s.kind === SpanKind.CLIENT);
      expect(clients).toHaveLength(1);
    } finally {
      await remote.stop();
    }
  });

  it('loads none of the OpenTelemetry SDK when tracing is off', () => {
    // A fresh process records every module it resolves while the service's modules load and tracing starts off.
    const script = `
      import { registerHooks } from 'node:module';
      const resolved = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); resolved.push(r.url); return r; } });
      await import('./src/main.ts');
      await import('./src/service.ts');
      const { startTracing } = await import('./src/observability/start-tracing.ts');
      const tracing = await startTracing(undefined);
      await tracing.span('nothing', {}, async () => {});
      console.log(JSON.stringify(resolved));`;
    const resolved = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as string[];
    expect(resolved.some((url) => url.endsWith('/src/service.ts'))).toBe(true);
    const otel = [...new Set(resolved.map((url) => /@opentelemetry\/[^/]+/.exec(url)?.[0]).filter(Boolean))];
    // prom-client's process CPU metric reads the (no-op) API for exemplars; nothing else of OpenTelemetry is loaded.
    expect(otel.filter((name) => name !== '@opentelemetry/api')).toEqual([]);
    expect(resolved.some((url) => url.endsWith('/open-telemetry.ts'))).toBe(false);
  });
});
