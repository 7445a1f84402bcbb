/**
 * Cycles of one connection waiting on bulk-get-assets at the same time, or (of one workspace) on
 * the pre-signed upload URL call, share one request: the guide's call takes any list of asset ids,
 * and "Call this once per batch to mint pre-signed S3 PUT URLs for all output files in a single
 * request. Assign a localId to each file so you can map the returned tempAssetId values back to
 * your files." Under a burst a task then costs 2 + 2/N gateway calls instead of 4.
 *
 * How, in every worker process at once (all in Redis):
 * - A cycle that needs the call puts its request in the pending list of its group (connection, and
 *   the workspace `clientId` for presign: two workspaces never share a call) and tries to take the
 *   group's lease (SET NX, a short TTL the leader renews).
 * - The leader calls the gateway client, which waits for its rate limiter slot as any call does.
 *   That wait is the gathering window: long under load, about nothing when the service is idle, so
 *   a task alone waits for no one. Only once the slot is granted does the leader take the pending
 *   requests (first in, first out, up to the endpoint's cap) and claim them; the one request it
 *   sends carries them all.
 * - It writes each task's part of the answer to that task's own reply key (with a TTL), drops the
 *   claims, gives up the lease and publishes the group: the waiting cycles (in any process) read
 *   their reply, and the next one takes the lease for what is still pending.
 *
 * Each task gets only its own part: the URLs of the assets it asked for; the files (and errorFiles)
 * whose localId it sent, as its own again (the shared request namespaces them `<index>~<localId>`);
 * the batch's S3 `headers`, which apply to every file of the batch. A 5xx, timeout, network error
 * or 429 run of the shared call reaches every task in it as its own error, as a call of its own
 * would. Any other failure (a 4xx, an answer that does not parse, an errorFile that names no
 * request of the batch) could be caused by one task's entry: every task of the batch then makes
 * its own call instead, so one bad entry fails only its own task.
 *
 * A leader that dies (its lease expires unrenewed) loses nobody's work: a waiting request still
 * pending is taken by the next leader; one the dead leader had claimed but not answered is
 * "orphaned", and its cycle makes its own call. bulk-get-assets is a read and the pre-signed call
 * mints fresh single-use URLs, so a call made twice for the same task is harmless. A cycle that
 * waits past `maxWaitMs` (a leader alive but stuck) also makes its own call.
 *
 * Redis keys (under one hash tag, as the rate limiter's; Lua needs one slot):
 * - `<prefix>:<group>:pending` list of `<redis ms>|<size>|<id>|<part JSON>`
 * - `<prefix>:<group>:lease`   the leader's request id, with a TTL
 * - `<prefix>:<group>:claims`  hash: request id → the lease token of the leader that took it
 * - `<prefix>:reply:<id>`      the answer of one request, read once
 * and the channel `<prefix>:done`, on which a leader publishes its group when its round ends.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConnectorError, type ErrorCode, isConnectorError } from '../errors.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import { throttledErrorLog } from '../observability/throttled-error-log.ts';
import type { SharedCallCaps } from './contract.ts';
import { defineScript, runScript } from './internal.ts';
import type { AssetUrl, PresignResponse } from './schemas.ts';

/** One output file announced to the pre-signed upload URL call. */
export interface PresignFile {
  fileName: string;
  /** Our id of the file, echoed back by CF to match URLs to files. */
  localId: string;
  fileLength: number;
}

/**
 * Decides the body of a call once the rate limiter has granted its slot; undefined when there is
 * nothing left to ask (no request is sent then).
 */
export type BodyOnGrant<B> = () => Promise<B | undefined>;

/** What sharing needs of the gateway client of a connection. */
export interface SharedCallTransport {
  readonly connectionId: string;
  /** One bulk-get-assets request; undefined when `take` found nothing to ask. */
  sendBulkGetAssets(take: BodyOnGrant<string[]>, signal?: AbortSignal): Promise<AssetUrl[] | undefined>;
  /** One pre-signed upload URL request; undefined when `take` found nothing to ask. */
  sendPresign(clientId: string, take: BodyOnGrant<PresignFile[]>, signal?: AbortSignal): Promise<PresignResponse | undefined>;
}

