/**
 * What an AI provider plugs into the service: one module per provider folder, registered in the
 * catalogue (catalogue.ts). From the modules the service derives the connections file's provider
 * sections (with their `resultHosts` setting), the environment settings, the clients of each
 * connection and the recipe registry, so a provider is added without editing any of them.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ResultDownloadRules } from '../http/provider-request.ts';
import type { ProviderRecipe } from './recipe.ts';

/** A provider's environment settings: its variables and how their values make its configuration. */
export interface ProviderEnvironment<Shape extends z.ZodRawShape, Config> {
  /** Variable name → parser, with the default that applies when the variable is not set. */
  readonly variables: Shape;
  /** The provider's (service-wide) configuration from the parsed variables. */
  config(values: z.output<z.ZodObject<Shape>>): Config;
}

/** What a provider's parts are built from: the service's, shared by every connection. */
export interface ProviderServiceDeps<Config> {
  config: Config;
  /** The service's shared Redis connection (caches, locks). */
  redis: Redis;
  /** The service's Redis key prefix (QUEUE_PREFIX); a provider appends its own part. */
  keyPrefix: string;
  logger: Logger;
}

/** What the client of one connection is built from. */
export interface ProviderClientDeps<Credentials, Config, Shared> extends ProviderServiceDeps<Config> {
  /** Our id of the connection. */
  connectionId: string;
  /** The connection's section of this provider, validated by `credentialsSchema`. */
  credentials: Credentials;
  /** What `shared` built for the service. */
  shared: Shared;
  /** Where the connection's result URLs may be downloaded from, and how large they may be. */
  results: ResultDownloadRules;
}

/** What a test of one connection's credentials works with. */
export interface ProviderCredentialsTest<Credentials, Shared> {
  /** Our id of the connection. */
  connectionId: string;
  /** The connection's section of this provider, validated by `credentialsSchema`. */
  credentials: Credentials;
  /** What `shared` built for the service. */
  shared: Shared;
  signal?: AbortSignal;
}

/** One AI provider. `Client` is what its recipes receive as `run.client`. */
export interface ProviderModule<Id extends string, Shape extends z.ZodRawShape, Credentials, Config, Shared, Client> {
  /** The key of the provider's section in a connection, and the `provider` of its recipes. */
  readonly id: Id;
  /** The provider's name in messages, e.g. `AdCreative.ai`. */
  readonly label: string;
  /** The provider's section of a connection (its credentials); a connection without it cannot use the recipes. */
  readonly credentialsSchema: z.ZodType<Credentials>;
  /**
   * The hosts the provider's result URLs come from, by default (host names, `*.suffix` wildcards:
   * src/http/result-hosts.ts); its page in docs/providers/ says where each comes from. A connection
   * replaces them with `resultHosts` in its section. Absent for a provider whose results come only
   * through its API: its section has no `resultHosts`, and no result URL is allowed.
   */
  readonly resultHosts?: readonly string[];
  readonly environment: ProviderEnvironment<Shape, Config>;
  /** Builds, once per service, what every connection's client shares (token stores, caches). */
  shared(deps: ProviderServiceDeps<Config>): Shared;
  /** Builds the client of one connection. */
  create(deps: ProviderClientDeps<Credentials, Config, Shared>): Client;
  /** The provider's recipes; each names this provider's `id` as its `provider`. */
  readonly recipes: readonly ProviderRecipe<unknown, Client, Id>[];
  /**
   * Obtains a new token with a connection's credentials through the token store in `shared`,
   * bypassing its cache, and starts no work: what `cf-ai-connector check` runs. Rejects as a
   * worker's token request would (PROVIDER_AUTH_FAILED when the credentials are refused); resolves
   * with how long the new token is valid. Written after `shared` in a module, so that TypeScript
   * has inferred `Shared` when it reads this function.
   */
  testCredentials(test: ProviderCredentialsTest<Credentials, Shared>): Promise<{ ttlMs: number }>;
}

/** Any provider module, as the generic derivations see it. */
export type AnyProviderModule = ProviderModule<string, z.ZodRawShape, unknown, unknown, unknown, unknown>;

/** Checks a provider module's parts against each other, inferring its types. */
export function defineProviderModule<const Id extends string, Shape extends z.ZodRawShape, Credentials, Config, Shared, Client>(
  module: ProviderModule<Id, Shape, Credentials, Config, Shared, Client>,
): ProviderModule<Id, Shape, Credentials, Config, Shared, Client> {
  return module;
}
