/**
 * The two Authorization endpoints (AdCreative's "Authentication" page) and the check every other call passes:
 * `Authorization: Bearer <accessToken>` plus the application's `x-api-key` and `x-api-secret`.
 * Tokens are HS256 JWTs carrying the ApplicationId, remembered in memory.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Reply } from '../harness/http-io.ts';
import type { Applications, RegisteredApplication } from './applications.ts';
import { unsupportedMediaType, validationError } from './error-bodies.ts';

/** Refresh tokens outlive access tokens by this much (the documented example shows exactly 7 days). */
const refreshTokenExtraMs = 7 * 24 * 3600 * 1000;

interface IssuedToken {
  applicationId: string;
  expiresAt: number;
}

/** Issues and checks access and refresh tokens. */
export class TokenStore {
  readonly #applications: Applications;
  readonly #accessTtlMs: number;
  readonly #signingKey = randomBytes(32);
  readonly #access = new Map<string, IssuedToken>();
  readonly #refresh = new Map<string, IssuedToken>();

  constructor(applications: Applications, accessTtlMs: number) {
    this.#applications = applications;
    this.#accessTtlMs = accessTtlMs;
  }

  /** Expires every access token issued so far; refresh tokens stay valid. */
  expireAccessTokens(): void {
    for (const token of this.#access.values()) token.expiresAt = 0;
  }

  /**
   * The application id of an authenticated request: a known, unexpired Bearer token and the
   * `x-api-key` / `x-api-secret` of the token's application; `undefined` otherwise.
   */
  authenticate(headers: IncomingHttpHeaders, now: number): string | undefined {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
    const token = bearer === undefined ? undefined : this.#access.get(bearer);
    if (!token || token.expiresAt <= now) return undefined;
    const application = this.#applications.get(token.applicationId);
    if (!application) return undefined;
    if (headers['x-api-key'] !== application.apiKey || headers['x-api-secret'] !== application.apiSecret) return undefined;
    return application.applicationId;
  }

  /** `POST GenerateJwtToken`: `{applicationId, jwtPrivateKey}` → access and refresh tokens. */
  generate(contentType: string | undefined, body: Buffer, now: number): Reply {
    const request = readJson(contentType, body);
    if (!request.ok) return request.reply;
    const application = this.#checkCredentials(request.value);
    if (!application.ok) return application.reply;
    const access = this.#issueAccess(application.value, now);
    const refreshToken = randomBytes(48).toString('base64url');
    const refreshExpiresAt = access.expiresAt + refreshTokenExtraMs;
    this.#refresh.set(refreshToken, { applicationId: application.value.applicationId, expiresAt: refreshExpiresAt });
    return {
      status: 200,
      body: {
        $id: '1',
        applicationId: application.value.applicationId,
        accessToken: access.token,
        accessTokenExpiration: new Date(access.expiresAt).toISOString(),
        refreshToken,
        refreshTokenExpiration: new Date(refreshExpiresAt).toISOString(),
      },
    };
  }

  /** `POST RefreshJwtToken`: `{applicationId, jwtPrivateKey, refreshToken}` → a new access token. */
  refresh(contentType: string | undefined, body: Buffer, now: number): Reply {
    const request = readJson(contentType, body);
    if (!request.ok) return request.reply;
    const application = this.#checkCredentials(request.value, ['refreshToken']);
    if (!application.ok) return application.reply;
    const refresh = this.#refresh.get(String(request.value.refreshToken));
    if (!refresh || refresh.expiresAt <= now || refresh.applicationId !== application.value.applicationId) {
      return validationError({ refreshToken: ['The refresh token is invalid or expired.'] });
    }
    const access = this.#issueAccess(application.value, now);
    return {
      status: 200,
      body: {
        applicationId: application.value.applicationId,
        accessToken: access.token,
        accessTokenExpiration: new Date(access.expiresAt).toISOString(),
      },
    };
  }

  #checkCredentials(request: Record<string, unknown>, extra: string[] = []): Checked<RegisteredApplication> {
    const errors: Record<string, string[]> = {};
    for (const field of ['applicationId', 'jwtPrivateKey', ...extra]) {
      const value = request[field];
      if (typeof value !== 'string' || value.trim() === '') errors[field] = [`The ${field} field is required.`];
    }
    if (Object.keys(errors).length > 0) return { ok: false, reply: validationError(errors) };
    const application = this.#applications.get(String(request.applicationId));
    if (!application || application.jwtPrivateKey !== request.jwtPrivateKey) {
      return { ok: false, reply: validationError({ jwtPrivateKey: ['The applicationId or jwtPrivateKey is invalid.'] }) };
    }
    return { ok: true, value: application };
  }

  #issueAccess(application: RegisteredApplication, now: number): { token: string; expiresAt: number } {
    const expiresAt = now + this.#accessTtlMs;
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
      ApplicationId: application.applicationId,
      jti: randomUUID(),
      iat: Math.floor(now / 1000),
      exp: Math.floor(expiresAt / 1000),
    })}`;
    const token = `${unsigned}.${createHmac('sha256', this.#signingKey).update(unsigned).digest('base64url')}`;
    this.#access.set(token, { applicationId: application.applicationId, expiresAt });
    return { token, expiresAt };
  }
}

/** A value, or the error reply that refuses the request. */
type Checked<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/** A JSON object body (`application/json`, possibly with `x-api-version=1.0`), or the error reply. */
function readJson(contentType: string | undefined, body: Buffer): Checked<Record<string, unknown>> {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !type.endsWith('+json')) return { ok: false, reply: unsupportedMediaType() };
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { ok: false, reply: validationError({ $: [`The JSON value could not be converted: ${(err as Error).message}`] }) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reply: validationError({ $: ['A JSON object is required.'] }) };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
