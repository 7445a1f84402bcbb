/**
 * Never pay twice, even when the answer is lost. No AI provider takes an idempotency key, and the
 * id of the work a paid call starts (a render process, a generation, a batch) comes only in its
 * answer: when that answer is lost (a worker killed just after the provider accepted, a connection
 * dropped), a retry that simply starts again pays twice. So before every paid start call the
 * recipe records an intent in its memory (saved in the job before the call is sent): what it is
 * about to start, as a fingerprint the provider's listing can show, and when. After the answer the
 * id is recorded as before and the intent is cleared.
 *
 * A retry that finds an intent but no id looks for the work it started first, with its provider's
 * lookup (one tested rule per provider): exactly one match is adopted (its id recorded, then it is
 * polled as any known id); when the provider shows none, the start is made again under a new
 * intent; when it cannot tell which (after looking again a few times, as the lost starts of other
 * tasks claim theirs), the cycle fails with PROVIDER_START_AMBIGUOUS (not retried) rather than pay
 * a second time. Each adoption and each new start after a lost answer is logged.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ConnectorError } from '../errors.ts';
import { sleep } from '../sleep.ts';
import type { PaidWork, RecipeMemory } from './recipe.ts';
import type { StartClaims } from './start-claims.ts';

/** What a recipe records before a paid start call. */
export interface StartIntent<F> {
  /** Our clock just before the call, ms since the epoch. */
  at: number;
  /** `at` less the clock skew allowed between us and the provider: work it dates earlier is not this start's. */
  notBefore: number;
  /** Names this start in the connection's claims (start-claims.ts). */
  token: string;
  /** What the provider's listing can show of this start. */
  fingerprint: F;
}

/** What a provider's listing shows of a lost start. */
export type LostStart<T> =
  /** Exactly this work is the one the start began. */
  | { found: 'one'; start: T }
  /** Nothing is: the provider never acted on the start. */
  | { found: 'none' }
  /** Several could be, or one that cannot be told from older work: these ids. */
  | { found: 'several'; ids: string[] };

/** How one provider finds a lost start: what is recorded before the call, and the rule that reads its listing. */
export interface StartLookup<F, T> {
  /** The provider's id, for logs and error details. */
  provider: string;
  /** Reads a saved fingerprint back (the checkpoint may come from another process). */
  fingerprintSchema: z.ZodType<F>;
  /** Taken just before the call; it may ask the provider (e.g. which work exists already). */
  fingerprint(): Promise<F>;
  /** How much earlier than our clock the provider may date the start. */
  clockSkewMs: number;
  /**
   * Looks for the work `intent` started. `claimedByOthers` tells which of some ids belong to other
   * starts (always none without `claims`).
   */
  find(intent: StartIntent<F>, claimedByOthers: (ids: string[]) => Promise<ReadonlySet<string>>): Promise<LostStart<T>>;
  /** The connection's claims: what a start records there, and what `find` must leave to other starts. */
  claims?: { store: StartClaims; scope: string; idOf(start: T): string };
  /**
   * The pauses after which a lookup that cannot tell yet looks again (ms); default
   * defaultRelookPausesMs. None for a provider whose candidates no other start's claim can settle.
   */
  relookPausesMs?: readonly number[];
}

/** One paid start of a recipe. */
export interface PaidStart<F, T> {
  /** Where the intent lives in the recipe's memory until the start is recorded. */
  intentKey: string;
  /** Names the work in logs and errors, e.g. `AdCreative.ai photoshoot`. */
  what: string;
  /** Added to the log lines, e.g. the slot. */
  facts: Record<string, unknown>;
  lookup: StartLookup<F, T>;
  /** The paid call. */
  start(): Promise<T>;
  /** Saves the started or adopted work (its id) in the recipe's memory, before it is polled. */
  record(start: T): Promise<void>;
  /** The provider's id of the work, for the task history. */
  idOf(start: T): string;
}

/** What a recipe run gives a paid start. */
export interface PaidStartRun {
  memory: RecipeMemory;
  logger: Logger;
  /** Tells the task history of paid work started, or of a lost start adopted (not paid again). */
  paidWork(work: PaidWork): Promise<void>;
  /** Ends the pauses between two lookups. */
  signal: AbortSignal;
}

const savedIntentSchema = z.object({
  at: z.number().int(),
  notBefore: z.number().int(),
  token: z.string().min(1),
  fingerprint: z.unknown(),
});

/**
 * Makes the paid start once: adopts the work a lost answer started, or starts it under a new
 * intent, and records it. Call it only when the recipe's memory holds no id for this work.
 *
 * @throws ConnectorError PROVIDER_START_AMBIGUOUS when a lost start cannot be told apart;
 *   CHECKPOINT_INVALID for a saved intent of the wrong shape; whatever the lookup or the start throws.
 */
