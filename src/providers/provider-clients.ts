/**
 * The provider clients of each connection: built from the catalogue's modules, and handed to a
 * recipe by its `provider`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConnectorError } from '../errors.ts';
import {
  type ProviderClients,
  type ProviderConfigs,
  type ProviderSections,
  providerModule,
  providerModules,
} from './catalogue.ts';
import type { AnyProviderModule } from './provider-module.ts';
import type { Recipe } from './recipe.ts';

/** What the providers' service-wide parts are built from. */
export interface ProviderClientsDeps {
  configs: ProviderConfigs;
  redis: Redis;
  keyPrefix: string;
  logger: Logger;
}

/**
 * Builds every provider's service-wide parts (token stores, caches) once, and returns the function
 * that makes the clients of one connection from its sections.
 */
export function createProviderClients(
  deps: ProviderClientsDeps,
): (connectionId: string, sections: ProviderSections) => ProviderClients {
  const { redis, keyPrefix, logger } = deps;
  const configs: Readonly<Record<string, unknown>> = deps.configs;
  const modules: readonly AnyProviderModule[] = providerModules;
  const factories = modules.map((module) => {
    const serviceDeps = { config: configs[module.id], redis, keyPrefix, logger };
    const shared = module.shared(serviceDeps);
    return { module, serviceDeps, shared };
  });
  return (connectionId, sections) => {
    const all: Readonly<Record<string, unknown>> = sections;
    const clients: Record<string, unknown> = {};
    for (const { module, serviceDeps, shared } of factories) {
      const credentials = all[module.id];
      if (credentials !== undefined) clients[module.id] = module.create({ ...serviceDeps, shared, connectionId, credentials });
    }
    return clients as ProviderClients;
  };
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
