/**
 * What `cf-ai-connector check` tests of each connection: a new Creative Force token and a new token
 * of every provider section, through the token stores the workers use (TokenStore and each provider
 * module's testCredentials), each bypassing its cache: a cached token would hide credentials
 * revoked since it was issued. No token is stored, no work is started (nothing paid).
 *
 * Creative Force token requests go through the shared Redis limiter, so a check counts against the
 * 20 requests/second of the workers' egress IP; while Redis is unreachable, through a limiter of
 * this process (no worker runs then).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Connection } from '../config/connections.ts';
import type { AppConfig } from '../config/env.ts';
import { gatewayLimiter, gatewayTokenStore, LocalRateLimiter, type RateLimiter } from '../creative-force/index.ts';
import { type ErrorCode, errorCatalogue, isConnectorError } from '../errors.ts';
import { createCredentialTests } from '../providers/index.ts';

/** The outcome of one test: ok with what was learnt, or why not and what to do. */
export interface CheckResult {
  ok: boolean;
  text: string;
}

/** One remote system of a connection, and its test. */
export interface RemoteSystemCheck {
  /** `creative-force`, or a provider id. */
  system: string;
  run(): Promise<CheckResult>;
}

/** What the checks are built from. */
export interface RemoteSystemChecksDeps {
  config: AppConfig;
  /** The check's Redis connection; with `redisReachable` false it is never used. */
  redis: Redis;
  redisReachable: boolean;
  logger: Logger;
}

/** A system's words in the hints: its name and where its settings are. */
interface System {
  label: string;
  /** What to do when it refused the credentials. */
  refused: string;
  /** Where its URL and timeout settings are documented. */
  settings: string;
}

/** Builds the token stores once; returns the checks of one connection, Creative Force first. */
export function createRemoteSystemChecks(deps: RemoteSystemChecksDeps): (connection: Connection) => RemoteSystemCheck[] {
  const { config, redis, logger } = deps;
  const limiter: RateLimiter = deps.redisReachable
    ? gatewayLimiter({ config, redis })
    : new LocalRateLimiter(config.cf.rateLimitRps);
  const tokens = gatewayTokenStore({ config, redis, limiter, logger });
  const providerTests = createCredentialTests({ configs: config.providers, redis, keyPrefix: config.queuePrefix, logger });
  return (connection) => {
    const creativeForce: System = {
      label: 'Creative Force',
      refused: `check creativeForce.clientId and clientSecret of connection "${connection.id}" in the connections file (and the variables referenced there), or ask the studio for new Registered App credentials`,
      settings: 'CF_TOKEN_URL and CF_REQUEST_TIMEOUT_MS (docs/configuration.md)',
    };
    const { clientId, clientSecret } = connection.creativeForce;
    return [
      {
        system: 'creative-force',
        run: () => outcome(creativeForce, tokens.requestToken({ id: connection.id, clientId, clientSecret })),
      },
      ...providerTests(connection.id, connection).map((test) => ({
        system: test.provider,
        run: () =>
          outcome(
            {
              label: test.label,
              refused: `check the "${test.provider}" section of connection "${connection.id}" in the connections file (and the variables referenced there)`,
              settings: `the ${test.provider.toUpperCase()}_* settings (docs/providers/${test.provider}.md)`,
            },
            test.run(),
          ),
      })),
    ];
  };
}

/** The result of a token request: ok with its lifetime, or the error's code, message and a hint. */
async function outcome(system: System, token: Promise<{ ttlMs: number }>): Promise<CheckResult> {
  try {
    const { ttlMs } = await token;
    return { ok: true, text: `ok, token valid ${Math.round(ttlMs / 1000)} s` };
  } catch (err) {
    if (!isConnectorError(err)) {
      return { ok: false, text: `${err instanceof Error ? err.message : String(err)} (an unexpected error: report it)` };
    }
    return { ok: false, text: `${err.code}: ${err.message.replace(/\.$/, '')}. To do: ${hint(err.code, system)}` };
  }
}

/** What an operator does about a failed token request. */
function hint(code: ErrorCode, system: System): string {
  switch (code) {
    case 'CF_AUTH_FAILED':
    case 'PROVIDER_AUTH_FAILED':
      return system.refused;
    case 'CF_NETWORK':
    case 'PROVIDER_NETWORK':
      return `check this host's egress and DNS towards ${system.label}, and ${system.settings}`;
    case 'CF_TIMEOUT':
    case 'PROVIDER_TIMEOUT':
      return `check this host's egress towards ${system.label}; if it is only slow, raise the timeout in ${system.settings}`;
    case 'CF_SERVER_ERROR':
    case 'PROVIDER_SERVER_ERROR':
      return `${system.label} failed on its side: check again later`;
    case 'CF_RATE_LIMITED':
    case 'PROVIDER_RATE_LIMITED':
      return `${system.label} is rate limiting this host: check again in a minute`;
    case 'CF_BAD_RESPONSE':
    case 'PROVIDER_BAD_RESPONSE':
      return `check that ${system.settings} point at ${system.label}`;
    default:
      return `${errorCatalogue[code].meaning} See docs/errors.md`;
  }
}
