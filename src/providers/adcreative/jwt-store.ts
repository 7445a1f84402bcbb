/**
 * AdCreative.ai JWTs per connection, cached in Redis and shared by every process (the model is
 * src/creative-force/token-store.ts).
 *
 * Redis keys per connection (`<prefix>:<connection id>`):
 * - `…`          hash { token, lifetimeMs } expiring with the access token; its PTTL is the time left
 * - `…:refresh`  the refresh token, expiring with it
 * - `…:lock`     SET NX PX: the one caller that renews
 * - `…:failure`  the last failed renewal, for a few seconds, so callers waiting on it fail with the
 *                same error instead of each asking AdCreative again
 *
 * AdCreative sends absolute expiries on its own clock; they are turned into TTLs against the
 * answer's Date header, so neither our hosts' clocks nor Redis's matter.
 *
 * A JWT is renewed when less than min(refreshBeforeExpiryMs, half its lifetime) is left: with
 * RefreshJwtToken while Redis still holds a refresh token, else (or when that fails) with a new
 * GenerateJwtToken. While one caller renews, the others keep using the current JWT if it has not
 * expired, and otherwise poll until the new one appears (or the failure marker, or a deadline).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { ConnectorError, type ErrorCode, errorCatalogue } from '../../errors.ts';
import { sharedDispatcher } from '../../http/shared-agent.ts';
import type { AdCreativeConfig } from './config.ts';
import {
  type AdCreativeExchange,
  type AdCreativeResponse,
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

/** Options of AdCreativeJwtStore; only the first three are required. */
export interface AdCreativeJwtStoreOptions {
  redis: Redis;
  /** `baseUrl`, `paths.generateJwt`, `paths.refreshJwt` and `requestTimeoutMs` are used. */
  config: AdCreativeConfig;
  logger: Logger;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Default `{cfc}:adc-jwt`. */
  keyPrefix?: string;
  /** Renew when less than this is left (capped at half the lifetime). Default 300 000. */
  refreshBeforeExpiryMs?: number;
  /** Lifetime of the renewal lock (a refresh and a generate may both run). Default 2 x requestTimeoutMs + 30 000. */
  lockTtlMs?: number;
  /** How long a caller waits for another caller's renewal before PROVIDER_TIMEOUT. Default 2 x lockTtlMs. */
  waitTimeoutMs?: number;
  /** Poll interval while waiting for another caller's renewal. Default 100. */
  pollIntervalMs?: number;
  /** How long a failed renewal is reported to the callers that waited on it. Default 5000. */
  failureTtlMs?: number;
}

/** Deletes a key only if it still holds the given value (lock release). KEYS: key. ARGV: value. */
const deleteIfValueScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Deletes the JWT hash only if it still holds the given token. KEYS: key. ARGV: token. */
const deleteIfTokenScript = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface Keys {
  access: string;
  refresh: string;
  lock: string;
  failure: string;
}

interface JwtState {
  access: { token: string; lifetimeMs: number; remainingMs: number } | null;
  refreshToken: string | null;
  /** The raw failure marker, if a renewal failed in the last few seconds. */
  failure: string | null;
}

/** A JWT as issued, with expiries turned into TTLs. */
interface IssuedJwt {
  token: string;
  ttlMs: number;
  refresh: { token: string; ttlMs: number } | null;
}

interface FailureMarker {
  /** Makes each failure's marker distinct, so a waiter can tell a new failure from an old one. */
  id: string;
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

/** The Redis-backed AdCreativeJwtProvider described at the top of this file. */
export class AdCreativeJwtStore implements AdCreativeJwtProvider {
  readonly #redis: Redis;
  readonly #config: AdCreativeConfig;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;
  readonly #keyPrefix: string;
  readonly #refreshBeforeExpiryMs: number;
  readonly #lockTtlMs: number;
  readonly #waitTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #failureTtlMs: number;

  constructor(options: AdCreativeJwtStoreOptions) {
    this.#redis = options.redis;
    this.#config = options.config;
    this.#logger = options.logger.child({ provider: adCreativeProvider });
    this.#dispatcher = options.dispatcher ?? sharedDispatcher();
    this.#keyPrefix = options.keyPrefix ?? '{cfc}:adc-jwt';
    this.#refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 300_000;
    this.#lockTtlMs = options.lockTtlMs ?? 2 * options.config.requestTimeoutMs + 30_000;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 2 * this.#lockTtlMs;
    this.#pollIntervalMs = options.pollIntervalMs ?? 100;
    this.#failureTtlMs = options.failureTtlMs ?? 5000;
  }

