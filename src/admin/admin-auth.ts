/**
 * Who is asking, on the admin surface: `Authorization: Bearer <token>` (or the console's cookie)
 * against the ops token (every connection) and each connection's admin tokens (that connection
 * only). Tokens are compared in constant time, all of them every time, so the time of an answer
 * tells nothing about which token came close; failures are rate limited per client address.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The console's session cookie: it holds the token, HttpOnly and SameSite=Strict. */
export const adminCookieName = 'cfc_admin';

/** Who a token belongs to. */
export type Principal = { kind: 'ops' } | { kind: 'studio'; connectionId: string };

interface Known {
  digest: Buffer;
  principal: Principal;
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class AdminAuth {
  readonly #known: Known[];
  readonly #failures = new Map<string, { count: number; until: number }>();
  readonly #maxFailures: number;
  readonly #windowMs: number;

  constructor(
    tokens: { opsToken: string | undefined; studioTokens: ReadonlyMap<string, readonly string[]> },
    limits: { maxFailures?: number; windowMs?: number } = {},
  ) {
    this.#known = [
      ...(tokens.opsToken ? [{ digest: digest(tokens.opsToken), principal: { kind: 'ops' } as const }] : []),
      ...[...tokens.studioTokens].flatMap(([connectionId, list]) =>
        list.map((token) => ({ digest: digest(token), principal: { kind: 'studio', connectionId } as const })),
      ),
    ];
    this.#maxFailures = limits.maxFailures ?? 10;
    this.#windowMs = limits.windowMs ?? 60_000;
  }

  /** False when no token is configured at all: the admin surface is off. */
  get enabled(): boolean {
    return this.#known.length > 0;
  }

  /** True while `client` has failed too often; its requests are refused without a check. */
  limited(client: string, now = Date.now()): boolean {
    const entry = this.#failures.get(client);
    if (!entry || entry.until <= now) return false;
    return entry.count >= this.#maxFailures;
  }

  /** The principal of a token, or null (counted as a failure of `client`). */
  authenticate(token: string | undefined, client: string, now = Date.now()): Principal | null {
    let found: Principal | null = null;
    const given = digest(token ?? '');
    for (const known of this.#known) if (timingSafeEqual(known.digest, given) && token) found ??= known.principal;
    if (found) return found;
    const entry = this.#failures.get(client);
    if (!entry || entry.until <= now) this.#failures.set(client, { count: 1, until: now + this.#windowMs });
    else entry.count += 1;
    if (this.#failures.size > 10_000) this.#forgetExpired(now);
    return null;
  }

  #forgetExpired(now: number): void {
    for (const [client, entry] of this.#failures) if (entry.until <= now) this.#failures.delete(client);
  }
}

/** Whether a principal may see a connection. */
export function maySee(principal: Principal, connectionId: string): boolean {
  return principal.kind === 'ops' || principal.connectionId === connectionId;
}
