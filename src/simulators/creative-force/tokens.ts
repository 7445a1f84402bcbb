/**
 * The OAuth token endpoint (`POST /connect/token`, client credentials, as Creative Force's API
 * documentation describes it) and the bearer check of the gateway. Tokens are opaque random
 * strings held in memory.
 */
import { randomBytes } from 'node:crypto';
import { gatewayScope } from '../../creative-force/contract.ts';
import type { Reply } from '../harness/http-io.ts';

interface IssuedToken {
  clientId: string;
  expiresAt: number;
}

/** Registered apps and the tokens issued to them. */
export class TokenStore {
  readonly #apps = new Map<string, string>();
  readonly #tokens = new Map<string, IssuedToken>();
  ttlSeconds: number;

  constructor(ttlSeconds: number) {
    this.ttlSeconds = ttlSeconds;
  }

  addApp(clientId: string, clientSecret: string): void {
    this.#apps.set(clientId, clientSecret);
  }

  /** Makes every issued token invalid (the next gateway call answers 401). */
  expireAll(): void {
    this.#tokens.clear();
  }

  /** True when `authorization` is `Bearer <token>` with a known, unexpired token. */
  isAuthorized(authorization: string | undefined, now: number): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const token = match?.[1] ? this.#tokens.get(match[1]) : undefined;
    return token !== undefined && token.expiresAt > now;
  }

  /** Handles a token request body (already read) the way IdentityServer answers it. */
  handleTokenRequest(
    method: string,
    contentType: string | undefined,
    authorization: string | undefined,
    body: Buffer,
    now: number,
  ): Reply {
    const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
    if (method !== 'POST') return { status: 405, headers: { allow: 'POST' } };
    const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      return { status: 400, headers: noStore, body: { error: 'invalid_request' } };
    const form = new URLSearchParams(body.toString('utf8'));
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (basic?.[1]) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    const expected = clientId ? this.#apps.get(clientId) : undefined;
    if (!clientId || expected === undefined || expected !== clientSecret) {
      return { status: 400, headers: noStore, body: { error: 'invalid_client' } };
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return { status: 400, headers: noStore, body: { error: 'unsupported_grant_type' } };
    }
    const scope = form.get('scope');
    if (scope?.split(' ').some((s) => s !== '' && s !== gatewayScope)) {
      return { status: 400, headers: noStore, body: { error: 'invalid_scope' } };
    }
    const accessToken = randomBytes(32).toString('base64url');
    this.#tokens.set(accessToken, { clientId, expiresAt: now + this.ttlSeconds * 1000 });
    return {
      status: 200,
      headers: noStore,
      body: { access_token: accessToken, expires_in: this.ttlSeconds, token_type: 'Bearer', scope: gatewayScope },
    };
  }
}
