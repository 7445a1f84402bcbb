/**
 * Tracing with the OpenTelemetry SDK; imported by startTracing (start-tracing.ts) only when tracing is
 * on. It registers, process-wide, the AsyncLocalStorage context manager (the active span follows
 * the async code) and the undici instrumentation (a client span for every outgoing request made
 * inside a span: Creative Force, S3, the providers).
 *
 * No propagator is registered globally: outgoing requests carry no `traceparent`, since none of
 * the remote systems is ours, and pre-signed S3 requests get no header they did not sign. The W3C
 * propagator is used only to carry a span's context in a job. Query strings, which sign the
 * pre-signed URLs, are left out of the spans' URLs.
 */
import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { urlForMessages } from '../media/download.ts';
import type { SpanOptions, TraceCarrier, Tracing } from './tracing.ts';

/** How long shutdown waits for the last spans to be sent: the process is on its way out. */
const shutdownTimeoutMs = 1_500;

const kinds = { server: SpanKind.SERVER, consumer: SpanKind.CONSUMER, internal: SpanKind.INTERNAL } as const;

/** The OTLP/HTTP (protobuf) exporter of a collector's base URL. */
export function otlpExporter(endpoint: string): SpanExporter {
  return new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
}

/** A carrier read back from a job: an object of string values, else nothing. */
function carrierOf(value: unknown): TraceCarrier | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return Object.fromEntries(entries);
}

export interface OpenTelemetryOptions {
  serviceName: string;
  /** Where finished spans go (batched): the OTLP exporter, or an in-memory one in tests. */
  exporter: SpanExporter;
}

/** Tracing through OpenTelemetry, with `flush` to send the buffered spans now. */
export function openTelemetryTracing(options: OpenTelemetryOptions): Tracing & { flush(): Promise<void> } {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter: options.exporter })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = new W3CTraceContextPropagator();
  const undici = new UndiciInstrumentation({
    requireParentforSpans: true,
    startSpanHook: (request) => {
      const url = new URL(request.path, request.origin);
      return url.search === '' ? {} : { 'url.full': urlForMessages(url.href), 'url.query': '[Redacted]' };
    },
  });
  undici.setTracerProvider(provider);
  const tracer = provider.getTracer('cf-ai-connector');

  const parentOf = (options: SpanOptions): Context => {
    if (options.parent === undefined) return context.active();
    const carrier = carrierOf(options.parent);
    return carrier ? propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) : ROOT_CONTEXT;
  };

  return {
    span(name, spanOptions, fn) {
      const attributes = spanOptions.attributes ?? {};
      const kind = kinds[spanOptions.kind ?? 'internal'];
      return tracer.startActiveSpan(name, { kind, attributes }, parentOf(spanOptions), async (span) => {
        try {
          return await fn({ setAttributes: (more) => span.setAttributes(more) });
        } catch (err) {
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          span.end();
        }
      });
    },
    carrier() {
      const carrier: Record<string, string> = {};
      propagator.inject(context.active(), carrier, defaultTextMapSetter);
      return carrier.traceparent ? carrier : undefined;
    },
    flush: () => provider.forceFlush(),
    async shutdown() {
      undici.disable();
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, shutdownTimeoutMs).unref());
      await Promise.race([provider.shutdown(), timeout]);
      context.disable();
    },
  };
}
