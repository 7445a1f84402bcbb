/**
 * Traces, optional: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. The service sees this small
 * interface only. The OpenTelemetry SDK (open-telemetry.ts) is imported when tracing is started
 * (start-tracing.ts), so a process without tracing loads none of it, and `tracingOff` costs a
 * function call.
 *
 * One trace per task cycle: the webhook's span, then the job (its context travels in the job data
 * as W3C Trace Context headers), each attempt, each step, and each outgoing HTTP request.
 */

/** Attributes of a span. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

/** The span a function runs in. */
export interface ActiveSpan {
  setAttributes(attributes: SpanAttributes): void;
}

/** W3C Trace Context headers (`traceparent`, and `tracestate` when there is one): a span's context in a job. */
export type TraceCarrier = Readonly<Record<string, string>>;

export interface SpanOptions {
  /** `server` for a request received, `consumer` for a job taken from the queue; default `internal`. */
  kind?: 'server' | 'consumer' | 'internal';
  attributes?: SpanAttributes;
  /**
   * The span continues this context (read from a job) instead of the active span; one that is not
   * a valid carrier starts a new trace.
   */
  parent?: unknown;
}

export interface Tracing {
  /** Runs `fn` in a new span, ended when `fn` settles; a rejection marks it failed. */
  span<T>(name: string, options: SpanOptions, fn: (span: ActiveSpan) => Promise<T>): Promise<T>;
  /** The active span's context, to carry in a job; undefined outside any span or when tracing is off. */
  carrier(): TraceCarrier | undefined;
  /** Sends what is buffered (bounded in time) and stops tracing. */
  shutdown(): Promise<void>;
}

const noSpan: ActiveSpan = { setAttributes() {} };

/** Tracing switched off: no span, no carrier. */
export const tracingOff: Tracing = {
  span: (_name, _options, fn) => fn(noSpan),
  carrier: () => undefined,
  shutdown: async () => {},
};
