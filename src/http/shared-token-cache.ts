/**
 * A bearer token per connection, cached in Redis and shared by every process, renewed by one caller
 * at a time. The provider-specific part (how a token is obtained, which errors name a failure) is
 * the caller's: see {@link SharedTokenCache.getToken} and {@link SharedTokenErrors}.
 *
 * Redis keys per connection (`<keyPrefix>:<connection id, URI-encoded>`):
 * - `…`          hash { token, lifetimeMs } expiring with the token (Redis clock: process clocks do
 *                not matter); its PTTL is the time the token has left
 * - `…:refresh`  the refresh token, if the provider issues one, expiring with it
 * - `…:lock`     SET NX PX: the one caller that renews
 * - `…:failure`  the last failed renewal, for a few seconds, so callers waiting on it fail with the
 *                same error instead of each asking the provider again
 *
 * A token is renewed when less than min(refreshBeforeExpiryMs, refreshFraction x lifetime) is left.
 * While one caller renews, the others keep using the current token if it has not expired, and
 * otherwise wait until the new one appears (or the failure marker, or a deadline): in the process
 * that renews, until its renewal ends; in the others, polling Redis, soon at first (a token request
 * takes tens of milliseconds), then less often.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConnectorError, type ErrorCode, errorCatalogue } from '../errors.ts';
import { sleep } from '../sleep.ts';

/** A token as the provider issued it, with its expiry turned into a TTL from now. */
export interface FetchedToken {
  token: string;
  /** How long the token stays usable from now (ms, > 0): the TTL of its Redis hash. */
  ttlMs: number;
  /**
   * The token's whole lifetime (ms), from which the renewal margin is computed. Default `ttlMs`.
   * Give it when the TTL was shortened for the time the request took.
   */
  lifetimeMs?: number;
  /**
   * The refresh token to keep beside it: stored with its own TTL, or `null` to delete the one on
   * record, or `undefined` (absent) to leave the one on record as it is.
   */
  refreshToken?: { token: string; ttlMs: number } | null;
}

/** What a fetch of a new token gets to work with. */
export interface TokenRenewal {
  /** The refresh token on record for the connection, if any (see {@link FetchedToken.refreshToken}). */
  refreshToken: string | null;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
}

/**
 * Asks the provider for a new token. It runs while this caller holds the connection's lock, so at
 * most one runs per connection across every process. A ConnectorError it throws is recorded as the
 * failure marker and is what the callers waiting on this renewal throw too.
 */
export type TokenFetch = (renewal: TokenRenewal) => Promise<FetchedToken>;

/** The provider's words for what goes wrong while a token is awaited; each returns the error to throw. */
export interface SharedTokenErrors {
  /** Waiting for another caller's renewal took longer than `waitTimeoutMs`. */
  waitTimeout(connectionId: string, waitTimeoutMs: number): ConnectorError;
  /**
   * The details of the error a waiting caller rethrows from another caller's failed renewal (its
   * code, message and retryable come from the failure marker; `sharedFailure: true` is added).
   */
  sharedFailureDetails(connectionId: string): Record<string, unknown>;
  /** A failure marker that cannot be read back (not written by this module). */
  unreadableFailure(connectionId: string): ConnectorError;
}

/** Options of SharedTokenCache; only the first five are required. */
export interface SharedTokenCacheOptions {
  redis: Redis;
  /** Prefix of the Redis keys, e.g. `{cfc}:token`. */
  keyPrefix: string;
  /** Lifetime of the renewal lock: longer than a renewal can take; an expired lock lets another caller take over. */
  lockTtlMs: number;
  /** Where a failed early renewal is reported (at warn, with `connectionId`, `code` and `remainingMs`). */
  logger: Logger;
  errors: SharedTokenErrors;
  /** Log message when an early renewal failed and the current token, still valid, is returned instead. */
  keptTokenMessage?: string;
  /** Renew when less than this is left (capped by refreshFraction of the lifetime). Default 300 000. */
  refreshBeforeExpiryMs?: number;
  /** Renew when less than this fraction of the lifetime is left, if smaller. Default 0.1. */
  refreshFraction?: number;
  /** How long a caller waits for another caller's renewal before `errors.waitTimeout`. Default 2 x lockTtlMs. */
  waitTimeoutMs?: number;
  /**
   * Longest poll interval while waiting for another process's renewal (jittered ±50 %); the first
   * wait is a tenth of it, each next one twice the last. Default 100.
   */
  pollIntervalMs?: number;
  /** How long a failed renewal is reported to the callers that waited on it. Default 5000. */
  failureTtlMs?: number;
}

