/**
 * What happened to each task, kept in Redis for the studio admin and ops: every cycle (a first
 * pass or a rework of a task process) with its timeline (received, attempts, steps with their
 * durations, errors, Creative Force calls, provider work, what was submitted where) and its outcome;
 * indexed per connection by time, by status and by TaskProcessId, TaskId and product code; and
 * per-day usage counters per connection.
 *
 * A cycle is recorded when a worker takes its job, not by the receiver (whose webhook path is one
 * BullMQ add): until then the lists and the task process view read it from the queue
 * (waiting-cycles.ts), as queued. The receiver writes only the connection's last webhook, at most
 * once a second per connection.
 *
 * Bounded: a cycle's keys expire `retentionDays` after its last event (default 30), its index
 * entries are trimmed by age; the usage counters live `usageRetentionDays` (default 400). Writes
 * never fail a cycle: the caller logs a history error and goes on.
 *
 * Keys, under `<prefix>:hist` (the queue prefix, a hash tag on Redis Cluster):
 *   c:<jobId>            hash   the cycle's summary
 *   e:<jobId>            list   the cycle's events, oldest first (JSON)
 *   i:<conn>             zset   jobIds by time received
 *   s:<conn>:<status>    zset   the same, per status
 *   q:<conn>:<term>      zset   the same, per search term (TaskProcessId, TaskId, product code)
 *   u:<conn>:<day>       hash   the day's counters
 *   conn:<conn>          hash   the connection's last webhook and credential health
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** Where a cycle stands. */
export const cycleStatuses = [
  'queued',
  'running',
  'retrying',
  'submitted',
  'skipped',
  'failed',
  'reported',
  'undelivered',
] as const;
export type CycleStatus = (typeof cycleStatuses)[number];
/*
 * queued       received, not started
 * running      an attempt is running
 * retrying     an attempt failed; the next one waits for its backoff
 * submitted    Creative Force accepted the Submit Output
 * skipped      ended without submitting (nothing to redo, or a Submit Output already accepted)
 * failed       failed; the failure report to Creative Force is pending
 * reported     failed, and Creative Force was told
 * undelivered  failed, and the report could not be delivered (a dead letter: `cf-ai-connector reports`)
 */

/** One event of a cycle's timeline. */
export type HistoryEvent = { at: string } & (
  | { type: 'received'; signatureVariant?: string }
  | { type: 'attempt'; attempt: number }
  | { type: 'step'; step: string; phase: 'started' | 'resumed' | 'finished'; durationMs?: number }
  | { type: 'error'; attempt: number; code: string; retryable: boolean; message: string; willRetry: boolean }
  | { type: 'paid'; provider: string; what: string; id: string; adopted: boolean }
  | {
      type: 'submitted';
      /** `route`: which route or pipeline produced the slot's new assets, when the subfunction has several stages or routes. */
      slots: { mappingKeyId: string; route?: string; new: number; kept: number; redone: number }[];
      assets: number;
      refused: number;
    }
  | { type: 'skipped'; reason: string }
  | { type: 'report'; outcome: 'delivered' | 'undelivered'; code: string; error?: string }
  | { type: 'handed-back'; step: string }
);

/** An event before it is stamped. */
type NewEvent = HistoryEvent extends infer E ? (E extends unknown ? Omit<E, 'at'> : never) : never;

/** What the webhook said about the task, kept with each cycle. */
export interface TaskFacts {
  taskProcessId: string;
  taskId: string;
  productId: string | null;
  productCode: string | null;
  jobId: string | null;
  jobCode: string | null;
  subfunctionId: number;
  subfunctionName: string | null;
  stepId: number;
  recipe: string;
}

/** A cycle as listed. */
export interface CycleSummary extends TaskFacts {
  cycleJobId: string;
  connectionId: string;
  status: CycleStatus;
  receivedAt: string;
  updatedAt: string;
  attempts: number;
  /** The last error's code and studio-safe message, when it failed or is retrying. */
  errorCode: string | null;
  errorMessage: string | null;
  /** Creative Force calls by gateway endpoint. */
  calls: Record<string, number>;
  paidGenerations: number;
}

