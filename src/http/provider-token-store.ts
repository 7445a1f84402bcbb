/**
 * The wiring every AI provider's token store shares, provider-neutral: the common options, the
 * PROVIDER_* errors of waiting callers, and the SharedTokenCache built from them. Each provider
 * adds how a token is obtained (its endpoint, body and answer).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { ConnectorError, type ErrorCode } from '../errors.ts';
import type { ProviderErrors, ProviderExchange, ProviderResponse } from './provider-errors.ts';
import { requestText } from './provider-request.ts';
import { sharedDispatcher } from './shared-agent.ts';
import { type FetchedToken, SharedTokenCache, type SharedTokenErrors } from './shared-token-cache.ts';

/** Options of a provider's token store; only the first three are required. */
export interface ProviderTokenStoreOptions<C extends { requestTimeoutMs: number }> {
  redis: Redis;
  /** The provider's configuration (`requestTimeoutMs` and the token endpoint's settings are used). */
  config: C;
  logger: Logger;
  /** Default: the process's shared undici Agent. */
  dispatcher?: Dispatcher;
  /** Prefix of the Redis keys; each store has its own default, e.g. `{cfc}:sartiq-token`. */
  keyPrefix?: string;
  /** Renew when less than this is left (capped by the store's fraction of the lifetime). Default 300 000. */
  refreshBeforeExpiryMs?: number;
  /** Lifetime of the renewal lock. Default (per store) requestTimeoutMs + 30 000 or more. */
  lockTtlMs?: number;
  /** How long a caller waits for another caller's renewal before PROVIDER_TIMEOUT. Default 2 x lockTtlMs. */
  waitTimeoutMs?: number;
  /** Poll interval while waiting for another caller's renewal. Default 100. */
  pollIntervalMs?: number;
  /** How long a failed renewal is reported to the callers that waited on it. Default 5000. */
  failureTtlMs?: number;
}

/** The words of a provider's token errors. */
export interface TokenWords {
  /** `details.provider`. */
  provider: string;
  /** What is awaited, e.g. `Sartiq access token`. */
  token: string;
  /** What another caller is doing, e.g. `login`. */
  otherRenewal: string;
  /** What failed, e.g. `Sartiq login`. */
  renewal: string;
}

/** How a store's waiting callers fail (PROVIDER_* codes, `details.provider`). */
export function providerTokenErrors(words: TokenWords): SharedTokenErrors {
  const { provider } = words;
  return {
    waitTimeout: (connectionId, waitTimeoutMs) =>
      new ConnectorError(
        'PROVIDER_TIMEOUT',
        `no ${words.token} for connection ${connectionId} after waiting ${waitTimeoutMs} ms for another ${words.otherRenewal}`,
        { details: { provider, connectionId } },
      ),
    sharedFailureDetails: (connectionId) => ({ provider, connectionId }),
    unreadableFailure: (connectionId) =>
      new ConnectorError('PROVIDER_NETWORK', `${words.renewal} of connection ${connectionId} failed`, {
        details: { provider, connectionId },
      }),
  };
}

/** A store's fixed choices. */
export interface ProviderTokenStoreSpec extends TokenWords {
  /** Default of `keyPrefix`. */
  keyPrefix: string;
  /** Default of `lockTtlMs`. */
  lockTtlMs: number;
  /** Renew when less than this fraction of the lifetime is left, if smaller than refreshBeforeExpiryMs. */
  refreshFraction: number;
  /** Log message when an early renewal failed and the current token stays in use. */
  keptTokenMessage: string;
}

/** What a store works with: the cache, its logger (child with `provider`) and dispatcher. */
export interface ProviderTokenStoreParts {
  cache: SharedTokenCache;
  logger: Logger;
  dispatcher: Dispatcher;
}

/** Builds a store's SharedTokenCache, logger and dispatcher from its options and fixed choices. */
export function providerTokenStore<C extends { requestTimeoutMs: number }>(
  options: ProviderTokenStoreOptions<C>,
  spec: ProviderTokenStoreSpec,
): ProviderTokenStoreParts {
  const logger = options.logger.child({ provider: spec.provider });
  const lockTtlMs = options.lockTtlMs ?? spec.lockTtlMs;
  const cache = new SharedTokenCache({
    redis: options.redis,
    keyPrefix: options.keyPrefix ?? spec.keyPrefix,
    lockTtlMs,
    logger,
    errors: providerTokenErrors(spec),
    keptTokenMessage: spec.keptTokenMessage,
    refreshBeforeExpiryMs: options.refreshBeforeExpiryMs ?? 300_000,
    refreshFraction: spec.refreshFraction,
    waitTimeoutMs: options.waitTimeoutMs ?? 2 * lockTtlMs,
    pollIntervalMs: options.pollIntervalMs ?? 100,
    failureTtlMs: options.failureTtlMs ?? 5000,
  });
  return { cache, logger, dispatcher: options.dispatcher ?? sharedDispatcher() };
}

/** An OAuth2 token request with a form body (password or client-credentials grant). */
export interface FormTokenRequest {
  url: string;
  /** The request as it may appear in messages and logs. */
  exchange: ProviderExchange;
  /** The form fields, e.g. `grant_type`, the account's name and secret. */
  form: Record<string, string>;
  /** The secret of the form, redacted (as is and URL-encoded) from what an error shows. */
  secret: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
  /** The store's logger of the connection. */
  logger: Logger;
  errors: Pick<ProviderErrors, 'transportError' | 'readJson' | 'parseShape'>;
  /** The provider's statusError, bound to the logger and exchange. */
  statusError(response: ProviderResponse, options: { secrets: readonly string[]; code?: ErrorCode }): ConnectorError;
  /** The 2xx answer: `{ access_token, expires_in? }`. */
  schema: z.ZodType<{ access_token: string; expires_in?: number | null }>;
  /** The lifetime when the answer has no `expires_in` (s). */
  defaultLifetimeS: number;
  /** Logged at info with `expiresInS` when the token was obtained. */
  obtainedMessage: string;
}

/**
 * POSTs a token form and turns its answer into a FetchedToken (no refresh token). Any 4xx but 408
 * and 429 means the credential was refused: PROVIDER_AUTH_FAILED.
 */
export async function fetchFormToken(spec: FormTokenRequest): Promise<FetchedToken> {
  const started = performance.now();
  const { exchange, errors } = spec;
  const response = await requestText({
    url: spec.url,
    method: 'POST',
    exchange,
    dispatcher: spec.dispatcher,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(spec.form).toString(),
    timeoutMs: spec.timeoutMs,
    signal: spec.signal,
    transportError: errors.transportError,
  });
  const { status } = response;
  if (status < 200 || status >= 300) {
    const refused = status >= 400 && status < 500 && status !== 429 && status !== 408;
    const secrets = [spec.secret, encodeURIComponent(spec.secret)];
    throw spec.statusError(response, { secrets, code: refused ? 'PROVIDER_AUTH_FAILED' : undefined });
  }
  const body = errors.parseShape(spec.schema, exchange, status, errors.readJson(exchange, status, response.text));
  const expiresInS = body.expires_in ?? spec.defaultLifetimeS;
  const lifetimeMs = expiresInS * 1000;
  // The token's life began before its answer arrived: the time the request took counts against it.
  const ttlMs = Math.max(1, Math.floor(lifetimeMs - (performance.now() - started)));
  spec.logger.info({ expiresInS }, spec.obtainedMessage);
  return { token: body.access_token, ttlMs, lifetimeMs };
}