/** Deletes a key only if it still holds the given value (lock release). KEYS: key. ARGV: value. */
const deleteIfValueScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Deletes the token hash only if it still holds the given token. KEYS: key. ARGV: token. */
const deleteIfTokenScript = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface Keys {
  token: string;
  refresh: string;
  lock: string;
  failure: string;
}

interface CachedToken {
  token: string;
  lifetimeMs: number;
  remainingMs: number;
}

interface CacheState {
  cached: CachedToken | null;
  refreshToken: string | null;
  /** The raw failure marker, if a renewal failed in the last few seconds. */
  failure: string | null;
}

interface FailureMarker {
  /** Makes each failure's marker distinct, so a waiter can tell a new failure from an old one. */
  id: string;
  code: ErrorCode;
  /** The error's own message; what the remote system said is kept apart, as in the error. */
  message: string;
  remoteText?: string;
  retryable: boolean;
}

/** Resolves when `settled` does, or after `ms`; rejects with the signal's reason when it aborts. */
function untilSettled(settled: Promise<void>, ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const finish = (end: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      end();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    const timer = setTimeout(() => finish(resolve), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    void settled.then(() => finish(resolve));
  });
}

/** The Redis-backed, cross-process token cache described at the top of this file. */
export class SharedTokenCache {
  readonly #redis: Redis;
  readonly #keyPrefix: string;
  readonly #logger: Logger;
  readonly #errors: SharedTokenErrors;
  readonly #keptTokenMessage: string;
  readonly #refreshBeforeExpiryMs: number;
  readonly #refreshFraction: number;
  readonly #lockTtlMs: number;
  readonly #waitTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #failureTtlMs: number;
  /** The renewals this cache runs now, by token key: settled (never rejected) when each ends. */
  readonly #renewing = new Map<string, Promise<void>>();

  constructor(options: SharedTokenCacheOptions) {
    this.#redis = options.redis;
    this.#keyPrefix = options.keyPrefix;
    this.#logger = options.logger;
    this.#errors = options.errors;
    this.#keptTokenMessage =
      options.keptTokenMessage ?? 'early token renewal failed; the current token is still valid and stays in use';
    this.#refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 300_000;
    this.#refreshFraction = options.refreshFraction ?? 0.1;
    this.#lockTtlMs = options.lockTtlMs;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 2 * this.#lockTtlMs;
    this.#pollIntervalMs = options.pollIntervalMs ?? 100;
    this.#failureTtlMs = options.failureTtlMs ?? 5000;
  }

