/**
 * AdCreative.ai JWTs per connection, cached in Redis and shared by every process.
 *
 * The caching, the one-renewal-at-a-time lock, the waiting and the shared failure marker are
 * SharedTokenCache's (src/http/shared-token-cache.ts, which describes the Redis keys, the refresh
 * token's included); this file adds the JWT endpoints and the PROVIDER_* errors.
 *
 * AdCreative sends absolute expiries on its own clock; they are turned into TTLs against the
 * answer's Date header, so neither our hosts' clocks nor Redis's matter.
 *
 * A JWT is renewed when less than min(refreshBeforeExpiryMs, half its lifetime) is left: with
 * RefreshJwtToken while Redis still holds a refresh token, else (or when that fails) with a new
 * GenerateJwtToken. While one caller renews, the others keep using the current JWT if it has not
 * expired, and otherwise poll until the new one appears (or the failure marker, or a deadline).
 */
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { ConnectorError } from '../../errors.ts';
import { requestText } from '../../http/provider-request.ts';
import { type ProviderTokenStoreOptions, providerTokenStore } from '../../http/provider-token-store.ts';
import type { FetchedToken, SharedTokenCache, TokenRenewal } from '../../http/shared-token-cache.ts';
import type { AdCreativeConfig } from './config.ts';
import {
  type AdCreativeExchange,
  adCreativeProvider,
  badResponse,
  parseShape,
  readJson,
  statusError,
  transportError,
} from './errors.ts';
import { jwtResponseSchema } from './schemas.ts';

/** What the JWT endpoints need of one connection. */
export interface AdCreativeJwtConnection {
  /** Our id of the connection; names it in errors, logs and Redis keys. */
  id: string;
  applicationId: string;
  jwtPrivateKey: string;
}

/** What the AdCreative client needs from a JWT source; AdCreativeJwtStore is the production one. */
export interface AdCreativeJwtProvider {
  /** An access token of the connection, valid now. */
  getToken(connection: AdCreativeJwtConnection, signal?: AbortSignal): Promise<string>;
  /** Drops the cached JWT after AdCreative refused it (401), unless another caller already replaced it. */
  invalidate(connectionId: string, token: string): Promise<void>;
}

/**
 * Options of AdCreativeJwtStore; only the first three are required. `config`: `baseUrl`,
 * `paths.generateJwt`, `paths.refreshJwt` and `requestTimeoutMs` are used. Defaults: keyPrefix
 * `{cfc}:adc-jwt`, lockTtlMs 2 x requestTimeoutMs + 30 000 (a refresh and a generate may both run);
 * a JWT is renewed when less than min(refreshBeforeExpiryMs, half its lifetime) is left.
 */
export type AdCreativeJwtStoreOptions = ProviderTokenStoreOptions<AdCreativeConfig>;

/** A JWT as issued, with expiries turned into TTLs. */
interface IssuedJwt {
  token: string;
  ttlMs: number;
  refresh: { token: string; ttlMs: number } | null;
}

/** The Redis-backed AdCreativeJwtProvider described at the top of this file. */
export class AdCreativeJwtStore implements AdCreativeJwtProvider {
  readonly #cache: SharedTokenCache;
  readonly #config: AdCreativeConfig;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;

  constructor(options: AdCreativeJwtStoreOptions) {
    this.#config = options.config;
    const parts = providerTokenStore(options, {
      provider: adCreativeProvider,
      token: 'AdCreative JWT',
      otherRenewal: 'renewal',
      renewal: 'AdCreative JWT renewal',
      keyPrefix: '{cfc}:adc-jwt',
      lockTtlMs: 2 * options.config.requestTimeoutMs + 30_000,
      refreshFraction: 0.5,
      keptTokenMessage: 'early AdCreative JWT renewal failed; the current JWT is still valid and stays in use',
    });
    this.#cache = parts.cache;
    this.#logger = parts.logger;
    this.#dispatcher = parts.dispatcher;
  }

