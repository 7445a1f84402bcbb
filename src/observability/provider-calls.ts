/**
 * Counts the calls of a connection's provider clients for `cf_ai_connector_provider_calls_total`:
 * each method call that returns a promise (a request to the provider, a download), by provider,
 * method and outcome (`ok`, or the ConnectorError's code). The clients themselves are untouched:
 * a proxy stands in front of each.
 */
import { isConnectorError } from '../errors.ts';
import type { ServiceMetrics } from './metrics.ts';

type Recorder = Pick<ServiceMetrics, 'providerCall'>;

function outcomeOf(err: unknown): string {
  return isConnectorError(err) ? err.code : 'error';
}

function counted<T extends object>(provider: string, client: T, metrics: Recorder): T {
  return new Proxy(client, {
    get(target, property) {
      // Read on the client itself: its getters and methods use its private fields.
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (answer: unknown) => {
            metrics.providerCall(provider, property, 'ok');
            return answer;
          },
          (err: unknown) => {
            metrics.providerCall(provider, property, outcomeOf(err));
            throw err;
          },
        );
      };
    },
  });
}

/** The clients of a connection, by provider id, each counting its calls. */
export function countProviderCalls<T extends object>(clients: T, metrics: Recorder): T {
  const entries = Object.entries(clients).map(([provider, client]) => [
    provider,
    typeof client === 'object' && client !== null ? counted(provider, client, metrics) : client,
  ]);
  return Object.fromEntries(entries) as T;
}
