/**
 * How a lost Sartiq start is found (src/providers/paid-start.ts). Sartiq takes no idempotency key,
 * and the id of a generation comes only in the answer of the call that created it. Its list,
 * `GET /generations/`, filters by `created_at_from` ("Filter generations created after this date")
 * and answers GenerationPublic, "ordered by creation date descending". Among the generations
 * created since the intent (less the clock skew allowed), the lost start is the one of its kind
 * (its `generation_strategy`, and for on-model generations its `generation_type`, BASE or AGENTIC)
 * that shows the input it was sent, and that no other start of the connection claims
 * (src/providers/start-claims.ts). The input is this cycle's own upload (a temp URL no other work
 * has), shown for on-model generations as `product_image_url`; which field shows the input of the
 * other endpoints is not documented (SARTIQ_INPUT_FIELDS). Where a field shows it, the newest
 * generation showing it is adopted (they are all this start's: nothing else has that input);
 * where none does, exactly one candidate is adopted, and of several only the one with the start's
 * batch size, when exactly one has it.
 *
 * The refines a generation's predictions were given are found in that generation itself: a refine
 * created since the intent on one of its predictions is the one the lost start made.
 */
import { z } from 'zod';
import type { LostStart, StartIntent, StartLookup } from '../paid-start.ts';
import type { SartiqClient, SartiqGeneration, SartiqListedGeneration } from './client.ts';
import { type SartiqStartKind, sartiqStartKinds } from './config.ts';
import { sartiqProvider } from './errors.ts';

/** A paid start that makes a generation: the endpoint (its kind) and the JSON body sent. */
export interface SartiqStart {
  kind: SartiqStartKind;
  body: Record<string, unknown>;
}

/** What the intent of a generation start records. */
export interface SartiqStartFingerprint {
  kind: SartiqStartKind;
  /** The input URL sent (`product_image`, `base_img_path`, `base_image_path` or `base_image_urls[0]`); null when none was. */
  input: string | null;
  /** The `batch_size` sent, when one was. */
  batchSize: number | null;
}

const startFingerprintSchema: z.ZodType<SartiqStartFingerprint> = z.object({
  kind: z.enum(sartiqStartKinds),
  input: z.string().nullable(),
  batchSize: z.number().int().nullable(),
});

/** The fields of the bodies that carry a start's input, in the order they are looked at. */
const inputBodyFields = ['product_image', 'base_img_path', 'base_image_path'] as const;

/** The fingerprint of a start, from the body it sends. */
export function sartiqStartFingerprint(start: SartiqStart): SartiqStartFingerprint {
  const { body } = start;
  const urls = body.base_image_urls;
  const input =
    inputBodyFields.map((name) => body[name]).find((value) => typeof value === 'string') ??
    (Array.isArray(urls) && typeof urls[0] === 'string' ? urls[0] : null);
  return {
    kind: start.kind,
    input: typeof input === 'string' ? input : null,
    batchSize: typeof body.batch_size === 'number' ? body.batch_size : null,
  };
}

/** How the listing shows a kind: the field holding its input ('' for none), and its strategy. */
export interface SartiqKindWire {
  inputField: string;
  strategy: string;
}

const sameWord = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** True when a generation may be of the start's kind (an unknown strategy or type may be). */
function ofKind(generation: SartiqGeneration, fingerprint: SartiqStartFingerprint, wire: SartiqKindWire): boolean {
  const { generationStrategy: strategy, generationType: type } = generation;
  if (strategy !== null && !sameWord(strategy, wire.strategy)) return false;
  if (type !== null && fingerprint.kind === 'generate' && !sameWord(type, 'BASE')) return false;
  return type === null || fingerprint.kind !== 'agentic' || sameWord(type, 'AGENTIC');
}

/** True when a generation has the start's batch size (an agentic generation's batch is its attempts). */
function ofBatch(generation: SartiqGeneration, fingerprint: SartiqStartFingerprint): boolean {
  return fingerprint.kind !== 'agentic' && generation.batchSize !== null && generation.batchSize === fingerprint.batchSize;
}

/**
 * The rule: which listed generation the start of `intent` made. Generations dated before the
 * intent's `notBefore`, of another kind, or claimed by another start are not it; see the file
 * comment for the rest.
 */