/** What is recorded about the shared calls. */
export type SharedCallMetrics = Pick<ServiceMetrics, 'sharedCall'>;

export interface SharedCallsOptions {
  /** Short non-blocking commands; a duplicate of it subscribes to the done channel. */
  redis: Redis;
  /** Keep a `{hash tag}`. */
  keyPrefix: string;
  caps: SharedCallCaps;
  logger: Logger;
  metrics?: SharedCallMetrics | undefined;
  /** Lease of a leader, renewed every third of it while it works. Default 10 000. */
  leaseMs?: number;
  /** How often a waiting cycle looks again without being told (a lost message, a dead leader). Default 500. */
  pollMs?: number;
  /** The longest a cycle waits for a shared answer before it makes its own call. Default 300 000. */
  maxWaitMs?: number;
}

/** A request in a group's pending list. */
interface Entry<P> {
  id: string;
  part: P;
}

/** How one of the two calls is shared. */
interface CallKind<P, B, R> {
  operation: 'bulkGetAssets' | 'getPresignedUploadUrls';
  cap: number;
  size(part: P): number;
  /** The body for the requests taken; for one request, its own part as it is. */
  merge(taken: readonly Entry<P>[]): B;
  request(take: BodyOnGrant<B>, signal: AbortSignal | undefined): Promise<R | undefined>;
  /** Each request's part, index for index; undefined when the answer cannot be told apart. */
  split(response: R, taken: readonly Entry<P>[]): R[] | undefined;
}

/** What a reply key holds. */
type Reply<R> =
  | { ok: R }
  | { solo: string }
  | {
      failure: {
        code: ErrorCode;
        message: string;
        remoteText?: string | undefined;
        retryable: boolean;
        retryAfterMs?: number | undefined;
        details?: Record<string, unknown> | undefined;
      };
    };

/** Failures of the shared call that no single entry causes: every task gets them as its own. */
const sharedFailures: ReadonlySet<ErrorCode> = new Set(['CF_SERVER_ERROR', 'CF_TIMEOUT', 'CF_NETWORK', 'CF_RATE_LIMITED']);

/**
 * Queues a request and tries to take the lease. KEYS: pending, lease. ARGV: size, id, part JSON,
 * lease ms, list TTL ms. Returns {1 when this caller leads, the item as queued}.
 */
const joinScript = defineScript(`
local t = redis.call('TIME')
local item = string.format('%d|%s|%s|%s', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1], ARGV[2], ARGV[3])
redis.call('RPUSH', KEYS[1], item)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4], 'NX') then return {1, item} end
return {0, item}
`);

/**
 * The leader takes pending requests from the head while they fit in the cap (the first always),
 * drops those older than the longest wait (their cycles have gone their own way), and claims them.
 * KEYS: pending, lease, claims. ARGV: lease token, cap, max age ms, claims TTL ms.
 * Returns the taken items as `<id>|<part JSON>`; none when the lease is no longer this leader's.
 */
