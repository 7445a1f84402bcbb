/**
 * Which paid work of a connection already belongs to a start: the id a start's answer gave, or that
 * a lost start adopted, kept in Redis for a week under the token of its start (paid-start.ts). A
 * lost start adopts only work no other start claims, so a task whose answer was lost never takes
 * another task's generation (started meanwhile on the same account) for its own. Shared by every
 * process through Redis.
 */
import type { Redis } from 'ioredis';

/** How long a claim is kept: longer than any job waits between two attempts. */
const claimTtlMs = 7 * 24 * 3600_000;

export interface StartClaimsOptions {
  redis: Redis;
  /** Key prefix of the claims (under the service's QUEUE_PREFIX). */
  keyPrefix: string;
}

/** The claims of paid work, by scope (a provider and a connection) and id. */
export class StartClaims {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: StartClaimsOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
  }

  /** Claims `id` for the start `token`; true when it is now, or already was, that start's. */
  async claim(scope: string, id: string, token: string): Promise<boolean> {
    const key = this.#key(scope, id);
    if ((await this.#redis.set(key, token, 'PX', claimTtlMs, 'NX')) === 'OK') return true;
    return (await this.#redis.get(key)) === token;
  }

  /** The ids among `ids` that a start other than `token` claims. */
  async claimedByOthers(scope: string, ids: readonly string[], token: string): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const owners = await this.#redis.mget(...ids.map((id) => this.#key(scope, id)));
    return new Set(ids.filter((_, i) => owners[i] != null && owners[i] !== token));
  }

  #key(scope: string, id: string): string {
    return `${this.#prefix}:${scope}:${id.toLowerCase()}`;
  }
}