export function sartiqLostStart(
  intent: Pick<StartIntent<SartiqStartFingerprint>, 'fingerprint' | 'notBefore'>,
  listing: readonly SartiqListedGeneration[],
  claimedByOthers: ReadonlySet<string>,
  wire: SartiqKindWire,
): LostStart<SartiqGeneration> {
  const { fingerprint, notBefore } = intent;
  const candidates = listing.filter(
    ({ generation: g }) =>
      (g.createdAt === null || g.createdAt >= notBefore) && !claimedByOthers.has(g.id) && ofKind(g, fingerprint, wire),
  );
  if (wire.inputField !== '' && fingerprint.input !== null) {
    const showing = candidates.filter((c) => c.fields[wire.inputField] === fingerprint.input);
    const [newest] = showing.sort((a, b) => (b.generation.createdAt ?? 0) - (a.generation.createdAt ?? 0));
    return newest ? { found: 'one', start: newest.generation } : { found: 'none' };
  }
  if (candidates.length === 0) return { found: 'none' };
  // Between several, the batch size chooses when exactly one has the start's; it never excludes
  // (whether GenerationPublic's batch_size is always the one asked for is not documented).
  const sameBatch = candidates.filter((c) => ofBatch(c.generation, fingerprint));
  const [only] = candidates.length === 1 ? candidates : sameBatch.length === 1 ? sameBatch : [];
  return only ? { found: 'one', start: only.generation } : { found: 'several', ids: candidates.map((c) => c.generation.id) };
}

/** The lookup of one generation start on the connection of `client`. */
export function sartiqStartLookup(
  client: SartiqClient,
  start: SartiqStart,
  signal: AbortSignal,
): StartLookup<SartiqStartFingerprint, SartiqGeneration> {
  const { lostStarts } = client;
  const wire = { inputField: lostStarts.inputFields[start.kind], strategy: lostStarts.strategies[start.kind] };
  return {
    provider: sartiqProvider,
    fingerprintSchema: startFingerprintSchema,
    fingerprint: async () => sartiqStartFingerprint(start),
    clockSkewMs: lostStarts.clockSkewMs,
    async find(intent, claimedByOthers) {
      const listing = await client.listGenerations(intent.notBefore, signal);
      const claimed = await claimedByOthers(listing.map((l) => l.generation.id));
      return sartiqLostStart(intent, listing, claimed, wire);
    },
    claims: { store: client.claims, scope: `${sartiqProvider}:${client.connectionId}`, idOf: (g) => g.id },
  };
}

/** What the intent of the refines of a generation's predictions records. */
export interface SartiqRefinesFingerprint {
  generationId: string;
  predictionIds: string[];
}

const refinesFingerprintSchema: z.ZodType<SartiqRefinesFingerprint> = z.object({
  generationId: z.string().min(1),
  predictionIds: z.array(z.string().min(1)),
});

/**
 * The rule for refines: per prediction of the intent, the newest refine created since its
 * `notBefore` (one without a date may be it). The generation is this cycle's, so any such refine
 * is the start's. None on any prediction: the refines were never made.
 */
export function sartiqLostRefines(
  intent: Pick<StartIntent<SartiqRefinesFingerprint>, 'fingerprint' | 'notBefore'>,
  generation: SartiqGeneration,
): LostStart<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const predictionId of intent.fingerprint.predictionIds) {
    const refines = generation.predictions.find((p) => p.id === predictionId)?.refines ?? [];
    const since = refines.filter((r) => r.createdAt === null || r.createdAt >= intent.notBefore);
    const newest = since.reduce<(typeof since)[number] | undefined>(
      (best, r) => (best === undefined || (r.createdAt ?? 0) >= (best.createdAt ?? 0) ? r : best),
      undefined,
    );
    if (newest) found[predictionId] = newest.id;
  }
  return Object.keys(found).length > 0 ? { found: 'one', start: found } : { found: 'none' };
}

/** The lookup of the refines of `predictionIds` of generation `generationId`. */
export function sartiqRefinesLookup(
  client: SartiqClient,
  fingerprint: SartiqRefinesFingerprint,
  signal: AbortSignal,
): StartLookup<SartiqRefinesFingerprint, Record<string, string>> {
  return {
    provider: sartiqProvider,
    fingerprintSchema: refinesFingerprintSchema,
    fingerprint: async () => fingerprint,
    clockSkewMs: client.lostStarts.clockSkewMs,
    find: async (intent) => sartiqLostRefines(intent, await client.getGeneration(intent.fingerprint.generationId, signal)),
  };
}
