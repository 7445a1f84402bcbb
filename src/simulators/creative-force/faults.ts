/**
 * Creative Force specific fault injection for tests: a forced 429 period (`forceRateLimit`) and
 * held Submit Output requests (`holdSubmissions`). One-off answers (`failNext`) use the shared
 * `FaultQueue` of ../harness/fault-queue.ts.
 */
import type { SubmissionHold } from './types.ts';

/** A period during which every token and gateway request is answered 429. */
export class ForcedRateLimit {
  #until = 0;
  #retryAfterSeconds: number | null = 1;

  force(durationMs: number, retryAfterSeconds: number | null, now: number): void {
    this.#until = now + durationMs;
    this.#retryAfterSeconds = retryAfterSeconds;
  }

  /** The Retry-After value to send (`null` for none), or `undefined` when not forced at `now`. */
  active(now: number): { retryAfterSeconds: number | null } | undefined {
    return now < this.#until ? { retryAfterSeconds: this.#retryAfterSeconds } : undefined;
  }
}

interface PendingHold {
  claimed: boolean;
  arrive: (taskProcessId: string) => void;
  released: Promise<void>;
  release: () => void;
}

/** Holds for the next Submit Output requests, claimed in the order they were created. */
export class SubmissionHolds {
  readonly #holds: PendingHold[] = [];

  create(): SubmissionHold {
    let arrive: (taskProcessId: string) => void = () => {};
    let release: () => void = () => {};
    const arrived = new Promise<string>((resolve) => {
      arrive = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#holds.push({ claimed: false, arrive, released, release });
    return { arrived, release };
  }

  /** Claims the oldest unclaimed hold for a request; resolves when it is released. */
  claim(taskProcessId: string): Promise<void> | undefined {
    const hold = this.#holds.find((h) => !h.claimed);
    if (!hold) return undefined;
    hold.claimed = true;
    this.#holds.splice(this.#holds.indexOf(hold), 1);
    hold.arrive(taskProcessId);
    return hold.released;
  }

  /** Releases every hold (on close). */
  releaseAll(): void {
    for (const hold of this.#holds.splice(0)) hold.release();
  }
}