  async getToken(connection: AdCreativeJwtConnection, signal?: AbortSignal): Promise<string> {
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
          // Read again under the lock: a renewal may have ended between the read above and this lock.
          state = await this.#read(keys);
          return this.#settled(state, failureAtStart, connection.id) ?? (await this.#renew(connection, keys, state, signal));
        } catch (err) {
          const { access } = state;
          if (!(access && err instanceof ConnectorError)) throw err;
          this.#logger.warn(
            { connectionId: connection.id, code: err.code, remainingMs: access.remainingMs },
            'early AdCreative JWT renewal failed; the current JWT is still valid and stays in use',
          );
          return access.token;
        } finally {
          await this.#redis.eval(deleteIfValueScript, 1, keys.lock, lock);
        }
      }
      // Another caller is renewing: the current JWT still works until it expires.
      if (state.access) return state.access.token;
      if (performance.now() > deadline) {
        throw new ConnectorError(
          'PROVIDER_TIMEOUT',
          `no AdCreative JWT for connection ${connection.id} after waiting ${this.#waitTimeoutMs} ms for another renewal`,
          { details: { provider: adCreativeProvider, connectionId: connection.id } },
        );
      }
      await pause(this.#pollIntervalMs * (0.5 + Math.random()), signal);
    }
  }

  async invalidate(connectionId: string, token: string): Promise<void> {
    await this.#redis.eval(deleteIfTokenScript, 1, this.#keys(connectionId).access, token);
  }

  /**
   * The JWT to use without renewing, if any; throws the error of a renewal that failed after this
   * caller started waiting. While a recent failure is on record, a still-valid JWT is used as is.
   */
  #settled(state: JwtState, failureAtStart: string | null, connectionId: string): string | undefined {
    const { access, failure } = state;
    if (access && (access.remainingMs > this.#renewMarginMs(access.lifetimeMs) || failure !== null)) return access.token;
    if (failure !== null && failure !== failureAtStart) throw failedRenewalError(failure, connectionId);
    return undefined;
  }

  #keys(connectionId: string): Keys {
    const base = `${this.#keyPrefix}:${encodeURIComponent(connectionId)}`;
    return { access: base, refresh: `${base}:refresh`, lock: `${base}:lock`, failure: `${base}:failure` };
  }

  #renewMarginMs(lifetimeMs: number): number {
    return Math.min(this.#refreshBeforeExpiryMs, lifetimeMs / 2);
  }

  async #read(keys: Keys): Promise<JwtState> {
    const results = await this.#redis
      .multi()
      .hmget(keys.access, 'token', 'lifetimeMs')
      .pttl(keys.access)
      .get(keys.refresh)
      .get(keys.failure)
      .exec();
    if (!results) throw new Error('Redis MULTI of the AdCreative JWT read was aborted');
    for (const [err] of results) if (err) throw err;
    const [[, fields], [, remainingMs], [, refreshToken], [, failure]] = results as [
      [null, [string | null, string | null]],
      [null, number],
      [null, string | null],
      [null, string | null],
    ];
    const [token, lifetime] = fields;
    const access = token && lifetime && remainingMs > 0 ? { token, lifetimeMs: Number(lifetime), remainingMs } : null;
    return { access, refreshToken, failure };
  }

  /** Renews by refresh token when there is one, else (or when that fails) by a new JWT; stores the result. */
  async #renew(
    connection: AdCreativeJwtConnection,
    keys: Keys,
    state: JwtState,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const logger = this.#logger.child({ connectionId: connection.id });
    const credentials = { applicationId: connection.applicationId, jwtPrivateKey: connection.jwtPrivateKey };
    try {
      let issued: IssuedJwt | undefined;
      if (state.refreshToken !== null) {
        const body = { ...credentials, refreshToken: state.refreshToken };
        try {
          issued = await this.#issue(logger, this.#config.paths.refreshJwt, body, signal);
        } catch (err) {
          if (!(err instanceof ConnectorError)) throw err;
          logger.warn({ code: err.code }, 'AdCreative JWT refresh failed; requesting a new JWT');
        }
      }
      const refreshed = issued !== undefined;
      issued ??= await this.#issue(logger, this.#config.paths.generateJwt, credentials, signal);

      const write = this.#redis
        .multi()
        .del(keys.access)
        .hset(keys.access, { token: issued.token, lifetimeMs: issued.ttlMs })
        .pexpire(keys.access, issued.ttlMs)
        .del(keys.failure);
      // A refresh that does not rotate the refresh token leaves the current one in place.
      if (issued.refresh) write.set(keys.refresh, issued.refresh.token, 'PX', issued.refresh.ttlMs);
      else if (!refreshed) write.del(keys.refresh);
      const results = await write.exec();
      for (const [err] of results ?? []) if (err) throw err;
      logger.info({ refreshed, expiresInS: Math.round(issued.ttlMs / 1000) }, 'AdCreative JWT obtained');
      return issued.token;
    } catch (err) {
      if (err instanceof ConnectorError) {
        const marker: FailureMarker = { id: randomUUID(), code: err.code, message: err.message, retryable: err.retryable };
        await this.#redis.set(keys.failure, JSON.stringify(marker), 'PX', this.#failureTtlMs);
      }
      throw err;
    }
  }

  /** POSTs to a JWT endpoint. A 4xx other than 429 means the credentials (or refresh token) were refused. */
  async #issue(logger: Logger, path: string, body: Record<string, string>, signal: AbortSignal | undefined): Promise<IssuedJwt> {
    const exchange: AdCreativeExchange = { method: 'POST', path };
    const timeoutMs = this.#config.requestTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    let response: AdCreativeResponse;
    try {
      const answer = await request(`${this.#config.baseUrl}${path}`, {
        method: 'POST',
        dispatcher: this.#dispatcher,
        headers: { 'content-type': 'application/json; x-api-version=1.0', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
      });
      response = { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
    } catch (err) {
      throw transportError(err, { exchange, timeoutMs, deadline, callerSignal: signal });
    }
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

/** Waits `ms`; rejects with the signal's own reason when it aborts. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  }
}

/** Rebuilds, for a waiting caller, the error of the renewal it waited on. */
function failedRenewalError(raw: string, connectionId: string): ConnectorError {
  const details = { provider: adCreativeProvider, connectionId };
  try {
    const marker = JSON.parse(raw) as FailureMarker;
    if (Object.hasOwn(errorCatalogue, marker.code)) {
      return new ConnectorError(marker.code, marker.message, {
        retryable: marker.retryable,
        details: { ...details, sharedFailure: true },
      });
    }
  } catch {
    // Not ours: fall through to a generic error.
  }
  return new ConnectorError('PROVIDER_NETWORK', `AdCreative JWT renewal of connection ${connectionId} failed`, { details });
}