  /**
   * A token of the connection, valid now: the cached one while it is outside its renewal margin,
   * else a new one from `fetch` (run by this caller if it gets the lock, else awaited from the caller
   * that holds it).
   *
   * - When an early renewal fails with a ConnectorError, the current token, still valid, is returned.
   * - When a renewal this caller waited on failed, its error is thrown (rebuilt from the marker).
   * - A renewal that failed moments ago is not retried while the current token still works: the next
   *   attempt waits for the failure marker to expire.
   *
   * @throws the `errors.waitTimeout` error when no token appeared within `waitTimeoutMs`; the
   *   signal's reason when it aborts; whatever `fetch` throws when this caller renewed.
   */
  async getToken(connectionId: string, fetch: TokenFetch, signal?: AbortSignal): Promise<string> {
    const keys = this.#keys(connectionId);
    const deadline = performance.now() + this.#waitTimeoutMs;
    // The failure marker present when this caller started: only a newer one is about its wait.
    let failureAtStart: string | null | undefined;
    let pollMs = this.#pollIntervalMs / 10;
    for (;;) {
      signal?.throwIfAborted();
      let state = await this.#read(keys);
      failureAtStart = failureAtStart === undefined ? state.failure : failureAtStart;
      const ready = this.#settled(state, failureAtStart, connectionId);
      if (ready !== undefined) return ready;

      const lock = randomUUID();
      if ((await this.#redis.set(keys.lock, lock, 'PX', this.#lockTtlMs, 'NX')) === 'OK') {
        const ours = Promise.withResolvers<void>();
        this.#renewing.set(keys.token, ours.promise);
        try {
          // Read again under the lock: a renewal may have ended (token or failure written, lock
          // released) between the read above and this lock.
          state = await this.#read(keys);
          return this.#settled(state, failureAtStart, connectionId) ?? (await this.#renew(keys, state, fetch, signal));
        } catch (err) {
          const { cached } = state;
          if (!(cached && err instanceof ConnectorError)) throw err;
          this.#logger.warn({ connectionId, code: err.code, remainingMs: cached.remainingMs }, this.#keptTokenMessage);
          return cached.token;
        } finally {
          this.#renewing.delete(keys.token);
          ours.resolve();
          await this.#redis.eval(deleteIfValueScript, 1, keys.lock, lock);
        }
      }
      // Another caller is renewing: the current token still works until it expires.
      if (state.cached) return state.cached.token;
      const remainingMs = deadline - performance.now();
      if (remainingMs < 0) throw this.#errors.waitTimeout(connectionId, this.#waitTimeoutMs);
      // A renewal of this process ends here (its token or failure marker then in Redis, read
      // above on the next turn); one of another process is polled for.
      const renewal = this.#renewing.get(keys.token);
      if (renewal) await untilSettled(renewal, remainingMs, signal);
      else {
        await sleep(pollMs * (0.5 + Math.random()), signal);
        pollMs = Math.min(2 * pollMs, this.#pollIntervalMs);
      }
    }
  }

  /** Drops the cached token after the provider refused it (401), unless another caller already replaced it. */
  async invalidate(connectionId: string, token: string): Promise<void> {
    await this.#redis.eval(deleteIfTokenScript, 1, this.#keys(connectionId).token, token);
  }

  /**
   * The token to use without renewing, if any; throws the error of a renewal that failed after this
   * caller started waiting. While a recent failure is on record, a still-valid token is used as is.
   */
  #settled(state: CacheState, failureAtStart: string | null, connectionId: string): string | undefined {
    const { cached, failure } = state;
    if (cached && (cached.remainingMs > this.#renewMarginMs(cached.lifetimeMs) || failure !== null)) return cached.token;
    if (failure !== null && failure !== failureAtStart) throw this.#sharedFailure(failure, connectionId);
    return undefined;
  }

  #keys(connectionId: string): Keys {
    const base = `${this.#keyPrefix}:${encodeURIComponent(connectionId)}`;
    return { token: base, refresh: `${base}:refresh`, lock: `${base}:lock`, failure: `${base}:failure` };
  }

  #renewMarginMs(lifetimeMs: number): number {
    return Math.min(this.#refreshBeforeExpiryMs, lifetimeMs * this.#refreshFraction);
  }

  async #read(keys: Keys): Promise<CacheState> {
    const results = await this.#redis
      .multi()
      .hmget(keys.token, 'token', 'lifetimeMs')
      .pttl(keys.token)
      .get(keys.refresh)
      .get(keys.failure)
      .exec();
    if (!results) throw new Error('Redis MULTI of the token read was aborted');
    for (const [err] of results) if (err) throw err;
    const [[, fields], [, remainingMs], [, refreshToken], [, failure]] = results as [
      [null, [string | null, string | null]],
      [null, number],
      [null, string | null],
      [null, string | null],
    ];
    const [token, lifetime] = fields;
    const cached = token && lifetime && remainingMs > 0 ? { token, lifetimeMs: Number(lifetime), remainingMs } : null;
    return { cached, refreshToken, failure };
  }

  /** Runs `fetch` and stores its token; records a ConnectorError it throws as the failure marker. */
  async #renew(keys: Keys, state: CacheState, fetch: TokenFetch, signal: AbortSignal | undefined): Promise<string> {
    try {
      const fetched = await fetch({ refreshToken: state.refreshToken, signal });
      const write = this.#redis
        .multi()
        .del(keys.token)
        .hset(keys.token, { token: fetched.token, lifetimeMs: fetched.lifetimeMs ?? fetched.ttlMs })
        .pexpire(keys.token, Math.max(1, Math.floor(fetched.ttlMs)))
        .del(keys.failure);
      if (fetched.refreshToken) write.set(keys.refresh, fetched.refreshToken.token, 'PX', fetched.refreshToken.ttlMs);
      else if (fetched.refreshToken === null) write.del(keys.refresh);
      const results = await write.exec();
      for (const [err] of results ?? []) if (err) throw err;
      return fetched.token;
    } catch (err) {
      if (err instanceof ConnectorError) {
        const marker: FailureMarker = {
          id: randomUUID(),
          code: err.code,
          message: err.ownMessage,
          ...(err.remoteText === undefined ? {} : { remoteText: err.remoteText }),
          retryable: err.retryable,
        };
        await this.#redis.set(keys.failure, JSON.stringify(marker), 'PX', this.#failureTtlMs);
      }
      throw err;
    }
  }

  /** Rebuilds, for a waiting caller, the error of the renewal it waited on. */
  #sharedFailure(raw: string, connectionId: string): ConnectorError {
    try {
      const marker = JSON.parse(raw) as FailureMarker;
      if (Object.hasOwn(errorCatalogue, marker.code)) {
        return new ConnectorError(marker.code, marker.message, {
          remoteText: marker.remoteText,
          retryable: marker.retryable,
          details: { ...this.#errors.sharedFailureDetails(connectionId), sharedFailure: true },
        });
      }
    } catch {
      // Not ours: fall through to a generic error.
    }
    return this.#errors.unreadableFailure(connectionId);
  }
}