  getToken(connection: AdCreativeJwtConnection, signal?: AbortSignal): Promise<string> {
    return this.#cache.getToken(connection.id, (renewal) => this.#renew(connection, renewal), signal);
  }

  invalidate(connectionId: string, token: string): Promise<void> {
    return this.#cache.invalidate(connectionId, token);
  }

  /**
   * Asks GenerateJwtToken for a new JWT now, bypassing the cache (which it leaves as it is): what
   * `cf-ai-connector check` runs, to test the credentials themselves rather than a cached JWT.
   */
  requestToken(connection: AdCreativeJwtConnection, signal?: AbortSignal): Promise<FetchedToken> {
    return this.#renew(connection, { refreshToken: null, signal });
  }

  /** Renews by refresh token when there is one, else (or when that fails) by a new JWT. */
  async #renew(connection: AdCreativeJwtConnection, renewal: TokenRenewal): Promise<FetchedToken> {
    const { refreshToken, signal } = renewal;
    const logger = this.#logger.child({ connectionId: connection.id });
    const credentials = { applicationId: connection.applicationId, jwtPrivateKey: connection.jwtPrivateKey };
    let issued: IssuedJwt | undefined;
    if (refreshToken !== null) {
      const body = { ...credentials, refreshToken };
      try {
        issued = await this.#issue(logger, this.#config.paths.refreshJwt, body, signal);
      } catch (err) {
        if (!(err instanceof ConnectorError)) throw err;
        logger.warn({ code: err.code }, 'AdCreative JWT refresh failed; requesting a new JWT');
      }
    }
    const refreshed = issued !== undefined;
    issued ??= await this.#issue(logger, this.#config.paths.generateJwt, credentials, signal);
    logger.info({ refreshed, expiresInS: Math.round(issued.ttlMs / 1000) }, 'AdCreative JWT obtained');
    // A refresh that does not rotate the refresh token leaves the current one in place.
    return { token: issued.token, ttlMs: issued.ttlMs, refreshToken: issued.refresh ?? (refreshed ? undefined : null) };
  }

  /** POSTs to a JWT endpoint. A 4xx other than 429 means the credentials (or refresh token) were refused. */
  async #issue(logger: Logger, path: string, body: Record<string, string>, signal: AbortSignal | undefined): Promise<IssuedJwt> {
    const exchange: AdCreativeExchange = { method: 'POST', path };
    const response = await requestText({
      url: `${this.#config.baseUrl}${path}`,
      method: 'POST',
      exchange,
      dispatcher: this.#dispatcher,
      headers: { 'content-type': 'application/json; x-api-version=1.0', accept: 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: this.#config.requestTimeoutMs,
      signal,
      transportError,
    });
    const { status } = response;
    if (status < 200 || status >= 300) {
      const refused = status >= 400 && status < 500 && status !== 429;
      const secrets = Object.values(body);
      throw statusError(logger, exchange, response, { secrets, code: refused ? 'PROVIDER_AUTH_FAILED' : undefined });
    }
    const jwt = parseShape(jwtResponseSchema, exchange, status, readJson(exchange, status, response.text));
    // The Date header is whole seconds, rounded down: the server's "now" may be up to 1 s later.
    const dateHeader = Date.parse(response.headers.date ?? '');
    const serverNow = Number.isNaN(dateHeader) ? Date.now() : dateHeader + 1000;
    const ttlMs = Math.floor(jwt.accessTokenExpiration - serverNow);
    if (ttlMs <= 0) throw badResponse(exchange, status, 'with an accessTokenExpiration that has already passed');
    const refreshTtlMs = jwt.refreshTokenExpiration == null ? 0 : Math.floor(jwt.refreshTokenExpiration - serverNow);
    const refresh = jwt.refreshToken && refreshTtlMs > 0 ? { token: jwt.refreshToken, ttlMs: refreshTtlMs } : null;
    return { token: jwt.accessToken, ttlMs, refresh };
  }
}
