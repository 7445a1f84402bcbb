/**
 * Adobe IMS as the Workflow API uses it (Adobe's getting-started pages): the OAuth Server-to-Server token
 * call `POST /ims/token/v3` (form `grant_type=client_credentials`, `client_id`, `client_secret`,
 * `scope`) and the four headers every API call must carry: `Authorization: Bearer`, `x-api-key`
 * (= client ID), `x-gw-ims-org-id` and `x-gw-ims-user-id` of the token's credential.
 *
 * IMS's exact error statuses and texts are not in the Workflow API docs; this simulator answers 400
 * `unsupported_grant_type` / `invalid_request` / `invalid_scope`, 400 `invalid_client` for an
 * unknown client ID and 401 `invalid_client` for a wrong secret. Which scopes IMS requires is not
 * documented either (only the list to send): the simulator requires the ones it is given, by
 * default the whole documented list.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Reply } from '../harness/http-io.ts';
import { imsError, notOrgMember, unauthorized } from './errors.ts';
import type { FireflyCredential } from './types.ts';

/** Path of the token call, as on `https://ims-na1.adobelogin.com`. */
export const imsTokenPath = '/ims/token/v3';

interface IssuedToken {
  credential: FireflyCredential;
  expiresAt: number;
}

/** The outcome of the header check: the caller's credential, or the 401/403 to answer. */
export type FireflyAuthentication = { ok: true; credential: FireflyCredential } | { ok: false; reply: Reply };

/** Registered credentials and the tokens issued to them. */
export class ImsTokens {
  readonly #ttlSeconds: number;
  readonly #requiredScopes: readonly string[];
  readonly #signingKey = randomBytes(32);
  readonly #credentials = new Map<string, FireflyCredential>();
  readonly #issued = new Map<string, IssuedToken>();

  /** `requiredScopes`: the scopes a token request must ask for (it may ask for more). */
  constructor(ttlSeconds: number, requiredScopes: readonly string[]) {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new Error('tokenTtlSeconds must be a positive number');
    this.#ttlSeconds = ttlSeconds;
    this.#requiredScopes = [...requiredScopes];
  }

  /** Registers a credential, or replaces the one with the same client ID (tokens issued before keep the old identity). */
  add(credential: FireflyCredential): void {
    for (const [field, value] of Object.entries(credential)) {
      if (typeof value !== 'string' || value === '') throw new Error(`credential ${field} must be a non-empty string`);
    }
    this.#credentials.set(credential.clientId, { ...credential });
  }

  /** Expires every token issued so far; tokens issued later are valid. */
  expireAll(): void {
    for (const token of this.#issued.values()) token.expiresAt = 0;
  }

  /** `POST /ims/token/v3` with its raw body. */
  issue(contentType: string | undefined, body: Buffer, now: number): Reply {
    const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      return imsError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(body.toString('utf8'));
    const grantType = form.get('grant_type');
    if (grantType === null || grantType === '') return imsError(400, 'invalid_request', 'missing grant_type parameter');
    if (grantType !== 'client_credentials') return imsError(400, 'unsupported_grant_type', `unsupported grant_type ${grantType}`);
    const clientId = form.get('client_id');
    if (!clientId) return imsError(400, 'invalid_request', 'missing client_id parameter');
    const credential = this.#credentials.get(clientId);
    if (!credential) return imsError(400, 'invalid_client', 'invalid client_id parameter');
    if (form.get('client_secret') !== credential.clientSecret) {
      return imsError(401, 'invalid_client', 'invalid client_secret parameter');
    }
    const scopes = new Set(
      (form.get('scope') ?? '')
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const missing = this.#requiredScopes.filter((scope) => !scopes.has(scope));
    if (missing.length > 0) return imsError(400, 'invalid_scope', `invalid scope: missing ${missing.join(', ')}`);
    const token = this.#sign({
      type: 'access_token',
      client_id: clientId,
      user_id: credential.userId,
      org: credential.orgId,
      scope: [...scopes].join(','),
      created_at: String(now),
      expires_in: String(this.#ttlSeconds * 1000),
      id: randomUUID(),
    });
    this.#issued.set(token, { credential, expiresAt: now + this.#ttlSeconds * 1000 });
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: this.#ttlSeconds } };
  }

  /**
   * The four-header check of an API call. 401 (documented body) when the Bearer token is missing,
   * unknown or expired, or when `x-api-key`, `x-gw-ims-user-id` or `x-gw-ims-org-id` is missing, or
   * the key or user is not the token's; 403 (documented reason) when `x-gw-ims-org-id` names
   * another org than the token's. Which status Adobe answers for a missing or mismatched key or
   * user header is not documented; this simulator's choice.
   */
  authenticate(headers: IncomingHttpHeaders, now: number): FireflyAuthentication {
    const [scheme, token] = (headers.authorization ?? '').trim().split(/\s+/, 2);
    if (scheme?.toLowerCase() !== 'bearer' || !token) return { ok: false, reply: unauthorized() };
    const issued = this.#issued.get(token);
    if (!issued || issued.expiresAt <= now) return { ok: false, reply: unauthorized() };
    const { credential } = issued;
    if (single(headers['x-api-key']) !== credential.clientId) return { ok: false, reply: unauthorized() };
    if (single(headers['x-gw-ims-user-id']) !== credential.userId) return { ok: false, reply: unauthorized() };
    const orgId = single(headers['x-gw-ims-org-id']);
    if (!orgId) return { ok: false, reply: unauthorized() };
    if (orgId !== credential.orgId) return { ok: false, reply: notOrgMember() };
    return { ok: true, credential };
  }

  /** An IMS-looking JWT (`eyJ…`); clients must treat it as opaque. */
  #sign(claims: Record<string, string>): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'RS256', typ: 'JWT', x5u: 'ims-key-1.cer' })}.${encode(claims)}`;
    return `${unsigned}.${createHmac('sha256', this.#signingKey).update(unsigned).digest('base64url')}`;
  }
}

/** A header's value when sent once (trimmed), else `undefined`. */
export function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value.trim() : undefined;
}
