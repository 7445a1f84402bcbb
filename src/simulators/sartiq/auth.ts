/**
 * Users and their access tokens (Sartiq's "Authentication" page): the OAuth2 password flow of
 * `POST /login/access-token` and the Bearer check of every other call. Tokens are HS256 JWTs
 * (`sub` = user id, `exp`), as FastAPI backends issue them, remembered in memory so tests can
 * expire them.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Reply } from '../harness/http-io.ts';
import { couldNotValidate, incorrectLogin, notAuthenticated } from './errors.ts';
import type { SartiqAccount } from './types.ts';
import { canonicalUuid, FieldReader } from './validation.ts';

/** A registered user. */
export interface Account {
  /** The user id: `owner_id` of its generations. */
  id: string;
  email: string;
  password: string;
  /** Canonical UUIDs of the organizations the user belongs to. */
  organizations: Set<string>;
}

/** The registered users, by email. */
export class Accounts {
  readonly #byEmail = new Map<string, Account>();

  /**
   * Registers a user, or updates the password of a known email and adds the organization to it.
   * Throws when `organizationId` is not a UUID (the API types `organization_id` as one).
   */
  add(account: SartiqAccount): void {
    let organization: string | undefined;
    if (account.organizationId !== undefined) {
      organization = canonicalUuid(account.organizationId);
      if (organization === undefined) throw new Error(`organizationId must be a UUID: ${account.organizationId}`);
    }
    const known = this.#byEmail.get(account.email);
    const entry = known ?? { id: randomUUID(), email: account.email, password: account.password, organizations: new Set() };
    entry.password = account.password;
    if (organization !== undefined) entry.organizations.add(organization);
    this.#byEmail.set(account.email, entry);
  }

  /** The user with this email, if any. */
  byEmail(email: string): Account | undefined {
    return this.#byEmail.get(email);
  }
}

interface IssuedToken {
  account: Account;
  expiresAt: number;
}

/** The outcome of the Bearer check: the user, or the 401 to answer. */
export type Authentication = { ok: true; account: Account } | { ok: false; reply: Reply };

/** Issues and checks access tokens. */
export class TokenStore {
  readonly #accounts: Accounts;
  readonly #ttlSeconds: number;
  readonly #signingKey = randomBytes(32);
  readonly #issued = new Map<string, IssuedToken>();

  constructor(accounts: Accounts, ttlSeconds: number) {
    this.#accounts = accounts;
    this.#ttlSeconds = ttlSeconds;
  }

  /** Expires every token issued so far; tokens issued later are valid. */
  expireAll(): void {
    for (const token of this.#issued.values()) token.expiresAt = 0;
  }

  /**
   * `POST /login/access-token`: the `OAuth2PasswordRequestForm` (`username`, `password`, optional
   * `grant_type` that must be `password`) → `{ access_token, token_type, expires_in }`.
   */
  login(contentType: string | undefined, body: Buffer, now: number): Reply {
    const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
    const form =
      type === 'application/x-www-form-urlencoded' ? Object.fromEntries(new URLSearchParams(body.toString('utf8'))) : {};
    const reader = new FieldReader(form);
    const username = reader.requiredString('username') ?? '';
    const password = reader.requiredString('password') ?? '';
    const grantType = reader.string('grant_type');
    if (grantType !== null && grantType !== 'password') reader.valueError("grant_type must be 'password'", 'grant_type');
    const problem = reader.problem();
    if (problem) return problem;
    const account = this.#accounts.byEmail(username);
    if (!account || account.password !== password) return incorrectLogin();
    const expiresAt = now + this.#ttlSeconds * 1000;
    const token = this.#sign({ sub: account.id, exp: Math.floor(expiresAt / 1000), jti: randomUUID() });
    this.#issued.set(token, { account, expiresAt });
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: this.#ttlSeconds } };
  }

  /** The user of `Authorization: Bearer <token>`, or the 401 FastAPI answers. */
  authenticate(authorization: string | undefined, now: number): Authentication {
    const [scheme, token] = (authorization ?? '').trim().split(/\s+/, 2);
    if (scheme?.toLowerCase() !== 'bearer' || !token) return { ok: false, reply: notAuthenticated() };
    const issued = this.#issued.get(token);
    if (!issued || issued.expiresAt <= now) return { ok: false, reply: couldNotValidate() };
    return { ok: true, account: issued.account };
  }

  #sign(claims: Record<string, unknown>): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
    return `${unsigned}.${createHmac('sha256', this.#signingKey).update(unsigned).digest('base64url')}`;
  }
}
