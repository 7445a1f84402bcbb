/** Starts tracing when it is configured; the OpenTelemetry SDK is imported only then. */
import { type Tracing, tracingOff } from './tracing.ts';

/** Where traces go: an OTLP/HTTP collector. */
export interface TracingSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; traces go to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** OTEL_SERVICE_NAME: the `service.name` of every span. */
  serviceName: string;
}

/** Starts tracing when settings are given (OpenTelemetry is imported only then); else `tracingOff`. */
export async function startTracing(settings: TracingSettings | undefined): Promise<Tracing> {
  if (!settings) return tracingOff;
  const { openTelemetryTracing, otlpExporter } = await import('./open-telemetry.ts');
  return openTelemetryTracing({ serviceName: settings.serviceName, exporter: otlpExporter(settings.endpoint) });
}
