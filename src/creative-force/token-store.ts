/**
 * OAuth client-credentials tokens per connection, cached in Redis and shared by every process.
 *
 * Redis keys per connection (`<prefix>:<connection id>`):
 * - `…`         hash { token, lifetimeMs } expiring with the token (Redis clock: process clocks do
 *               not matter); its PTTL is the time the token has left
 * - `…:lock`    SET NX PX: the one caller that requests a new token
 * - `…:failure` the last failed refresh, for a few seconds, so callers waiting on that refresh fail
 *               with the same error instead of each asking CF again
 *
 * A token is refreshed when less than min(refreshBeforeExpiryMs, refreshFraction x lifetime) is
 * left. While one caller refreshes, the others keep using the current token if it has not expired,
 * and otherwise poll until the new one appears (or the failure marker, or a deadline).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { ConnectorError, type ErrorCode, errorCatalogue } from '../errors.ts';
import { gatewayScope } from './contract.ts';
import { type HttpExchange, parseErrorBody, parseResponse, sendThroughLimiter, sharedDispatcher, statusError } from './http.ts';
import { defineScript, delay, runScript } from './internal.ts';
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
}

/** Deletes a key only if it still holds the given value (lock release). KEYS: key. ARGV: value. */
const deleteIfValueScript = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Deletes the token hash only if it still holds the given token. KEYS: key. ARGV: token. */
const deleteIfTokenScript = defineScript(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** OAuth errors of the token endpoint that mean the connection's credentials or app setup are wrong. */
const credentialErrors = new Set(['invalid_client', 'unauthorized_client', 'invalid_scope']);

interface CachedToken {
  token: string;
  lifetimeMs: number;
  remainingMs: number;
}

interface TokenState {
  cached: CachedToken | null;
  /** The raw failure marker, if a refresh failed in the last few seconds. */
  failure: string | null;
}

interface FailureMarker {
  /** Makes each failure's marker distinct, so a waiter can tell a new failure from an old one. */
  id: string;
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

/** The Redis-backed TokenProvider described at the top of this file. */
export class TokenStore implements TokenProvider {
  readonly #redis: Redis;
  readonly #limiter: RateLimiter;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;
  readonly #tokenUrl: string;
  readonly #tokenPath: string;
  readonly #timeoutMs: number;
  readonly #keyPrefix: string;
  readonly #refreshBeforeExpiryMs: number;
  readonly #refreshFraction: number;
  readonly #lockTtlMs: number;
  readonly #waitTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #failureTtlMs: number;
  readonly #maxRateLimitRetries: number;

  constructor(options: TokenStoreOptions) {
    this.#redis = options.redis;
    this.#limiter = options.limiter;
    this.#logger = options.logger;
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    this.#tokenUrl = options.tokenUrl;
    this.#tokenPath = new URL(options.tokenUrl).pathname;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#keyPrefix = options.keyPrefix ?? '{cfc}:token';
    this.#refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 300_000;
    this.#refreshFraction = options.refreshFraction ?? 0.1;
    this.#lockTtlMs = options.lockTtlMs ?? this.#timeoutMs + 30_000;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 2 * this.#lockTtlMs;
    this.#pollIntervalMs = options.pollIntervalMs ?? 100;
    this.#failureTtlMs = options.failureTtlMs ?? 5000;
    this.#maxRateLimitRetries = options.maxRateLimitRetries ?? 5;
  }

  async getToken(connection: ConnectionCredentials, signal?: AbortSignal): Promise<string> {
    const keys = this.#keys(connection.id);
    const deadline = performance.now() + this.#waitTimeoutMs;
    // The failure marker present when this caller started: only a newer one is about its wait.
    let failureAtStart: string | null | undefined;
    for (;;) {
      signal?.throwIfAborted();
      let state = await this.#read(keys);
      failureAtStart = failureAtStart === undefined ? state.failure : failureAtStart;
      const ready = this.#settled(state, failureAtStart, connection.id);
      if (ready !== undefined) return ready;

      const lock = randomUUID();
      if ((await this.#redis.set(keys.lock, lock, 'PX', this.#lockTtlMs, 'NX')) === 'OK') {
        try {
          // Read again under the lock: a refresh may have ended (token or failure written, lock
          // released) between the read above and this lock.
          state = await this.#read(keys);
          return this.#settled(state, failureAtStart, connection.id) ?? (await this.#refresh(connection, keys, signal));
        } catch (err) {
          const { cached } = state;
          if (!(cached && err instanceof ConnectorError)) throw err;
          this.#logger.warn(
            { connectionId: connection.id, code: err.code, remainingMs: cached.remainingMs },
            'early token refresh failed; the current token is still valid and stays in use',
          );
          return cached.token;
        } finally {
          await runScript(this.#redis, deleteIfValueScript, [keys.lock], [lock]);
        }
      }
      // Another caller is refreshing: the current token still works until it expires.
      if (state.cached) return state.cached.token;
      if (performance.now() > deadline) {
        throw new ConnectorError(
          'CF_TIMEOUT',
          `no access token for connection ${connection.id} after waiting ${this.#waitTimeoutMs} ms for another refresh`,
          { details: { connectionId: connection.id } },
        );
      }
      await delay(this.#pollIntervalMs * (0.5 + Math.random()), signal);
    }
  }

  /**
   * The token to use without refreshing, if any; throws the error of a refresh that failed after
   * this caller started waiting. A refresh that failed moments ago is not retried by every call
   * while the current token still works: the next attempt waits for the failure marker to expire.
   */
  #settled(state: TokenState, failureAtStart: string | null, connectionId: string): string | undefined {
    const { cached, failure } = state;
    if (cached && (cached.remainingMs > this.#refreshMarginMs(cached.lifetimeMs) || failure !== null)) return cached.token;
    if (failure !== null && failure !== failureAtStart) throw failedRefreshError(failure, connectionId);
    return undefined;
  }

  async invalidate(connectionId: string, token: string): Promise<void> {
    await runScript(this.#redis, deleteIfTokenScript, [this.#keys(connectionId).token], [token]);
  }

  #keys(connectionId: string) {
    const base = `${this.#keyPrefix}:${encodeURIComponent(connectionId)}`;
    return { token: base, lock: `${base}:lock`, failure: `${base}:failure` };
  }

  #refreshMarginMs(lifetimeMs: number): number {
    return Math.min(this.#refreshBeforeExpiryMs, lifetimeMs * this.#refreshFraction);
  }

  async #read(keys: { token: string; failure: string }): Promise<TokenState> {
    const results = await this.#redis.multi().hmget(keys.token, 'token', 'lifetimeMs').pttl(keys.token).get(keys.failure).exec();
    if (!results) throw new Error('Redis MULTI of the token read was aborted');
    for (const [err] of results) if (err) throw err;
    const [[, fields], [, remainingMs], [, failure]] = results as [
      [null, [string | null, string | null]],
      [null, number],
      [null, string | null],
    ];
    const [token, lifetime] = fields;
    const cached = token && lifetime && remainingMs > 0 ? { token, lifetimeMs: Number(lifetime), remainingMs } : null;
    return { cached, failure };
  }

  async #refresh(
    connection: ConnectionCredentials,
    keys: { token: string; failure: string },
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const started = performance.now();
    const exchange: HttpExchange = {
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
    try {
      const deps = {
        dispatcher: this.#dispatcher,
        limiter: this.#limiter,
        logger,
        timeoutMs: this.#timeoutMs,
        maxRateLimitRetries: this.#maxRateLimitRetries,
      };
      const response = await sendThroughLimiter(deps, exchange, signal);
      const subject = `Creative Force token request of connection ${connection.id}`;
      if (response.status === 400 || response.status === 401) {
        const { oauthError } = parseErrorBody(response.text);
        if (oauthError !== undefined && credentialErrors.has(oauthError)) {
          throw statusError(logger, exchange, response, 'CF_AUTH_FAILED', subject);
        }
      }
      if (response.status < 200 || response.status >= 300) throw statusError(logger, exchange, response, undefined, subject);
      const body = parseResponse(tokenResponseSchema, exchange, response);
      const lifetimeMs = body.expires_in * 1000;
      // The token's life began before its response arrived: everything since the request was
      // prepared (limiter wait included) counts against it, which errs on the safe side.
      const ttlMs = Math.max(1, Math.floor(lifetimeMs - (performance.now() - started)));
      const results = await this.#redis
        .multi()
        .del(keys.token)
        .hset(keys.token, { token: body.access_token, lifetimeMs })
        .pexpire(keys.token, ttlMs)
        .del(keys.failure)
        .exec();
      for (const [err] of results ?? []) if (err) throw err;
      logger.info({ expiresInS: body.expires_in }, 'Creative Force access token obtained');
      return body.access_token;
    } catch (err) {
      if (err instanceof ConnectorError) {
        const marker: FailureMarker = { id: randomUUID(), code: err.code, message: err.message, retryable: err.retryable };
        await this.#redis.set(keys.failure, JSON.stringify(marker), 'PX', this.#failureTtlMs);
      }
      throw err;
    }
  }
}

/** Rebuilds, for a waiting caller, the error of the refresh it waited on. */
function failedRefreshError(raw: string, connectionId: string): ConnectorError {
  try {
    const marker = JSON.parse(raw) as FailureMarker;
    if (marker.code in errorCatalogue) {
      return new ConnectorError(marker.code, marker.message, {
        retryable: marker.retryable,
        details: { connectionId, sharedFailure: true },
      });
    }
  } catch {
    // Not ours: fall through to a generic error.
  }
  return new ConnectorError('CF_NETWORK', `token refresh of connection ${connectionId} failed`, { details: { connectionId } });
}
