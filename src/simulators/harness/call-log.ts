/**
 * The log of the requests a simulator received, which tests inspect (`callLog`).
 */

/** One HTTP request. `status` 0 means the client went away before an answer. */
export interface CallLogEntry {
  at: number;
  method: string;
  path: string;
  status: number;
}

/** Requests in arrival order; each entry is recorded on arrival and its `status` set once answered. */
export class CallLog<E extends CallLogEntry = CallLogEntry> {
  #entries: E[] = [];

  /** Appends `entry` and returns it, so its `status` can be set when the answer is known. */
  record(entry: E): E {
    this.#entries.push(entry);
    return entry;
  }

  /** Copies of the entries, in arrival order. */
  entries(): E[] {
    return this.#entries.map((e) => ({ ...e }));
  }

  /** The arrival times (`at`) of the entries, in arrival order. */
  arrivals(): number[] {
    return this.#entries.map((e) => e.at);
  }

  /** Forgets every entry; an entry recorded before still gets its status set, but is not listed. */
  clear(): void {
    this.#entries = [];
  }
}
