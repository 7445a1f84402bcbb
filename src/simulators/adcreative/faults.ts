/**
 * One-off answers injected by tests (`failNext`): the first pending fault matching a request
 * answers it instead of the simulator.
 */
import type { Reply } from './http-io.ts';
import type { FaultMatch, FaultResponse } from './types.ts';

interface PendingFault {
  match: FaultMatch;
  response: FaultResponse;
  remaining: number;
}

/** Queued one-off answers. */
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
