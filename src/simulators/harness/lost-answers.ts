/**
 * Answers lost after the simulator acted (`loseAnswers`): a matching request is handled and
 * recorded as usual, then its connection is dropped instead of answered, as when the network fails
 * right after the service accepted (or a worker dies before it reads the answer).
 */
import type { ServerResponse } from 'node:http';
import { type FaultMatch, FaultQueue } from './fault-queue.ts';

export class LostAnswers {
  readonly #pending = new FaultQueue();

  /** Loses the answers of the next `times` requests matching `match`. */
  add(match: FaultMatch, times: number): void {
    this.#pending.add(match, { status: 0 }, times);
  }

  /** Drops the connection instead of answering when the answer to this request is to be lost (consuming it). */
  dropped(method: string, path: string, res: ServerResponse): boolean {
    if (this.#pending.take(method, path) === undefined) return false;
    res.socket?.destroy();
    return true;
  }
}
