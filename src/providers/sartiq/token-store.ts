/**
 * Sartiq access tokens per connection, cached in Redis and shared by every process.
 *
 * Sartiq's Backend API uses the OAuth2 password flow (providers.md §2.2): `POST /login/access-token`
 * with the account's email and password answers a bearer token valid one hour (`expires_in`
 * 3600), and no refresh token: renewing means logging in again.
 *
 * The caching, the one-login-at-a-time lock, the waiting and the shared failure marker are
 * SharedTokenCache's (src/http/shared-token-cache.ts, which describes the Redis keys); this file
 * adds the login request and the PROVIDER_* errors. A token is renewed when less than
 * min(refreshBeforeExpiryMs, refreshFraction x lifetime) is left (by default 5 minutes of the
 * hour). Passwords and tokens are never logged.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { ConnectorError } from '../../errors.ts';
import { sharedDispatcher } from '../../http/shared-agent.ts';
import { type FetchedToken, SharedTokenCache, type SharedTokenErrors } from '../../http/shared-token-cache.ts';
import { type SartiqConfig, sartiqPaths } from './config.ts';
import {
  parseShape,
  readJson,
  type SartiqExchange,
  type SartiqResponse,
  sartiqProvider,
  statusError,
  transportError,
} from './errors.ts';
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

/** Options of SartiqTokenStore; only the first three are required. */
export interface SartiqTokenStoreOptions {
  redis: Redis;
  /** `baseUrl` and `requestTimeoutMs` are used. */
  config: SartiqConfig;
  logger: Logger;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Default `{cfc}:sartiq-token`. */
  keyPrefix?: string;
  /** Renew when less than this is left (capped by refreshFraction of the lifetime). Default 300 000. */
  refreshBeforeExpiryMs?: number;
  /** Renew when less than this fraction of the lifetime is left, if smaller. Default 0.1. */
  refreshFraction?: number;
  /** Lifetime of the login lock. Default requestTimeoutMs + 30 000. */
  lockTtlMs?: number;
  /** How long a caller waits for another caller's login before PROVIDER_TIMEOUT. Default 2 x lockTtlMs. */
  waitTimeoutMs?: number;
  /** Poll interval while waiting for another caller's login. Default 100. */
  pollIntervalMs?: number;
  /** How long a failed login is reported to the callers that waited on it. Default 5000. */
  failureTtlMs?: number;
}

/** The token lifetime Sartiq documents, used when a login answer has no `expires_in`. */
export const sartiqDefaultTokenLifetimeS = 3600;

/** How this store's waiting callers fail (PROVIDER_* codes, `details.provider`). */
const tokenErrors: SharedTokenErrors = {
  waitTimeout: (connectionId, waitTimeoutMs) =>
    new ConnectorError(
      'PROVIDER_TIMEOUT',
      `no Sartiq access token for connection ${connectionId} after waiting ${waitTimeoutMs} ms for another login`,
      { details: { provider: sartiqProvider, connectionId } },
    ),
  sharedFailureDetails: (connectionId) => ({ provider: sartiqProvider, connectionId }),
  unreadableFailure: (connectionId) =>
    new ConnectorError('PROVIDER_NETWORK', `Sartiq login of connection ${connectionId} failed`, {
      details: { provider: sartiqProvider, connectionId },
    }),
};

/** The Redis-backed SartiqTokenProvider described at the top of this file. */
export class SartiqTokenStore implements SartiqTokenProvider {
  readonly #cache: SharedTokenCache;
  readonly #config: SartiqConfig;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;

  constructor(options: SartiqTokenStoreOptions) {
    this.#config = options.config;
    this.#logger = options.logger.child({ provider: sartiqProvider });
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    const lockTtlMs = options.lockTtlMs ?? options.config.requestTimeoutMs + 30_000;
    this.#cache = new SharedTokenCache({
      redis: options.redis,
      keyPrefix: options.keyPrefix ?? '{cfc}:sartiq-token',
      lockTtlMs,
      logger: this.#logger,
      errors: tokenErrors,
      keptTokenMessage: 'early Sartiq login failed; the current token is still valid and stays in use',
      refreshBeforeExpiryMs: options.refreshBeforeExpiryMs ?? 300_000,
      refreshFraction: options.refreshFraction ?? 0.1,
      waitTimeoutMs: options.waitTimeoutMs ?? 2 * lockTtlMs,
      pollIntervalMs: options.pollIntervalMs ?? 100,
      failureTtlMs: options.failureTtlMs ?? 5000,
    });
  }

  getToken(connection: SartiqTokenConnection, signal?: AbortSignal): Promise<string> {
    return this.#cache.getToken(connection.id, (renewal) => this.#login(connection, renewal.signal), signal);
  }

  invalidate(connectionId: string, token: string): Promise<void> {
    return this.#cache.invalidate(connectionId, token);
  }

  /**
   * Logs in with the password grant. Any 4xx but 429 (401 "Incorrect email or password", or the 400
   * FastAPI templates answer) means the account was refused: PROVIDER_AUTH_FAILED.
   */
  async #login(connection: SartiqTokenConnection, signal: AbortSignal | undefined): Promise<FetchedToken> {
    const started = performance.now();
    const path = sartiqPaths.login;
    const exchange: SartiqExchange = { method: 'POST', path };
    const logger = this.#logger.child({ connectionId: connection.id });
    const timeoutMs = this.#config.requestTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const form = new URLSearchParams({ username: connection.email, password: connection.password, grant_type: 'password' });
    let response: SartiqResponse;
    try {
      const answer = await request(`${this.#config.baseUrl}${path}`, {
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
      const secrets = [connection.password, encodeURIComponent(connection.password)];
      throw statusError(logger, exchange, response, { secrets, code: refused ? 'PROVIDER_AUTH_FAILED' : undefined });
    }
    const body = parseShape(loginResponseSchema, exchange, status, readJson(exchange, status, response.text));
    const expiresInS = body.expires_in ?? sartiqDefaultTokenLifetimeS;
    const lifetimeMs = expiresInS * 1000;
    // The token's life began before its answer arrived: the time the login took counts against it.
    const ttlMs = Math.max(1, Math.floor(lifetimeMs - (performance.now() - started)));
    logger.info({ expiresInS }, 'Sartiq access token obtained');
    return { token: body.access_token, ttlMs, lifetimeMs };
  }
}
