/**
 * Fault injection for tests: one-off answers (`failNext`), a forced 429 period (`forceRateLimit`)
 * and held Submit Output requests (`holdSubmissions`).
 */
import type { Reply } from './http-io.ts';
import type { FaultMatch, FaultResponse, SubmissionHold } from './types.ts';

interface PendingFault {
  match: FaultMatch;
  response: FaultResponse;
  remaining: number;
}

/** Queued one-off answers; the first pending fault matching a request is consumed. */
export class FaultQueue {
  readonly #faults: PendingFault[] = [];

  add(match: FaultMatch, response: FaultResponse, times: number): void {
    if (!Number.isInteger(times) || times < 1) throw new Error('times must be a positive integer');
    this.#faults.push({ match, response, remaining: times });
  }

  /** The reply of the first fault matching `method` and `path`, consuming one use of it. */
  take(method: string, path: string): Reply | undefined {
    const index = this.#faults.findIndex(
      (f) => (f.match.method === undefined || f.match.method.toUpperCase() === method) && path.includes(f.match.pathIncludes),
    );
    const fault = this.#faults[index];
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining === 0) this.#faults.splice(index, 1);
    const { status, body, headers } = fault.response;
    return { status, body, headers: { ...(headers ?? {}) } };
  }
}

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