/** A cycle job in the queue: its id and the time it was received (ms). */
export interface QueuedCycleId {
  cycleJobId: string;
  at: number;
}

/** What a queued cycle's job says. */
export interface QueuedCycle {
  connectionId: string;
  receivedAt: string;
  facts: TaskFacts;
  signatureVariant?: string;
}

/** The cycles in the queue (waiting-cycles.ts reads them from BullMQ). */
export interface WaitingCycles {
  /**
   * The connection's cycle jobs waiting, delayed or running, read in one atomic step; with
   * `taskProcessId`, only that task process's.
   */
  ids(connectionId: string, taskProcessId?: string): Promise<QueuedCycleId[]>;
  /** What each job says, in order; null for a job that is gone or holds no cycle. */
  read(cycleJobIds: readonly string[]): Promise<(QueuedCycle | null)[]>;
}

export interface HistorySettings {
  redis: Redis;
  /** The queue prefix (QUEUE_PREFIX). */
  prefix: string;
  retentionDays: number;
  usageRetentionDays: number;
  /** The cycles in the queue, listed as queued until a worker records them (none without). */
  waiting?: WaitingCycles;
  /** Told of a write that failed and has no caller to tell (the connection's last webhook). */
  onError?: (err: unknown) => void;
  /** For tests: the clock. */
  now?: () => number;
}

const day = 24 * 3600_000;

/** The day of a time, `YYYY-MM-DD` (UTC). */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const summaryFields = z.object({
  cycleJobId: z.string(),
  connectionId: z.string(),
  status: z.enum(cycleStatuses),
  receivedAt: z.string(),
  updatedAt: z.string(),
  facts: z.string(),
  attempts: z.coerce.number().int().default(0),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  paid: z.coerce.number().int().default(0),
});
const factsSchema = z.object({
  taskProcessId: z.string(),
  taskId: z.string(),
  productId: z.string().nullable(),
  productCode: z.string().nullable(),
  jobId: z.string().nullable(),
  jobCode: z.string().nullable(),
  subfunctionId: z.number(),
  subfunctionName: z.string().nullable(),
  stepId: z.number(),
  recipe: z.string(),
}) satisfies z.ZodType<TaskFacts>;

/** The search terms of a task: its ids and product code, case-folded. */
function termsOf(facts: TaskFacts): string[] {
  return [facts.taskProcessId, facts.taskId, facts.productCode].flatMap((t) => (t ? [t.trim().toLowerCase()] : []));
}

/**
 * The `received` record in one atomic step. KEYS: the cycle's summary, its events, the connection's
 * time index and queued index, the day's usage counters, then one index per search term. ARGV:
 * cycleJobId, connectionId, the time (ISO), the time (ms, the score), the facts (JSON), the
 * received event (JSON), the cycle's TTL (s), the index trim bound, the usage TTL (s).
 */
