/**
 * Adobe IMS access tokens per Firefly connection, cached in Redis and shared by every process.
 *
 * The Workflow Builder API uses OAuth Server-to-Server credentials (providers.md §3.2): `POST
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
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { ConnectorError } from '../../errors.ts';
import { sharedDispatcher } from '../../http/shared-agent.ts';
import { type FetchedToken, SharedTokenCache, type SharedTokenErrors } from '../../http/shared-token-cache.ts';
import { urlForMessages } from '../../media/download.ts';
import type { FireflyConfig } from './config.ts';
import {
  type FireflyExchange,
  type FireflyResponse,
  fireflyProvider,
  parseShape,
  readJson,
  statusError,
  transportError,
} from './errors.ts';
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

/** Options of FireflyTokenStore; only the first three are required. */
export interface FireflyTokenStoreOptions {
  redis: Redis;
  /** `imsTokenUrl`, `scope` and `requestTimeoutMs` are used. */
  config: FireflyConfig;
  logger: Logger;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Default `{cfc}:firefly-token`. */
  keyPrefix?: string;
  /** Renew when less than this is left (capped by refreshFraction of the lifetime). Default 300 000. */
  refreshBeforeExpiryMs?: number;
  /** Renew when less than this fraction of the lifetime is left, if smaller. Default 0.1. */
  refreshFraction?: number;
  /** Lifetime of the renewal lock. Default requestTimeoutMs + 30 000. */
  lockTtlMs?: number;
  /** How long a caller waits for another caller's renewal before PROVIDER_TIMEOUT. Default 2 x lockTtlMs. */
  waitTimeoutMs?: number;
  /** Poll interval while waiting for another caller's renewal. Default 100. */
  pollIntervalMs?: number;
  /** How long a failed renewal is reported to the callers that waited on it. Default 5000. */
  failureTtlMs?: number;
}

/** How this store's waiting callers fail (PROVIDER_* codes, `details.provider`). */
const tokenErrors: SharedTokenErrors = {
  waitTimeout: (connectionId, waitTimeoutMs) =>
    new ConnectorError(
      'PROVIDER_TIMEOUT',
      `no Adobe IMS access token for connection ${connectionId} after waiting ${waitTimeoutMs} ms for another request`,
      { details: { provider: fireflyProvider, connectionId } },
    ),
  sharedFailureDetails: (connectionId) => ({ provider: fireflyProvider, connectionId }),
  unreadableFailure: (connectionId) =>
    new ConnectorError('PROVIDER_NETWORK', `Adobe IMS token request of connection ${connectionId} failed`, {
      details: { provider: fireflyProvider, connectionId },
    }),
};

/** The Redis-backed FireflyTokenProvider described at the top of this file. */
export class FireflyTokenStore implements FireflyTokenProvider {
  readonly #cache: SharedTokenCache;
  readonly #config: FireflyConfig;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;

  constructor(options: FireflyTokenStoreOptions) {
    this.#config = options.config;
    this.#logger = options.logger.child({ provider: fireflyProvider });
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    const lockTtlMs = options.lockTtlMs ?? options.config.requestTimeoutMs + 30_000;
    this.#cache = new SharedTokenCache({
      redis: options.redis,
      keyPrefix: options.keyPrefix ?? '{cfc}:firefly-token',
      lockTtlMs,
      logger: this.#logger,
      errors: tokenErrors,
      keptTokenMessage: 'early Adobe IMS token renewal failed; the current token is still valid and stays in use',
      refreshBeforeExpiryMs: options.refreshBeforeExpiryMs ?? 300_000,
      refreshFraction: options.refreshFraction ?? 0.1,
      waitTimeoutMs: options.waitTimeoutMs ?? 2 * lockTtlMs,
      pollIntervalMs: options.pollIntervalMs ?? 100,
      failureTtlMs: options.failureTtlMs ?? 5000,
    });
  }

  getToken(connection: FireflyTokenConnection, signal?: AbortSignal): Promise<string> {
    return this.#cache.getToken(connection.id, (renewal) => this.#fetchToken(connection, renewal.signal), signal);
  }

  invalidate(connectionId: string, token: string): Promise<void> {
    return this.#cache.invalidate(connectionId, token);
  }

  /**
   * Asks IMS for a token with the client-credentials grant. Any 4xx but 408 and 429 (e.g. 400
   * `invalid_client`, `invalid_scope`, 401) means the credential was refused: PROVIDER_AUTH_FAILED.
   */
  async #fetchToken(connection: FireflyTokenConnection, signal: AbortSignal | undefined): Promise<FetchedToken> {
    const started = performance.now();
    const tokenUrl = this.#config.imsTokenUrl;
    const exchange: FireflyExchange = { method: 'POST', path: urlForMessages(tokenUrl) };
    const logger = this.#logger.child({ connectionId: connection.id });
    const timeoutMs = this.#config.requestTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: connection.clientId,
      client_secret: connection.clientSecret,
      scope: this.#config.scope,
    });
    let response: FireflyResponse;
    try {
      const answer = await request(tokenUrl, {
        method: 'POST',
        dispatcher: this.#dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
      });
      response = { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
    } catch (err) {
      throw transportError(err, { exchange, timeoutMs, deadline, callerSignal: signal });
    }
    const { status } = response;
    if (status < 200 || status >= 300) {
      const refused = status >= 400 && status < 500 && status !== 429 && status !== 408;
      const secrets = [connection.clientSecret, encodeURIComponent(connection.clientSecret)];
      throw statusError(logger, exchange, response, {
        secrets,
        code: refused ? 'PROVIDER_AUTH_FAILED' : undefined,
        service: 'Adobe IMS',
      });
    }
    const body = parseShape(imsTokenResponseSchema, exchange, status, readJson(exchange, status, response.text));
    const expiresInS = body.expires_in ?? fireflyDefaultTokenLifetimeS;
    const lifetimeMs = expiresInS * 1000;
    // The token's life began before its answer arrived: the time the request took counts against it.
    const ttlMs = Math.max(1, Math.floor(lifetimeMs - (performance.now() - started)));
    logger.info({ expiresInS }, 'Adobe IMS access token obtained');
    return { token: body.access_token, ttlMs, lifetimeMs };
  }
}
