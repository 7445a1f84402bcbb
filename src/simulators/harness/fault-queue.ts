/**
 * One-off answers injected by tests (`failNext`): the first pending fault matching a request
 * answers it instead of the simulator.
 */
import type { Reply } from './http-io.ts';

/** Which requests a fault applies to: method (any when omitted) and a substring of the path. */
export interface FaultMatch {
  method?: string;
  pathIncludes: string;
}

/** What an injected fault answers: a JSON body unless `body` is a string or Buffer. */
export interface FaultResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface PendingFault {
  match: FaultMatch;
  response: FaultResponse;
  remaining: number;
}

/** Queued one-off answers; the first pending fault matching a request is consumed. */
export class FaultQueue {
  readonly #faults: PendingFault[] = [];

  /** Queues `response` for the next `times` requests matching `match`; `times` must be a positive integer. */
  add(match: FaultMatch, response: FaultResponse, times: number): void {
    if (!Number.isInteger(times) || times < 1) throw new Error('times must be a positive integer');
    this.#faults.push({ match, response, remaining: times });
  }

  /**
   * The reply of the first fault matching `method` (upper case) and `path`, consuming one use of
   * it; `undefined` when none matches. The reply's headers are a copy.
   */
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