const receivedScript = `
if redis.call('HSETNX', KEYS[1], 'cycleJobId', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'connectionId', ARGV[2], 'status', 'queued', 'receivedAt', ARGV[3], 'updatedAt', ARGV[3],
  'facts', ARGV[5], 'attempts', 0, 'paid', 0)
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('RPUSH', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
for i = 6, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1])
  redis.call('EXPIRE', KEYS[i], ARGV[7])
end
redis.call('HINCRBY', KEYS[5], 'received', 1)
redis.call('EXPIRE', KEYS[5], ARGV[9])
return 1
`;
/** The name the script is defined under on the Redis client (ioredis' defineCommand). */
const receivedCommand = 'cfcHistoryReceived';
/** The script's method, as defineCommand adds it to the client. */
type ReceivedCommand = { [receivedCommand](numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown> };

/** How often, at most, the connection's last webhook is written (per connection and process). */
const webhookSeenIntervalMs = 1_000;
/** The last webhook of a connection, while its write waits for the interval. */
interface SeenWebhook {
  /** When (ms); formatted only when written. */
  at: number;
  signatureVariant: string;
  /** A webhook came after the last write. */
  unwritten: boolean;
  timer: NodeJS.Timeout;
}

/** A cycle's place in a list: its score (the time received, ms) and its id. */
interface Listed {
  id: string;
  score: number;
}
/** A cycle in the queue, as a list finds it: its time and, once read for a search, its job. */
interface QueuedEntry {
  score: number;
  cycle?: QueuedCycle;
}
/** Newest first; equal times by id, descending, as Redis orders a sorted set's members. */
const newestFirst = (a: Listed, b: Listed) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class TaskHistory {
  readonly #redis: Redis;
  readonly #base: string;
  readonly #retentionMs: number;
  readonly #usageRetentionS: number;
  readonly #now: () => number;
  readonly #waiting: WaitingCycles | undefined;
  readonly #onError: (err: unknown) => void;
  readonly #seen = new Map<string, SeenWebhook>();

  constructor(settings: HistorySettings) {
    this.#redis = settings.redis;
    if (!(receivedCommand in this.#redis)) this.#redis.defineCommand(receivedCommand, { lua: receivedScript });
    this.#base = `${settings.prefix}:hist`;
    this.#retentionMs = settings.retentionDays * day;
    this.#usageRetentionS = Math.round((settings.usageRetentionDays * day) / 1000);
    this.#now = settings.now ?? Date.now;
    this.#waiting = settings.waiting;
    this.#onError = settings.onError ?? (() => {});
  }

  #key(...parts: (string | number)[]): string {
    return [this.#base, ...parts].join(':');
  }

  #ttlS(): number {
    return Math.round(this.#retentionMs / 1000);
  }

  /**
   * A worker took the cycle's job: the cycle is recorded, as queued, with the day's `received`
   * count. Written once: the record of a later attempt (or of a second worker, after a stall)
   * changes nothing. One script call, atomic.
   */
  async received(input: {
    connectionId: string;
    cycleJobId: string;
    facts: TaskFacts;
    signatureVariant?: string;
    at?: number;
  }): Promise<void> {
    const { connectionId, cycleJobId, facts } = input;
    const now = input.at ?? this.#now();
    const at = new Date(now).toISOString();
    const ttl = this.#ttlS();
    const terms = termsOf(facts);
    const keys = [
      this.#key('c', cycleJobId),
      this.#key('e', cycleJobId),
      this.#key('i', connectionId),
      this.#key('s', connectionId, 'queued'),
      this.#key('u', connectionId, dayOf(now)),
      ...terms.map((term) => this.#key('q', connectionId, term)),
    ];
    const args = [
      cycleJobId,
      connectionId,
      at,
      now,
      JSON.stringify(facts),
      JSON.stringify(receivedEvent(at, input.signatureVariant)),
      ttl,
      `(${now - this.#retentionMs}`,
      this.#usageRetentionS,
    ];
    await (this.#redis as Redis & ReceivedCommand)[receivedCommand](keys.length, ...keys, ...args);
  }

  /**
   * The receiver accepted a webhook of the connection: its time and signature variant become the
   * connection's last webhook. Written at once, then at most once every {@link webhookSeenIntervalMs}
   * with the latest values, so that a burst costs Redis one write a second, not one a webhook.
   * Never waits and never throws: a failed write goes to `onError`.
   */
  webhookSeen(connectionId: string, signatureVariant: string): void {
    const at = this.#now();
    const seen = this.#seen.get(connectionId);
    if (seen) {
      seen.at = at;
      seen.signatureVariant = signatureVariant;
      seen.unwritten = true;
    } else void this.#writeSeen(connectionId, at, signatureVariant);
  }

  /** Writes the connection's last webhook and opens its interval. */
  #writeSeen(connectionId: string, at: number, signatureVariant: string): Promise<void> {
    const seen: SeenWebhook = {
      at,
      signatureVariant,
      unwritten: false,
      timer: setTimeout(() => {
        this.#seen.delete(connectionId);
        if (seen.unwritten) void this.#writeSeen(connectionId, seen.at, seen.signatureVariant);
      }, webhookSeenIntervalMs).unref(),
    };
    this.#seen.set(connectionId, seen);
    return this.#hsetSeen(connectionId, seen);
  }

  #hsetSeen(connectionId: string, { at, signatureVariant }: SeenWebhook): Promise<void> {
    return this.#redis
      .hset(this.#key('conn', connectionId), { lastWebhookAt: new Date(at).toISOString(), signatureVariant })
      .then(() => undefined, this.#onError);
  }

  /**
   * Writes the last webhooks still waiting for their interval, now; resolves when Redis has
   * answered. For a shutdown, before Redis is let go.
   */
  async flush(): Promise<void> {
    const open = [...this.#seen];
    this.#seen.clear();
    for (const [, seen] of open) clearTimeout(seen.timer);
    await Promise.all(
      open.filter(([, seen]) => seen.unwritten).map(([connectionId, seen]) => this.#hsetSeen(connectionId, seen)),
    );
  }

  #count(multi: ReturnType<Redis['multi']>, connectionId: string, at: number, field: string, by: number): void {
    const key = this.#key('u', connectionId, dayOf(at));
    multi.hincrby(key, field, by).expire(key, this.#usageRetentionS);
  }

  /** Appends an event; with `status`, moves the cycle to it (and its index entry with it). */
  async #event(
    cycleJobId: string,
    event: NewEvent,
    changes: { status?: CycleStatus; fields?: Record<string, string | number> } = {},
  ) {
    const key = this.#key('c', cycleJobId);
    const [connectionId, receivedAt, oldStatus] = await this.#redis.hmget(key, 'connectionId', 'receivedAt', 'status');
    if (!connectionId || !receivedAt) return; // not recorded (older than the history, or expired)
    const now = this.#now();
    const at = new Date(now).toISOString();
    const ttl = this.#ttlS();
    const multi = this.#redis
      .multi()
      .rpush(this.#key('e', cycleJobId), JSON.stringify({ at, ...event }))
      .expire(this.#key('e', cycleJobId), ttl)
      .hset(key, { updatedAt: at, ...(changes.fields ?? {}) })
      .expire(key, ttl);
    // A cycle whose Submit Output was accepted stays submitted: a retry that then finds nothing to
    // do (its answer was lost) ends it as skipped, but what happened to the task is the submission.
    const keep = oldStatus === 'submitted' && changes.status === 'skipped';
    if (changes.status && changes.status !== oldStatus && !keep) {
      const score = Date.parse(receivedAt);
      multi.hset(key, 'status', changes.status).zadd(this.#key('s', connectionId, changes.status), score, cycleJobId);
      if (oldStatus) multi.zrem(this.#key('s', connectionId, oldStatus), cycleJobId);
      multi.zremrangebyscore(this.#key('s', connectionId, changes.status), '-inf', `(${now - this.#retentionMs}`);
      if (changes.status === 'submitted') this.#count(multi, connectionId, now, 'submitted', 1);
      if (changes.status === 'failed') this.#count(multi, connectionId, now, 'failed', 1);
    }
    return { multi, connectionId, now };
  }

  async attemptStarted(cycleJobId: string, attempt: number): Promise<void> {
    const pending = await this.#event(
      cycleJobId,
      { type: 'attempt', attempt },
      { status: 'running', fields: { attempts: attempt } },
    );
    await pending?.multi.exec();
  }

  async step(cycleJobId: string, step: string, phase: 'started' | 'resumed' | 'finished', durationMs?: number): Promise<void> {
    const event =
      durationMs === undefined ? { type: 'step' as const, step, phase } : { type: 'step' as const, step, phase, durationMs };
    const pending = await this.#event(cycleJobId, event);
    await pending?.multi.exec();
  }

  /** A Creative Force call made for the cycle (counted per endpoint, and in the day's usage). */
  async call(cycleJobId: string, endpoint: string): Promise<void> {
    const key = this.#key('c', cycleJobId);
    const connectionId = await this.#redis.hget(key, 'connectionId');
    if (!connectionId) return;
    const multi = this.#redis.multi().hincrby(key, `call:${endpoint}`, 1);
    this.#count(multi, connectionId, this.#now(), 'cfCalls', 1);
    await multi.exec();
  }

  /** Paid provider work started (or a lost start adopted) for the cycle. */
  async paid(cycleJobId: string, work: { provider: string; what: string; id: string; adopted: boolean }): Promise<void> {
    const pending = await this.#event(cycleJobId, { type: 'paid', ...work });
    if (!pending) return;
    pending.multi.hincrby(this.#key('c', cycleJobId), 'paid', work.adopted ? 0 : 1);
    if (!work.adopted) this.#count(pending.multi, pending.connectionId, pending.now, `paid:${work.provider}`, 1);
    await pending.multi.exec();
  }

  async attemptFailed(
    cycleJobId: string,
    error: { attempt: number; code: string; retryable: boolean; message: string; willRetry: boolean },
  ): Promise<void> {
    const pending = await this.#event(
      cycleJobId,
      { type: 'error', ...error },
      { status: error.willRetry ? 'retrying' : 'failed', fields: { errorCode: error.code, errorMessage: error.message } },
    );
    await pending?.multi.exec();
  }

  /** A shutdown put the running cycle back in the queue (no attempt used). */
  async handedBack(cycleJobId: string, step: string): Promise<void> {
    const pending = await this.#event(cycleJobId, { type: 'handed-back', step }, { status: 'queued' });
    await pending?.multi.exec();
  }

  async submitted(
    cycleJobId: string,
    submitted: Omit<Extract<HistoryEvent, { type: 'submitted' }>, 'at' | 'type'>,
  ): Promise<void> {
    const pending = await this.#event(cycleJobId, { type: 'submitted', ...submitted }, { status: 'submitted' });
    await pending?.multi.exec();
  }

  async skipped(cycleJobId: string, reason: string): Promise<void> {
    const pending = await this.#event(cycleJobId, { type: 'skipped', reason }, { status: 'skipped' });
    await pending?.multi.exec();
  }

  async report(cycleJobId: string, outcome: 'delivered' | 'undelivered', code: string, error?: string): Promise<void> {
    const event =
      error === undefined ? { type: 'report' as const, outcome, code } : { type: 'report' as const, outcome, code, error };
    const pending = await this.#event(cycleJobId, event, { status: outcome === 'delivered' ? 'reported' : 'undelivered' });
    await pending?.multi.exec();
  }

  /** One cycle's summary, as recorded, or null. */
  async summary(cycleJobId: string): Promise<CycleSummary | null> {
    const raw = await this.#redis.hgetall(this.#key('c', cycleJobId));
    return toSummary(raw);
  }

  /**
   * The connection's cycles, newest first: filtered by status, a search term (exact TaskProcessId,
   * TaskId or product code, any case) and a time window; `cursor` continues a page. Cycles in the
   * queue that no worker has recorded yet are among them, as queued.
   */
  async list(
    connectionId: string,
    query: { status?: CycleStatus; q?: string; from?: number; to?: number; cursor?: string; limit?: number } = {},
  ): Promise<{ cycles: CycleSummary[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
    const index = query.status ? this.#key('s', connectionId, query.status) : this.#key('i', connectionId);
    const term = query.q?.trim().toLowerCase();
    const [cursorScore, cursorId] = parseCursor(query.cursor);
    const max = Math.min(query.to ?? Number.POSITIVE_INFINITY, cursorScore ?? Number.POSITIVE_INFINITY);
    const min = Math.max(query.from ?? this.#now() - this.#retentionMs, this.#now() - this.#retentionMs);
    const seenBefore = ({ id, score }: Listed) =>
      cursorScore !== undefined && score === cursorScore && cursorId !== undefined && id >= cursorId;
    // The queue before the history: a job a worker takes in between is then in the one or the
    // other (or in both, and listed once).
    const queued =
      !query.status || query.status === 'queued' ? await this.#queued(connectionId, term) : new Map<string, QueuedEntry>();
    const source = term ? this.#key('q', connectionId, term) : index;
    const found: Listed[] = [];
    let offset = 0;
    // Pages of the index, skipping what the cursor has seen, until the page is full.
    while (found.length <= limit) {
      const batch = await this.#redis.zrevrangebyscore(source, max, min, 'WITHSCORES', 'LIMIT', offset, 100);
      if (batch.length === 0) break;
      offset += batch.length / 2;
      for (let i = 0; i < batch.length; i += 2) {
        const listed = { id: batch[i] as string, score: Number(batch[i + 1]) };
        if (!seenBefore(listed)) found.push(listed);
      }
      if (batch.length < 200) break;
    }
    const recorded = new Set(found.map((f) => f.id));
    for (const [id, { score }] of queued) {
      if (!recorded.has(id) && score >= min && score <= max && !seenBefore({ id, score })) found.push({ id, score });
    }
    const page = found.sort(newestFirst).slice(0, limit + 1);
    const pipeline = this.#redis.pipeline();
    for (const { id } of page) pipeline.hgetall(this.#key('c', id));
    const rows = (await pipeline.exec()) ?? [];
    const recordedSummaries = rows.map(([, row]) => toSummary(row as Record<string, string>));
    const unrecorded = page.filter(({ id }, i) => queued.has(id) && !recordedSummaries[i]);
    const fromQueue = await this.#queuedSummaries(
      connectionId,
      unrecorded.map(({ id }) => ({ id, cycle: queued.get(id)?.cycle })),
    );
    const summaries: CycleSummary[] = [];
    const kept: Listed[] = [];
    for (const [i, listed] of page.entries()) {
      const summary = recordedSummaries[i] ?? fromQueue.get(listed.id)?.summary;
      if (!summary || summary.connectionId !== connectionId) continue;
      if (query.status && summary.status !== query.status) continue;
      summaries.push(summary);
      kept.push(listed);
    }
    const more = summaries.length > limit;
    const shown = summaries.slice(0, limit);
    const last = kept[shown.length - 1];
    return { cycles: shown, nextCursor: more && last ? `${last.score}.${last.id}` : null };
  }

  /**
   * Every cycle of a task process (first pass and reworks), oldest first, each with its events; a
   * cycle still in the queue, not recorded yet, with its `received` event only.
   */
  async taskProcess(connectionId: string, taskProcessId: string): Promise<{ summary: CycleSummary; events: HistoryEvent[] }[]> {
    const term = taskProcessId.trim().toLowerCase();
    const queued = (await this.#waiting?.ids(connectionId, term)) ?? [];
    const indexed = await this.#redis.zrangebyscore(this.#key('q', connectionId, term), '-inf', '+inf', 'WITHSCORES');
    const all = new Map(queued.map(({ cycleJobId, at }) => [cycleJobId, at]));
    for (let i = 0; i < indexed.length; i += 2) all.set(indexed[i] as string, Number(indexed[i + 1]));
    const ids = [...all].map(([id, score]) => ({ id, score })).sort((a, b) => newestFirst(b, a));
    // What the queued jobs say, in one read, for those of them no worker has recorded yet.
    const unrecorded = await this.#queuedSummaries(
      connectionId,
      queued.map(({ cycleJobId }) => ({ id: cycleJobId })),
    );
    const cycles: { summary: CycleSummary; events: HistoryEvent[] }[] = [];
    for (const { id } of ids) {
      const summary = await this.summary(id);
      if (!summary) {
        const queuedCycle = unrecorded.get(id);
        if (queuedCycle) {
          const { summary: fromQueue, signatureVariant } = queuedCycle;
          cycles.push({ summary: fromQueue, events: [receivedEvent(fromQueue.receivedAt, signatureVariant)] });
        }
        continue;
      }
      if (summary.connectionId !== connectionId || summary.taskProcessId.toLowerCase() !== term) continue;
      const events = (await this.#redis.lrange(this.#key('e', id), 0, -1)).flatMap((line) => {
        try {
          return [JSON.parse(line) as HistoryEvent];
        } catch {
          return [];
        }
      });
      cycles.push({ summary, events });
    }
    return cycles;
  }

  /**
   * The connection's cycles in the queue, by id with their time; with a search term, only those
   * whose job matches it (each job's data read: the TaskId and product code are only there).
   */
  async #queued(connectionId: string, term: string | undefined): Promise<Map<string, QueuedEntry>> {
    const queued = new Map<string, QueuedEntry>();
    if (!this.#waiting) return queued;
    const ids = await this.#waiting.ids(connectionId);
    if (term === undefined) {
      for (const { cycleJobId, at } of ids) queued.set(cycleJobId, { score: at });
      return queued;
    }
    const cycles = await this.#waiting.read(ids.map((id) => id.cycleJobId));
    ids.forEach(({ cycleJobId, at }, i) => {
      const cycle = cycles[i];
      if (cycle && termsOf(cycle.facts).includes(term)) queued.set(cycleJobId, { score: at, cycle });
    });
    return queued;
  }

  /** Summaries of queued cycles from their jobs (read unless given), by id; a job gone or another connection's is left out. */
  async #queuedSummaries(
    connectionId: string,
    jobs: { id: string; cycle?: QueuedCycle | undefined }[],
  ): Promise<Map<string, { summary: CycleSummary; signatureVariant?: string }>> {
    const unread = jobs.filter((job) => !job.cycle).map((job) => job.id);
    const read = unread.length > 0 && this.#waiting ? await this.#waiting.read(unread) : [];
    const byId = new Map(unread.map((id, i) => [id, read[i] ?? null]));
    const summaries = new Map<string, { summary: CycleSummary; signatureVariant?: string }>();
    for (const job of jobs) {
      const cycle = job.cycle ?? byId.get(job.id);
      if (!cycle || cycle.connectionId !== connectionId) continue;
      const { id } = job;
      const summary: CycleSummary = {
        ...cycle.facts,
        cycleJobId: id,
        connectionId,
        status: 'queued',
        receivedAt: cycle.receivedAt,
        updatedAt: cycle.receivedAt,
        attempts: 0,
        errorCode: null,
        errorMessage: null,
        calls: {},
        paidGenerations: 0,
      };
      summaries.set(id, cycle.signatureVariant ? { summary, signatureVariant: cycle.signatureVariant } : { summary });
    }
    return summaries;
  }

  /** The connection's counters per day, `from` to `to` (inclusive days, UTC). */
  async usage(connectionId: string, from: number, to: number): Promise<{ day: string; counters: Record<string, number> }[]> {
    const days: string[] = [];
    for (let t = Date.parse(`${dayOf(from)}T00:00:00Z`); t <= to && days.length < 400; t += day) days.push(dayOf(t));
    const pipeline = this.#redis.pipeline();
    for (const d of days) pipeline.hgetall(this.#key('u', connectionId, d));
    const rows = (await pipeline.exec()) ?? [];
    return days.map((d, i) => {
      const row = (rows[i]?.[1] ?? {}) as Record<string, string>;
      return { day: d, counters: Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) };
    });
  }

  /** The connection's last webhook and credential health. */
  async connection(connectionId: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(this.#key('conn', connectionId));
  }

  /** Records the last success or failure of a connection's credentials with one remote system. */
  async credentials(connectionId: string, system: string, outcome: { ok: true } | { ok: false; code: string }): Promise<void> {
    const at = new Date(this.#now()).toISOString();
    const value = outcome.ok ? JSON.stringify({ ok: true, at }) : JSON.stringify({ ok: false, code: outcome.code, at });
    await this.#redis.hset(this.#key('conn', connectionId), `credentials:${system}`, value);
  }
}

function receivedEvent(at: string, signatureVariant: string | undefined): HistoryEvent {
  return signatureVariant ? { at, type: 'received', signatureVariant } : { at, type: 'received' };
}

function parseCursor(cursor: string | undefined): [number | undefined, string | undefined] {
  if (!cursor) return [undefined, undefined];
  const at = cursor.indexOf('.');
  const score = Number(cursor.slice(0, at));
  return at > 0 && Number.isFinite(score) ? [score, cursor.slice(at + 1)] : [undefined, undefined];
}

function toSummary(raw: Record<string, string> | null | undefined): CycleSummary | null {
  if (!raw || Object.keys(raw).length === 0) return null;
  const parsed = summaryFields.safeParse(raw);
  if (!parsed.success) return null;
  let facts: TaskFacts;
  try {
    const read = factsSchema.safeParse(JSON.parse(parsed.data.facts));
    if (!read.success) return null;
    facts = read.data;
  } catch {
    return null;
  }
  const calls = Object.fromEntries(
    Object.entries(raw)
      .filter(([k]) => k.startsWith('call:'))
      .map(([k, v]) => [k.slice('call:'.length), Number(v)]),
  );
  const { facts: _facts, paid, errorCode, errorMessage, ...rest } = parsed.data;
  return { ...rest, ...facts, errorCode: errorCode ?? null, errorMessage: errorMessage ?? null, calls, paidGenerations: paid };
}
