/**
 * The AI providers this service offers: the one list a provider is registered in. Everything
 * provider-specific outside a provider's folder is derived from it: the connections file's
 * provider sections (with `resultHosts` for a provider that declares result hosts), the
 * environment settings and configuration, the clients of a connection, the recipe registry, and
 * the check that a recipe's connection has its provider's section.
 */
import { z } from 'zod';
import { resultHostsSchema } from '../http/result-hosts.ts';
import { adCreativeModule } from './adcreative/adcreative-module.ts';
import { fireflyModule } from './firefly/firefly-module.ts';
import type { AnyProviderModule } from './provider-module.ts';
import type { Recipe } from './recipe.ts';
import { sartiqModule } from './sartiq/sartiq-module.ts';

/** Every provider module, in the order their recipes are listed. */
export const providerModules = [adCreativeModule, sartiqModule, fireflyModule] as const satisfies readonly AnyProviderModule[];

type Module = (typeof providerModules)[number];

/** The id of a provider, which is also the key of its section in a connection. */
export type ProviderId = Module['id'];

/** Each provider's configuration, from its environment settings. */
export type ProviderConfigs = { readonly [M in Module as M['id']]: ReturnType<M['environment']['config']> };

/** The setting a section adds to a provider's credentials when the provider declares `resultHosts`. */
export interface ResultHostsSetting {
  /** Replaces the provider's default result hosts for this connection. */
  resultHosts?: readonly string[];
}

/** A provider's section of a connection: its credentials, and its result hosts when it has any. */
type Section<M extends Module> = z.output<M['credentialsSchema']> & ResultHostsSetting;

/** The providers' sections of a connection (each optional), as their schemas parse them. */
export type ProviderSections = { [M in Module as M['id']]?: Section<M> };

/** The zod schemas of the providers' sections of a connection. */
export type ProviderSectionSchemas = { [M in Module as M['id']]: z.ZodOptional<z.ZodType<Section<M>>> };

/** The provider clients of one connection: one per provider whose section it has. */
export type ProviderClients = { readonly [M in Module as M['id']]?: ReturnType<M['create']> };

/** The list as the generic derivations below see it. */
const modules: readonly AnyProviderModule[] = providerModules;
const moduleById: ReadonlyMap<string, AnyProviderModule> = new Map(modules.map((m) => [m.id, m]));
if (moduleById.size !== modules.length) throw new Error('two provider modules share an id');

/** The module of a provider id. */
export function providerModule(id: string): AnyProviderModule | undefined {
  return moduleById.get(id);
}

/** Whether `id` names a provider of the catalogue. */
export function isProviderId(id: string): id is ProviderId {
  return moduleById.has(id);
}

/** The default result hosts of each provider that declares some, validated and normalized. */
const defaultResultHosts: ReadonlyMap<string, readonly string[]> = new Map(
  modules.flatMap((m) => {
    if (m.resultHosts === undefined) return [];
    const parsed = resultHostsSchema.safeParse(m.resultHosts);
    if (!parsed.success) throw new Error(`provider module ${m.id} declares invalid resultHosts: ${parsed.error.message}`);
    return [[m.id, parsed.data]];
  }),
);

/** The result hosts a provider allows by default; none for a provider that declares none. */
export function providerResultHosts(id: string): readonly string[] {
  return defaultResultHosts.get(id) ?? [];
}

/** A provider's section: its credentials, plus `resultHosts` (validated) when the provider declares result hosts. */
function sectionSchema(m: AnyProviderModule): z.ZodType {
  if (m.resultHosts === undefined) return m.credentialsSchema;
  return z.intersection(m.credentialsSchema, z.object({ resultHosts: resultHostsSchema.optional() }));
}

/** The schemas of the providers' sections, for the connection schema. */
export const providerSectionSchemas = Object.fromEntries(
  modules.map((m) => [m.id, sectionSchema(m).optional()]),
) as ProviderSectionSchemas;

/** The recipes of every provider, in catalogue order. */
export const providerRecipes: readonly Recipe[] = modules.flatMap((m) => m.recipes);

/** The names of every provider's environment variables, in catalogue order (a name twice is a mistake). */
export const providerVariableNames: readonly string[] = modules.flatMap((m) => Object.keys(m.environment.variables));

/** The environment variables of every provider (name → parser with its default). */
export const providerVariables: Readonly<Record<string, z.ZodType>> = Object.assign(
  {},
  ...modules.map((m) => m.environment.variables),
);

/** Each provider's configuration from the parsed environment (which holds every provider's variables). */
export function providerConfigs(values: Readonly<Record<string, unknown>>): ProviderConfigs {
  return Object.fromEntries(modules.map((m) => [m.id, m.environment.config(values)])) as ProviderConfigs;
}
