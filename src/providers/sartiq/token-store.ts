/**
 * Sartiq access tokens per connection, cached in Redis and shared by every process.
 *
 * Sartiq's Backend API uses the OAuth2 password flow (Sartiq's "Authentication" page): `POST /login/access-token`
 * with the account's email and password answers a bearer token valid one hour (`expires_in`
 * 3600), and no refresh token: renewing means logging in again.
 *
 * The caching, the one-login-at-a-time lock, the waiting and the shared failure marker are
 * SharedTokenCache's (src/http/shared-token-cache.ts, which describes the Redis keys); this file
 * adds the login request and the PROVIDER_* errors. A token is renewed when less than
 * min(refreshBeforeExpiryMs, refreshFraction x lifetime) is left (by default 5 minutes of the
 * hour). Passwords and tokens are never logged.
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { fetchFormToken, type ProviderTokenStoreOptions, providerTokenStore } from '../../http/provider-token-store.ts';
import type { FetchedToken, SharedTokenCache } from '../../http/shared-token-cache.ts';
import { type SartiqConfig, sartiqPaths } from './config.ts';
import { parseShape, readJson, type SartiqExchange, sartiqProvider, statusError, transportError } from './errors.ts';
import { loginResponseSchema } from './schemas.ts';

/** The Sartiq account of one connection: a dedicated service user, optionally inside an organization. */
export interface SartiqCredentials {
  /** The login (`username` of the password grant). */
  email: string;
  password: string;
  /** Sent as the `organization_id` query parameter of every generation call when set. */
  organizationId?: string;
}

/** What the login needs of one connection. */
export interface SartiqTokenConnection {
  /** Our id of the connection; names it in errors, logs and Redis keys. */
  id: string;
  email: string;
  password: string;
}

/** What the Sartiq client needs from a token source; SartiqTokenStore is the production one. */
export interface SartiqTokenProvider {
  /** A bearer token of the connection, valid now. */
  getToken(connection: SartiqTokenConnection, signal?: AbortSignal): Promise<string>;
  /** Drops the cached token after Sartiq refused it (401), unless another caller already replaced it. */
  invalidate(connectionId: string, token: string): Promise<void>;
}

/**
 * Options of SartiqTokenStore; only the first three are required. `config`: `baseUrl` and
 * `requestTimeoutMs` are used. Defaults: keyPrefix `{cfc}:sartiq-token`, lockTtlMs
 * requestTimeoutMs + 30 000.
 */
export interface SartiqTokenStoreOptions extends ProviderTokenStoreOptions<SartiqConfig> {
  /** Renew when less than this fraction of the lifetime is left, if smaller. Default 0.1. */
  refreshFraction?: number;
}

/** The token lifetime Sartiq documents, used when a login answer has no `expires_in`. */
export const sartiqDefaultTokenLifetimeS = 3600;

/** The Redis-backed SartiqTokenProvider described at the top of this file. */
export class SartiqTokenStore implements SartiqTokenProvider {
  readonly #cache: SharedTokenCache;
  readonly #config: SartiqConfig;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;

  constructor(options: SartiqTokenStoreOptions) {
    this.#config = options.config;
    const parts = providerTokenStore(options, {
      provider: sartiqProvider,
      token: 'Sartiq access token',
      otherRenewal: 'login',
      renewal: 'Sartiq login',
      keyPrefix: '{cfc}:sartiq-token',
      lockTtlMs: options.config.requestTimeoutMs + 30_000,
      refreshFraction: options.refreshFraction ?? 0.1,
      keptTokenMessage: 'early Sartiq login failed; the current token is still valid and stays in use',
    });
    this.#cache = parts.cache;
    this.#logger = parts.logger;
    this.#dispatcher = parts.dispatcher;
  }

  getToken(connection: SartiqTokenConnection, signal?: AbortSignal): Promise<string> {
    return this.#cache.getToken(connection.id, (renewal) => this.#login(connection, renewal.signal), signal);
  }

  invalidate(connectionId: string, token: string): Promise<void> {
    return this.#cache.invalidate(connectionId, token);
  }

  /**
   * Asks Sartiq (a login) for a new token now, bypassing the cache (which it leaves as it is): what
   * `cf-ai-connector check` runs, to test the credentials themselves rather than a cached token.
   */
  requestToken(connection: SartiqTokenConnection, signal?: AbortSignal): Promise<FetchedToken> {
    return this.#login(connection, signal);
  }

  /**
   * Logs in with the password grant. Any 4xx but 429 (401 "Incorrect email or password", or the 400
   * FastAPI templates answer) means the account was refused: PROVIDER_AUTH_FAILED.
   */
  #login(connection: SartiqTokenConnection, signal: AbortSignal | undefined): Promise<FetchedToken> {
    const exchange: SartiqExchange = { method: 'POST', path: sartiqPaths.login };
    const logger = this.#logger.child({ connectionId: connection.id });
    return fetchFormToken({
      url: `${this.#config.baseUrl}${exchange.path}`,
      exchange,
      form: { username: connection.email, password: connection.password, grant_type: 'password' },
      secret: connection.password,
      dispatcher: this.#dispatcher,
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      logger,
      errors: { transportError, readJson, parseShape },
      statusError: (response, options) => statusError(logger, exchange, response, options),
      schema: loginResponseSchema,
      defaultLifetimeS: sartiqDefaultTokenLifetimeS,
      obtainedMessage: 'Sartiq access token obtained',
    });
  }
}
