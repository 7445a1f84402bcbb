/**
 * How a lost AdCreative start is found (src/providers/paid-start.ts). AdCreative takes no
 * idempotency key, and CheckUserProgress needs the process id ("imageProductGeneratorProcessId
 * (Required)") that only the lost answer carried. Its listing, CheckApplicationAllProgresses ("the
 * progress of all user-level image generations within a specific application"), shows neither
 * when a process started nor what it was started with: only its user (`userId`), its id and its
 * number of tasks (`totalTaskCount`). So just before the start the intent records which processes
 * of the connection's user the listing shows; the lost start is then a process of that user that
 * appeared since, and that no other start of the connection has claimed
 * (src/providers/start-claims.ts). Two such processes (unless the number of tasks tells them
 * apart), or one when the listing could not be read before the start, cannot be told apart: the
 * cycle fails rather than guess.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { isConnectorError } from '../../errors.ts';
import type { LostStart, StartLookup } from '../paid-start.ts';
import type { AdCreativeClient, JobKind } from './client.ts';
import { adCreativeProvider } from './errors.ts';
import type { RenderProgress } from './schemas.ts';

/** What the intent of an AdCreative start records. */
export interface AdCreativeStartFingerprint {
  /** The connection's user, whom the process is started for. */
  userId: string;
  /** How many tasks the start asks for (one per prompt object; one for an image feature). */
  taskCount: number;
  /** The user's process ids the listing showed just before the start (lower case); null when it could not be read. */
  known: string[] | null;
}

const fingerprintSchema: z.ZodType<AdCreativeStartFingerprint> = z.object({
  userId: z.string().min(1),
  taskCount: z.number().int().positive(),
  known: z.array(z.string()).nullable(),
});

const sameGuid = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** A process of `userId` (or of no named user: it might be). */
function ofUser(process: RenderProgress, userId: string): boolean {
  return process.userId === null || sameGuid(process.userId, userId);
}

/**
 * The rule: which process of the listing the start of `fingerprint` began. Processes of another
 * user, listed before the start, or claimed by another start are not it; one left is adopted.
 * Between several, the number of tasks decides when exactly one has the start's (the page's one
 * example has a task per prompt object; whether that always holds is not documented, so it only
 * chooses, it never excludes); otherwise none is chosen: the listing's order is not documented.
 */
export function adCreativeLostStart(
  fingerprint: AdCreativeStartFingerprint,
  listing: readonly RenderProgress[],
  claimedByOthers: ReadonlySet<string>,
): LostStart<string> {
  const known = new Set(fingerprint.known ?? []);
  const fresh = new Map<string, RenderProgress>();
  for (const process of listing) {
    const id = process.processId.toLowerCase();
    if (!ofUser(process, fingerprint.userId) || known.has(id) || claimedByOthers.has(process.processId)) continue;
    if (!fresh.has(id)) fresh.set(id, process);
  }
  const candidates = [...fresh.values()];
  const ids = candidates.map((p) => p.processId);
  if (candidates.length === 0) return { found: 'none' };
  if (fingerprint.known === null) return { found: 'several', ids };
  const sameCount = candidates.filter((p) => p.totalTaskCount === fingerprint.taskCount);
  const [only] = candidates.length === 1 ? candidates : sameCount.length === 1 ? sameCount : [];
  return only ? { found: 'one', start: only.processId } : { found: 'several', ids };
}

/** The lookup of one start of `kind` asking for `taskCount` tasks, on the connection of `client`. */
export function adCreativeStartLookup(
  client: AdCreativeClient,
  kind: JobKind,
  taskCount: number,
  logger: Logger,
  signal: AbortSignal,
): StartLookup<AdCreativeStartFingerprint, string> {
  const userId = client.userId;
  const usersProcesses = async () => (await client.allProgresses(kind, signal)).filter((p) => ofUser(p, userId));
  return {
    provider: adCreativeProvider,
    fingerprintSchema,
    // The listing gives no dates: only the processes known before the start tell new from old.
    clockSkewMs: 0,
    async fingerprint() {
      try {
        const known = (await usersProcesses()).map((p) => p.processId.toLowerCase());
        return { userId, taskCount, known };
      } catch (err) {
        // A listing that cannot be read (e.g. an image feature's path is wrong) does not stop the
        // work; a lost answer of this start then cannot be told from older work.
        if (!isConnectorError(err) || err.retryable) throw err;
        logger.warn({ err, kind }, 'adcreative process listing unreadable before a paid start');
        return { userId, taskCount, known: null };
      }
    },
    async find(intent, claimedByOthers) {
      const listing = await usersProcesses();
      const claimed = await claimedByOthers(listing.map((p) => p.processId));
      return adCreativeLostStart(intent.fingerprint, listing, claimed);
    },
    claims: { store: client.claims, scope: `${adCreativeProvider}:${client.connectionId}`, idOf: (processId) => processId },
  };
}
