/**
 * Adobe IMS access tokens per Firefly connection, cached in Redis and shared by every process.
 *
 * The Workflow Builder API uses OAuth Server-to-Server credentials (Adobe's getting-started page): `POST
 * <imsTokenUrl>` (x-www-form-urlencoded `grant_type=client_credentials`, `client_id`,
 * `client_secret`, `scope`) answers `{ access_token, token_type: "bearer", expires_in: 86399 }`: a
 * token valid 24 hours, and no refresh token: renewing means asking again.
 *
 * The caching, the one-request-at-a-time lock, the waiting and the shared failure marker are
 * SharedTokenCache's (src/http/shared-token-cache.ts, which describes the Redis keys); this file
 * adds the IMS request and the PROVIDER_* errors. A token is renewed when less than
 * min(refreshBeforeExpiryMs, refreshFraction x lifetime) is left (by default the last 5 minutes of
 * the 24 hours), and dropped after the API refused it (401). Secrets and tokens are never logged.
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { fetchFormToken, type ProviderTokenStoreOptions, providerTokenStore } from '../../http/provider-token-store.ts';
import type { FetchedToken, SharedTokenCache } from '../../http/shared-token-cache.ts';
import { urlForMessages } from '../../media/download.ts';
import type { FireflyConfig } from './config.ts';
import { type FireflyExchange, fireflyProvider, parseShape, readJson, statusError, transportError } from './errors.ts';
import { fireflyDefaultTokenLifetimeS, imsTokenResponseSchema } from './schemas.ts';

/** What the IMS request needs of one connection. */
export interface FireflyTokenConnection {
  /** Our id of the connection; names it in errors, logs and Redis keys. */
  id: string;
  clientId: string;
  clientSecret: string;
}

/** What the Firefly client needs from a token source; FireflyTokenStore is the production one. */
export interface FireflyTokenProvider {
  /** An IMS access token of the connection, valid now. */
  getToken(connection: FireflyTokenConnection, signal?: AbortSignal): Promise<string>;
  /** Drops the cached token after Firefly refused it (401), unless another caller already replaced it. */
  invalidate(connectionId: string, token: string): Promise<void>;
}

/**
 * Options of FireflyTokenStore; only the first three are required. `config`: `imsTokenUrl`, `scope`
 * and `requestTimeoutMs` are used. Defaults: keyPrefix `{cfc}:firefly-token`, lockTtlMs
 * requestTimeoutMs + 30 000.
 */
export interface FireflyTokenStoreOptions extends ProviderTokenStoreOptions<FireflyConfig> {
  /** Renew when less than this fraction of the lifetime is left, if smaller. Default 0.1. */
  refreshFraction?: number;
}

/** The Redis-backed FireflyTokenProvider described at the top of this file. */
export class FireflyTokenStore implements FireflyTokenProvider {
  readonly #cache: SharedTokenCache;
  readonly #config: FireflyConfig;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;

  constructor(options: FireflyTokenStoreOptions) {
    this.#config = options.config;
    const parts = providerTokenStore(options, {
      provider: fireflyProvider,
      token: 'Adobe IMS access token',
      otherRenewal: 'request',
      renewal: 'Adobe IMS token request',
      keyPrefix: '{cfc}:firefly-token',
      lockTtlMs: options.config.requestTimeoutMs + 30_000,
      refreshFraction: options.refreshFraction ?? 0.1,
      keptTokenMessage: 'early Adobe IMS token renewal failed; the current token is still valid and stays in use',
    });
    this.#cache = parts.cache;
    this.#logger = parts.logger;
    this.#dispatcher = parts.dispatcher;
  }

  getToken(connection: FireflyTokenConnection, signal?: AbortSignal): Promise<string> {
    return this.#cache.getToken(connection.id, (renewal) => this.#fetchToken(connection, renewal.signal), signal);
  }

  invalidate(connectionId: string, token: string): Promise<void> {
    return this.#cache.invalidate(connectionId, token);
  }

  /**
   * Asks Adobe IMS for a new token now, bypassing the cache (which it leaves as it is): what
   * `cf-ai-connector check` runs, to test the credentials themselves rather than a cached token.
   */
  requestToken(connection: FireflyTokenConnection, signal?: AbortSignal): Promise<FetchedToken> {
    return this.#fetchToken(connection, signal);
  }

  /**
   * Asks IMS for a token with the client-credentials grant. Any 4xx but 408 and 429 (e.g. 400
   * `invalid_client`, `invalid_scope`, 401) means the credential was refused: PROVIDER_AUTH_FAILED.
   */
  #fetchToken(connection: FireflyTokenConnection, signal: AbortSignal | undefined): Promise<FetchedToken> {
    const tokenUrl = this.#config.imsTokenUrl;
    const exchange: FireflyExchange = { method: 'POST', path: urlForMessages(tokenUrl) };
    const logger = this.#logger.child({ connectionId: connection.id });
    return fetchFormToken({
      url: tokenUrl,
      exchange,
      form: {
        grant_type: 'client_credentials',
        client_id: connection.clientId,
        client_secret: connection.clientSecret,
        scope: this.#config.scope,
      },
      secret: connection.clientSecret,
      dispatcher: this.#dispatcher,
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      logger,
      errors: { transportError, readJson, parseShape },
      statusError: (response, options) => statusError(logger, exchange, response, { ...options, service: 'Adobe IMS' }),
      schema: imsTokenResponseSchema,
      defaultLifetimeS: fireflyDefaultTokenLifetimeS,
      obtainedMessage: 'Adobe IMS access token obtained',
    });
  }
}