export async function startPaidWork<F, T>(run: PaidStartRun, spec: PaidStart<F, T>): Promise<T> {
  const { memory, logger } = run;
  const { lookup } = spec;
  const facts = { provider: lookup.provider, ...spec.facts };
  const saved = readIntent(memory, spec);
  if (saved) {
    const adopted = await adopt(run, spec, saved, facts);
    if (adopted.found) return adopted.start;
    logger.warn({ ...facts, intentAt: saved.at }, `${spec.what}: lost start not found at the provider; starting again`);
  }
  const at = Date.now();
  const intent: StartIntent<F> = {
    at,
    notBefore: at - lookup.clockSkewMs,
    token: randomUUID(),
    fingerprint: await lookup.fingerprint(),
  };
  await memory.set(spec.intentKey, intent); // before the call: a retry that never sees its answer looks first
  const started = await spec.start();
  if (!(await claim(lookup, started, intent.token))) {
    logger.error({ ...facts, ...startFacts(lookup, started) }, `${spec.what}: another start claimed this work before its answer`);
  }
  await record(run, spec, started, false);
  return started;
}

/** Pauses before a lookup that found several candidates looks again (ms): other lost starts claim theirs meanwhile. */
export const defaultRelookPausesMs: readonly number[] = [1_000, 2_000, 4_000];

/**
 * Looks for the work of a lost start and adopts it (claimed, then recorded). Several candidates,
 * or one another start claims first, are looked for again after a pause: the lost starts of other
 * tasks of the connection, adopting theirs, claim them and so leave this one's alone.
 *
 * @throws ConnectorError PROVIDER_START_AMBIGUOUS when it still cannot tell after the pauses.
 */
async function adopt<F, T>(
  run: PaidStartRun,
  spec: PaidStart<F, T>,
  intent: StartIntent<F>,
  facts: Record<string, unknown>,
): Promise<{ found: true; start: T } | { found: false }> {
  const { lookup } = spec;
  for (let look = 0; ; look++) {
    const lost = await lookup.find(intent, (ids) => claimedByOthers(lookup, ids, intent.token));
    if (lost.found === 'none') return { found: false };
    let candidates: string[];
    if (lost.found === 'one') {
      if (await claim(lookup, lost.start, intent.token)) {
        await record(run, spec, lost.start, true);
        run.logger.info({ ...facts, ...startFacts(lookup, lost.start), intentAt: intent.at }, `${spec.what}: lost start adopted`);
        return { found: true, start: lost.start };
      }
      candidates = [lookup.claims?.idOf(lost.start) ?? ''];
    } else candidates = lost.ids;
    const pause = (lookup.relookPausesMs ?? defaultRelookPausesMs)[look];
    if (pause === undefined) throw ambiguous(spec, candidates, intent);
    run.logger.info({ ...facts, candidates, intentAt: intent.at }, `${spec.what}: lost start not told apart yet; looking again`);
    await sleep(pause, run.signal);
  }
}

function readIntent<F, T>(memory: RecipeMemory, spec: PaidStart<F, T>): StartIntent<F> | undefined {
  const raw = memory.get<unknown>(spec.intentKey);
  if (raw === undefined || raw === null) return undefined;
  const intent = savedIntentSchema.safeParse(raw);
  const fingerprint = intent.success ? spec.lookup.fingerprintSchema.safeParse(intent.data.fingerprint) : undefined;
  if (!intent.success || !fingerprint?.success) {
    throw new ConnectorError('CHECKPOINT_INVALID', `the job's saved intent ${spec.intentKey} is not one`);
  }
  return { ...intent.data, fingerprint: fingerprint.data };
}

/** Records the work, then forgets the intent (a recorded id makes it useless), then tells the history. */
async function record<F, T>(run: PaidStartRun, spec: PaidStart<F, T>, start: T, adopted: boolean): Promise<void> {
  await spec.record(start);
  await run.memory.set(spec.intentKey, null);
  await run.paidWork({ provider: spec.lookup.provider, what: spec.what, id: spec.idOf(start), adopted });
}

async function claimedByOthers<F, T>(lookup: StartLookup<F, T>, ids: string[], token: string): Promise<ReadonlySet<string>> {
  return lookup.claims ? lookup.claims.store.claimedByOthers(lookup.claims.scope, ids, token) : new Set();
}

/** Claims work for the start `token`: false when another start claimed it first (it is not this one's to take). */
async function claim<F, T>(lookup: StartLookup<F, T>, start: T, token: string): Promise<boolean> {
  return lookup.claims ? lookup.claims.store.claim(lookup.claims.scope, lookup.claims.idOf(start), token) : true;
}

function startFacts<F, T>(lookup: StartLookup<F, T>, start: T): Record<string, unknown> {
  return lookup.claims ? { id: lookup.claims.idOf(start) } : { start };
}

function ambiguous<F, T>(spec: PaidStart<F, T>, ids: string[], intent: StartIntent<F>): ConnectorError {
  const shown = `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`;
  const candidates = `${ids.length} candidate${ids.length === 1 ? '' : 's'}`;
  return new ConnectorError(
    'PROVIDER_START_AMBIGUOUS',
    `${spec.what}: the answer to its paid start was lost, and the provider lists ${candidates} for the work it started (${shown}) without telling which: none is adopted, and none is started again (it would be paid twice)`,
    { details: { provider: spec.lookup.provider, candidates: ids, intentAt: new Date(intent.at).toISOString(), ...spec.facts } },
  );
}
