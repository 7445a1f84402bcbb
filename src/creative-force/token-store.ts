/**
 * OAuth client-credentials tokens per connection, cached in Redis and shared by every process.
 *
 * The caching, the one-refresh-at-a-time lock, the waiting and the shared failure marker are
 * SharedTokenCache's (src/http/shared-token-cache.ts, which describes the Redis keys); this file
 * adds the token request (through the shared rate limiter) and the CF_* errors.
 *
 * A token is refreshed when less than min(refreshBeforeExpiryMs, refreshFraction x lifetime) is
 * left. While one caller refreshes, the others keep using the current token if it has not expired,
 * and otherwise poll until the new one appears (or the failure marker, or a deadline).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { ConnectorError } from '../errors.ts';
import { type FetchedToken, SharedTokenCache, type SharedTokenErrors } from '../http/shared-token-cache.ts';
import { gatewayScope } from './contract.ts';
import {
  type CreativeForceMetrics,
  type HttpExchange,
  parseErrorBody,
  parseResponse,
  sendThroughLimiter,
  sharedDispatcher,
  statusError,
} from './http.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { tokenResponseSchema } from './schemas.ts';

/** The OAuth credentials of one studio connection. */
export interface ConnectionCredentials {
  /** Our id of the connection; names it in errors, logs and Redis keys. */
  id: string;
  clientId: string;
  clientSecret: string;
}

/** What the gateway client needs from a token source; TokenStore is the production one. */
export interface TokenProvider {
  /** A bearer token of the connection, valid now. */
  getToken(connection: ConnectionCredentials, signal?: AbortSignal): Promise<string>;
  /** Drops the cached token after CF refused it (401), unless another caller already replaced it. */
  invalidate(connectionId: string, token: string): Promise<void>;
}

/** Options of TokenStore; only the first five are required. */
export interface TokenStoreOptions {
  redis: Redis;
  /** Token requests count against the same per-IP limit as gateway calls. */
  limiter: RateLimiter;
  /** Config `cf.tokenUrl`. */
  tokenUrl: string;
  /** Whole-request deadline of a token request (config `cf.requestTimeoutMs`). */
  requestTimeoutMs: number;
  logger: Logger;
  /** Default: the shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Default `{cfc}:token`. */
  keyPrefix?: string;
  /** Refresh when less than this is left (capped by refreshFraction of the lifetime). Default 300 000. */
  refreshBeforeExpiryMs?: number;
  /** Refresh when less than this fraction of the lifetime is left, if smaller. Default 0.1. */
  refreshFraction?: number;
  /** Lifetime of the refresh lock; an expired lock lets another caller take over. Default requestTimeoutMs + 30 000. */
  lockTtlMs?: number;
  /** How long a caller waits for another caller's refresh before CF_TIMEOUT. Default 2 x lockTtlMs. */
  waitTimeoutMs?: number;
  /** Poll interval while waiting for another caller's refresh. Default 100. */
  pollIntervalMs?: number;
  /** How long a failed refresh is reported to the callers that waited on it. Default 5000. */
  failureTtlMs?: number;
  /** 429 answers of the token endpoint retried after the limiter's pause. Default 5. */
  maxRateLimitRetries?: number;
  /** Counts the token requests (operation `token`) and the limiter's waits. */
  metrics?: CreativeForceMetrics;
}

/** OAuth errors of the token endpoint that mean the connection's credentials or app setup are wrong. */
const credentialErrors = new Set(['invalid_client', 'unauthorized_client', 'invalid_scope']);

/** How this store's waiting callers fail (CF_* codes). */
const tokenErrors: SharedTokenErrors = {
  waitTimeout: (connectionId, waitTimeoutMs) =>
    new ConnectorError(
      'CF_TIMEOUT',
      `no access token for connection ${connectionId} after waiting ${waitTimeoutMs} ms for another refresh`,
      { details: { connectionId } },
    ),
  sharedFailureDetails: (connectionId) => ({ connectionId }),
  unreadableFailure: (connectionId) =>
    new ConnectorError('CF_NETWORK', `token refresh of connection ${connectionId} failed`, { details: { connectionId } }),
};

