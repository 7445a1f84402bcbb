/**
 * The provider clients of each connection: built from the catalogue's modules, and handed to a
 * recipe by its `provider`; and the tests of a connection's provider credentials (`check`).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConnectorError } from '../errors.ts';
import { sharedResultDispatcher } from '../http/shared-agent.ts';
import {
  type ProviderClients,
  type ProviderConfigs,
  type ProviderId,
  type ProviderSections,
  providerModule,
  providerModules,
  providerResultHosts,
  type ResultHostsSetting,
} from './catalogue.ts';
import type { AnyProviderModule } from './provider-module.ts';
import type { Recipe } from './recipe.ts';

/** What the providers' service-wide parts are built from. */
export interface ProviderClientsDeps {
  configs: ProviderConfigs;
  redis: Redis;
  keyPrefix: string;
  logger: Logger;
  /** The service's settings of result downloads (PROVIDER_RESULT_*). */
  results: ProviderResultSettings;
}

/** How provider results are downloaded, service-wide. */
export interface ProviderResultSettings {
  /** The largest result accepted, in bytes. */
  maxBytes: number;
  /** Allows loopback addresses: for tests and the demo only (the simulators listen on 127.0.0.1). */
  allowLoopback: boolean;
}

/**
 * Builds every provider's service-wide parts (token stores, caches) once, and returns the function
 * that makes the clients of one connection from its sections: each client gets its section's
 * credentials, and the rules of its result downloads (the section's `resultHosts`, else the
 * provider's defaults; the service's cap; the result Agent, which connects to public addresses only).
 */
export function createProviderClients(
  deps: ProviderClientsDeps,
): (connectionId: string, sections: ProviderSections) => ProviderClients {
  const factories = sharedParts(deps);
  const { maxBytes, allowLoopback } = deps.results;
  const dispatcher = sharedResultDispatcher(allowLoopback);
  return (connectionId, sections) => {
    const clients: Record<string, unknown> = {};
    for (const { module, serviceDeps, shared } of factories) {
      const section = sectionOf(sections, module.id);
      if (section === undefined) continue;
      const { resultHosts, ...credentials } = section;
      const results = { hosts: resultHosts ?? providerResultHosts(module.id), maxBytes, dispatcher };
      clients[module.id] = module.create({ ...serviceDeps, shared, connectionId, credentials, results });
    }
    return clients as ProviderClients;
  };
}

/** A test of one provider section's credentials (see ProviderModule.testCredentials). */
export interface CredentialTest {
  provider: ProviderId;
  /** The provider's name in messages, e.g. `AdCreative.ai`. */
  label: string;
  /** Obtains a new token, bypassing the token cache; resolves with how long it is valid. */
  run(signal?: AbortSignal): Promise<{ ttlMs: number }>;
}

/**
 * Builds every provider's service-wide parts once, as createProviderClients does, and returns the
 * function that makes the credential tests of one connection: one per provider section it has, in
 * catalogue order.
 */
export function createCredentialTests(
  deps: Omit<ProviderClientsDeps, 'results'>,
): (connectionId: string, sections: ProviderSections) => CredentialTest[] {
  const factories = sharedParts(deps);
  return (connectionId, sections) =>
    factories.flatMap(({ module, shared }) => {
      const section = sectionOf(sections, module.id);
      if (section === undefined) return [];
      const { resultHosts: _, ...credentials } = section;
      const run = (signal?: AbortSignal) => module.testCredentials({ connectionId, credentials, shared, signal });
      return [{ provider: module.id as ProviderId, label: module.label, run }];
    });
}

/** Each module with the service-wide deps it was given and the parts it built from them. */
function sharedParts(deps: Omit<ProviderClientsDeps, 'results'>) {
  const { redis, keyPrefix, logger } = deps;
  const configs: Readonly<Record<string, unknown>> = deps.configs;
  const modules: readonly AnyProviderModule[] = providerModules;
  return modules.map((module) => {
    const serviceDeps = { config: configs[module.id], redis, keyPrefix, logger };
    return { module, serviceDeps, shared: module.shared(serviceDeps) };
  });
}

/** A connection's section of a provider, if it has one. */
function sectionOf(sections: ProviderSections, id: string): ResultHostsSetting | undefined {
  const all: Readonly<Record<string, ResultHostsSetting | undefined>> = sections;
  return all[id];
}

/**
 * The client a recipe runs with: its provider's, from the connection's clients; undefined for a
 * recipe without a provider.
 *
 * @throws ConnectorError RECIPE_NOT_CONFIGURED when the connection has no client of that provider.
 */
export function clientForRecipe(recipe: Recipe, clients: ProviderClients): unknown {
  if (recipe.provider === undefined) return undefined;
  const client = (clients as Readonly<Record<string, unknown>>)[recipe.provider];
  if (client === undefined) {
    const label = providerModule(recipe.provider)?.label ?? recipe.provider;
    throw new ConnectorError('RECIPE_NOT_CONFIGURED', `this connection has no ${label} credentials`);
  }
  return client;
}