const takeScript = defineScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[2])
local taken = {}
local total = 0
while true do
  local item = redis.call('LINDEX', KEYS[1], 0)
  if not item then break end
  local at, size, id, part = string.match(item, '^(%d+)|(%d+)|([^|]+)|(.*)$')
  size = tonumber(size)
  if now - tonumber(at) > tonumber(ARGV[3]) then
    redis.call('LPOP', KEYS[1])
  elseif #taken > 0 and total + size > cap then
    break
  else
    redis.call('LPOP', KEYS[1])
    redis.call('HSET', KEYS[3], id, ARGV[1])
    total = total + size
    taken[#taken + 1] = id .. '|' .. part
  end
end
if #taken > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
return taken
`);

/**
 * What a waiting request finds. KEYS: reply, lease, claims. ARGV: id, lease ms.
 * {'reply', answer} (read once) | {'wait'} (a live leader has it, or leads) | {'orphaned'} (its
 * leader is gone) | {'lead'} (unclaimed, and this caller now holds the lease).
 */
const checkScript = defineScript(`
local reply = redis.call('GET', KEYS[1])
if reply then
  redis.call('DEL', KEYS[1])
  return {'reply', reply}
end
local claim = redis.call('HGET', KEYS[3], ARGV[1])
if claim then
  if redis.call('GET', KEYS[2]) == claim then return {'wait'} end
  redis.call('HDEL', KEYS[3], ARGV[1])
  return {'orphaned'}
end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return {'lead'} end
return {'wait'}
`);

/** KEYS: lease. ARGV: token, lease ms. */
const renewScript = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/**
 * Ends a round: writes the replies, drops their claims, gives up the lease (if still this
 * leader's), and publishes the group. KEYS: claims, lease, reply keys… ARGV: token, reply TTL ms,
 * channel, group, then for each reply key its request id and its answer.
 */
const finishScript = defineScript(`
for i = 3, #KEYS do
  local at = 5 + (i - 3) * 2
  redis.call('SET', KEYS[i], ARGV[at + 1], 'PX', ARGV[2])
  redis.call('HDEL', KEYS[1], ARGV[at])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`);

/** The Redis-coordinated sharing of bulk-get-assets and pre-signed URL calls described above. */
export class SharedCalls {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #caps: SharedCallCaps;
  readonly #logger: Logger;
  readonly #metrics: SharedCallMetrics | undefined;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxWaitMs: number;
  readonly #channel: string;
  /** Waiting cycles of this process, by group: each is woken when its group's round ends. */
  readonly #waiters = new Map<string, Set<() => void>>();
  #subscriber: Redis | undefined;

  constructor(options: SharedCallsOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#caps = options.caps;
    this.#logger = options.logger.child({ component: 'shared-calls' });
    this.#metrics = options.metrics;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 500;
    this.#maxWaitMs = options.maxWaitMs ?? 300_000;
    this.#channel = `${this.#prefix}:done`;
  }

  /** The URLs of `assetIds` (at most the cap), from a call shared with the connection's other cycles. */
  bulkGetAssets(transport: SharedCallTransport, assetIds: string[], signal?: AbortSignal): Promise<AssetUrl[]> {
    const kind: CallKind<string[], string[], AssetUrl[]> = {
      operation: 'bulkGetAssets',
      cap: this.#caps.bulkGetAssetIds,
      size: (ids) => ids.length,
      merge: (taken) => [...new Set(taken.flatMap((e) => e.part))],
      request: (take, s) => transport.sendBulkGetAssets(take, s),
      split: (urls, taken) =>
        taken.map((e) => {
          const mine = new Set(e.part);
          return urls.filter((u) => mine.has(u.assetId));
        }),
    };
    return this.#share(kind, `assets:${transport.connectionId}`, assetIds, signal);
  }

  /** Pre-signed upload URLs of `files` (at most the cap), from a call shared within the workspace `clientId`. */
  presign(
    transport: SharedCallTransport,
    clientId: string,
    files: PresignFile[],
    signal?: AbortSignal,
  ): Promise<PresignResponse> {
    const kind: CallKind<PresignFile[], PresignFile[], PresignResponse> = {
      operation: 'getPresignedUploadUrls',
      cap: this.#caps.presignFiles,
      size: (list) => list.length,
      merge: (taken) =>
        taken.length === 1
          ? (taken[0]?.part ?? [])
          : taken.flatMap((e, i) => e.part.map((f) => ({ ...f, localId: `${i}~${f.localId}` }))),
      request: (take, s) => transport.sendPresign(clientId, take, s),
      split: splitPresign,
    };
    return this.#share(kind, `presign:${transport.connectionId}:${clientId}`, files, signal);
  }

  /** Stops listening for ended rounds (the service's Redis connections are closed by their owner). */
  close(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  async #share<P, B, R>(kind: CallKind<P, B, R>, group: string, part: P, signal: AbortSignal | undefined): Promise<R> {
    signal?.throwIfAborted();
    const id = randomUUID();
    const keys = this.#keys(group);
    const [leads, item] = (await runScript(
      this.#redis,
      joinScript,
      [keys.pending, keys.lease],
      [kind.size(part), id, JSON.stringify(part), this.#leaseMs, this.#maxWaitMs * 2],
    )) as [number, string];
    let leading = leads === 1;
    const deadline = Date.now() + this.#maxWaitMs;
    try {
      for (;;) {
        if (leading) await this.#lead(kind, group, id, signal);
        signal?.throwIfAborted();
        const [state, value] = (await runScript(
          this.#redis,
          checkScript,
          [`${this.#prefix}:reply:${id}`, keys.lease, keys.claims],
          [id, this.#leaseMs],
        )) as [string, string | undefined];
        if (state === 'reply') return await this.#open(kind, part, JSON.parse(value ?? '{}') as Reply<R>, signal);
        if (state === 'orphaned') {
          this.#logger.warn({ operation: kind.operation }, 'the leader of a shared call is gone: making the call alone');
          return await this.#solo(kind, part, signal);
        }
        leading = state === 'lead';
        if (leading) continue;
        if (Date.now() > deadline) {
          await this.#redis.lrem(keys.pending, 1, item);
          this.#logger.warn(
            { operation: kind.operation, waitedMs: this.#maxWaitMs },
            'no shared call answered: making the call alone',
          );
          return await this.#solo(kind, part, signal);
        }
        await this.#wake(group, signal);
      }
    } catch (err) {
      // Not wanted any more (abort, or this cycle's own call failed): a later leader skips it.
      await this.#redis.lrem(keys.pending, 1, item).catch(() => 0);
      throw err;
    }
  }

  /** One round as leader: the call for what is pending once the slot is granted, and the replies. */
  async #lead<P, B, R>(kind: CallKind<P, B, R>, group: string, token: string, signal: AbortSignal | undefined): Promise<void> {
    const keys = this.#keys(group);
    const renewal = setInterval(() => {
      runScript(this.#redis, renewScript, [keys.lease], [token, this.#leaseMs]).catch(() => 0);
    }, this.#leaseMs / 3);
    renewal.unref();
    // This cycle's abort ends the wait for the slot; once other cycles' requests are taken, the
    // call is made for all of them (bounded by the request deadline), whatever becomes of this one.
    const untilTaken = new AbortController();
    const forward = () => untilTaken.abort(signal?.reason);
    if (signal?.aborted) forward();
    else signal?.addEventListener('abort', forward, { once: true });
    let taken: Entry<P>[] = [];
    const replies: [string, string][] = [];
    try {
      const response = await kind.request(async () => {
        signal?.removeEventListener('abort', forward);
        const items = (await runScript(
          this.#redis,
          takeScript,
          [keys.pending, keys.lease, keys.claims],
          [token, kind.cap, this.#maxWaitMs, this.#maxWaitMs],
        )) as string[];
        taken = items.map((text) => {
          const bar = text.indexOf('|');
          return { id: text.slice(0, bar), part: JSON.parse(text.slice(bar + 1)) as P };
        });
        return taken.length === 0 ? undefined : kind.merge(taken);
      }, untilTaken.signal);
      if (response === undefined) return;
      this.#metrics?.sharedCall(kind.operation, taken.length);
      const parts = kind.split(response, taken);
      for (const [i, e] of taken.entries()) {
        const part = parts?.[i];
        const reply: Reply<R> = part === undefined ? { solo: 'the answer names a file of no request' } : { ok: part };
        replies.push([e.id, JSON.stringify(reply)]);
      }
      if (taken.length > 1) this.#logger.debug({ operation: kind.operation, tasks: taken.length }, 'shared call answered');
    } catch (err) {
      if (taken.length === 0) throw err;
      const reply = JSON.stringify(failureReply(err, taken.length));
      for (const e of taken) replies.push([e.id, reply]);
    } finally {
      signal?.removeEventListener('abort', forward);
      clearInterval(renewal);
      await runScript(
        this.#redis,
        finishScript,
        [keys.claims, keys.lease, ...replies.map(([id]) => `${this.#prefix}:reply:${id}`)],
        [token, this.#maxWaitMs, this.#channel, group, ...replies.flat()],
      ).catch((err: unknown) => this.#logger.warn({ err }, 'shared call: replies not written; the waiting cycles call alone'));
    }
  }

  /** The request made by this cycle alone: exactly the call it would make without sharing. */
  async #solo<P, B, R>(kind: CallKind<P, B, R>, part: P, signal: AbortSignal | undefined): Promise<R> {
    const response = await kind.request(async () => kind.merge([{ id: 'solo', part }]), signal);
    if (response === undefined) throw new Error('a call of its own always has a body');
    return response;
  }

  async #open<P, B, R>(kind: CallKind<P, B, R>, part: P, reply: Reply<R>, signal: AbortSignal | undefined): Promise<R> {
    if ('ok' in reply) return reply.ok;
    if ('solo' in reply) {
      this.#logger.info({ operation: kind.operation, reason: reply.solo }, 'a shared call failed for its batch: calling alone');
      return this.#solo(kind, part, signal);
    }
    const { code, message, details, ...rest } = reply.failure;
    throw new ConnectorError(code, message, {
      retryable: rest.retryable,
      ...(rest.remoteText === undefined ? {} : { remoteText: rest.remoteText }),
      ...(rest.retryAfterMs === undefined ? {} : { retryAfterMs: rest.retryAfterMs }),
      details: { ...details, sharedCall: true },
    });
  }

  /** Resolves when the group's round ends (any process), after `pollMs`, or on abort. */
  #wake(group: string, signal: AbortSignal | undefined): Promise<void> {
    this.#listen();
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(group);
      if (!waiters) {
        waiters = new Set();
        this.#waiters.set(group, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(group);
        resolve();
      };
      const timer = setTimeout(done, this.#pollMs);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  #listen(): void {
    if (this.#subscriber) return;
    const subscriber = this.#redis.duplicate({ connectionName: 'cf-ai-connector:shared-calls' });
    subscriber.on('error', throttledErrorLog(this.#logger, 'shared calls: subscriber connection error'));
    subscriber.on('message', (_channel: string, group: string) => {
      for (const wake of [...(this.#waiters.get(group) ?? [])]) wake();
    });
    subscriber.subscribe(this.#channel).catch((err: unknown) => this.#logger.warn({ err }, 'shared calls: not subscribed'));
    this.#subscriber = subscriber;
  }

  #keys(group: string): { pending: string; lease: string; claims: string } {
    const base = `${this.#prefix}:${group}`;
    return { pending: `${base}:pending`, lease: `${base}:lease`, claims: `${base}:claims` };
  }
}

/** Each request's files and errorFiles by the index its localIds were given; headers for all. */
function splitPresign(response: PresignResponse, taken: readonly Entry<PresignFile[]>[]): PresignResponse[] | undefined {
  if (taken.length === 1) return [response];
  const own = (localId: string): { index: number; localId: string } | undefined => {
    const match = /^(\d+)~(.*)$/s.exec(localId);
    const index = Number(match?.[1]);
    return match && index < taken.length ? { index, localId: match[2] ?? '' } : undefined;
  };
  const parts: PresignResponse[] = taken.map(() => ({ headers: response.headers, files: [], errorFiles: [] }));
  // A URL for a localId of no request is nobody's: left unused.
  for (const file of response.files) {
    const mine = own(file.localId);
    if (mine) parts[mine.index]?.files.push({ ...file, localId: mine.localId });
  }
  for (const refused of response.errorFiles) {
    const mine = own(refused.localId);
    if (!mine) return undefined;
    parts[mine.index]?.errorFiles.push({ ...refused, localId: mine.localId });
  }
  return parts;
}

/** The reply of every request of a failed shared call: the failure itself, or each on its own. */
function failureReply(err: unknown, requests: number): Reply<never> {
  if (!isConnectorError(err) || (requests > 1 && !sharedFailures.has(err.code))) {
    const reason = isConnectorError(err) ? err.code : 'an unexpected error';
    return { solo: `the shared call failed with ${reason}, which one request may have caused` };
  }
  return {
    failure: {
      code: err.code,
      message: err.ownMessage,
      remoteText: err.remoteText,
      retryable: err.retryable,
      retryAfterMs: err.retryAfterMs,
      details: err.details,
    },
  };
}