/** The Redis-backed TokenProvider described at the top of this file. */
export class TokenStore implements TokenProvider {
  readonly #cache: SharedTokenCache;
  readonly #limiter: RateLimiter;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;
  readonly #tokenUrl: string;
  readonly #tokenPath: string;
  readonly #timeoutMs: number;
  readonly #maxRateLimitRetries: number;
  readonly #metrics: CreativeForceMetrics | undefined;

  constructor(options: TokenStoreOptions) {
    this.#limiter = options.limiter;
    this.#logger = options.logger;
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    this.#tokenUrl = options.tokenUrl;
    this.#tokenPath = new URL(options.tokenUrl).pathname;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#maxRateLimitRetries = options.maxRateLimitRetries ?? 5;
    this.#metrics = options.metrics;
    const lockTtlMs = options.lockTtlMs ?? this.#timeoutMs + 30_000;
    this.#cache = new SharedTokenCache({
      redis: options.redis,
      keyPrefix: options.keyPrefix ?? '{cfc}:token',
      lockTtlMs,
      logger: options.logger,
      errors: tokenErrors,
      keptTokenMessage: 'early token refresh failed; the current token is still valid and stays in use',
      refreshBeforeExpiryMs: options.refreshBeforeExpiryMs ?? 300_000,
      refreshFraction: options.refreshFraction ?? 0.1,
      waitTimeoutMs: options.waitTimeoutMs ?? 2 * lockTtlMs,
      pollIntervalMs: options.pollIntervalMs ?? 100,
      failureTtlMs: options.failureTtlMs ?? 5000,
    });
  }

  getToken(connection: ConnectionCredentials, signal?: AbortSignal): Promise<string> {
    return this.#cache.getToken(connection.id, () => this.#request(connection, signal), signal);
  }

  invalidate(connectionId: string, token: string): Promise<void> {
    return this.#cache.invalidate(connectionId, token);
  }

  /**
   * Asks the token endpoint for a new token now, bypassing the cache (which it leaves as it is):
   * what `cf-ai-connector check` runs, to test the credentials themselves, not a cached token.
   */
  requestToken(connection: ConnectionCredentials, signal?: AbortSignal): Promise<FetchedToken> {
    return this.#request(connection, signal);
  }

  /** Asks the token endpoint for a new token (client credentials grant), through the limiter. */
  async #request(connection: ConnectionCredentials, signal: AbortSignal | undefined): Promise<FetchedToken> {
    const started = performance.now();
    const exchange: HttpExchange = {
      operation: 'token',
      method: 'POST',
      url: this.#tokenUrl,
      logPath: this.#tokenPath,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: connection.clientId,
        client_secret: connection.clientSecret,
        scope: gatewayScope,
      }).toString(),
    };
    const logger = this.#logger.child({ connectionId: connection.id });
    const deps = {
      dispatcher: this.#dispatcher,
      limiter: this.#limiter,
      logger,
      timeoutMs: this.#timeoutMs,
      maxRateLimitRetries: this.#maxRateLimitRetries,
      metrics: this.#metrics,
    };
    const response = await sendThroughLimiter(deps, exchange, signal);
    const subject = `Creative Force token request of connection ${connection.id}`;
    // The request body carries the secret: an error body may echo it.
    const secrets = [connection.clientSecret];
    if (response.status === 400 || response.status === 401) {
      const { oauthError } = parseErrorBody(response.text);
      if (oauthError !== undefined && credentialErrors.has(oauthError)) {
        throw statusError(logger, exchange, response, { secrets, code: 'CF_AUTH_FAILED', subject });
      }
    }
    if (response.status < 200 || response.status >= 300) throw statusError(logger, exchange, response, { secrets, subject });
    const body = parseResponse(tokenResponseSchema, exchange, response);
    const lifetimeMs = body.expires_in * 1000;
    // The token's life began before its response arrived: everything since the request was
    // prepared (limiter wait included) counts against it, which errs on the safe side.
    const ttlMs = Math.max(1, Math.floor(lifetimeMs - (performance.now() - started)));
    logger.info({ expiresInS: body.expires_in }, 'Creative Force access token obtained');
    return { token: body.access_token, ttlMs, lifetimeMs };
  }
}
