/**
 * The result gate: every file a recipe produced is checked before anything is uploaded, whoever
 * produced it (the local conversion or an AI provider). A file that fails is never uploaded; the
 * slot is planned with what passed, and a slot that cannot be filled then fails the cycle with
 * OUTPUT_CHECK_FAILED, naming the file and the rule. Garbage never reaches the studio's reviewers.
 *
 * Always checked: the file is not empty; it decodes as what it claims to be (an image sharp reads
 * in full, or a video container whose structure holds); its real format matches its declared
 * content type; an image's sides are at least `minSide` pixels. Per subfunction (`checks` in the
 * connections file): minimum width and height, the formats allowed, and whether a blank frame (one
 * flat colour, or fully transparent) is refused (default yes).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { type OutputFacts, ProbeFailure, probeImageOutput, probeVideoOutput } from '../media/probe-output.ts';
import type { ProducedFile, RecipeResult } from '../providers/recipe.ts';

/** The formats a produced file may have, as the gate names them. */
export const outputFormats = ['jpeg', 'png', 'webp', 'tiff', 'gif', 'avif', 'heic', 'mp4', 'quicktime', 'webm'] as const;
export type OutputFormat = (typeof outputFormats)[number];

/** A subfunction's rules for what its recipe produces (`subfunctions."54".checks`). */
export const outputChecksSchema = z
  .object({
    /** Narrowest image accepted, in pixels. */
    minWidth: z.number().int().positive().optional(),
    /** Lowest image accepted, in pixels. */
    minHeight: z.number().int().positive().optional(),
    /** The only formats accepted; default any that fits the slot. */
    formats: z.array(z.enum(outputFormats)).min(1).optional(),
    /** Refuse an image that is one flat colour or fully transparent. */
    refuseBlank: z.boolean().default(true),
  })
  .strict()
  .prefault({});
export type OutputChecks = z.infer<typeof outputChecksSchema>;

/** The smallest side of an image that is not refused as degenerate, whatever the rules. */
export const minSide = 16;

/** The rules a refused file can break. */
export const gateRules = [
  'empty',
  'unreadable',
  'type-mismatch',
  'too-small',
  'min-width',
  'min-height',
  'format',
  'blank',
] as const;
export type GateRule = (typeof gateRules)[number];

/** A produced file the gate refused. */
export interface RefusedOutput {
  mappingKeyId: string;
  fileName: string;
  rule: GateRule;
  /** For people: what was found, e.g. `declared image/jpeg, but the bytes are png`. */
  reason: string;
}

/** The declared content types each real format may carry. */
const contentTypesOf: Readonly<Record<string, readonly string[]>> = {
  jpeg: ['image/jpeg', 'image/jpg', 'image/pjpeg'],
  png: ['image/png'],
  webp: ['image/webp'],
  tiff: ['image/tiff'],
  gif: ['image/gif'],
  avif: ['image/avif'],
  heic: ['image/heic', 'image/heif'],
  // ISO base media: MP4 and QuickTime files differ by brand and are labelled either way in practice.
  mp4: ['video/mp4', 'video/quicktime'],
  quicktime: ['video/quicktime', 'video/mp4'],
  webm: ['video/webm'],
  matroska: ['video/x-matroska', 'video/matroska'],
};

/** Checks one file; null when it passes, else the rule it broke and why. */
export async function checkOutput(file: ProducedFile, checks: OutputChecks): Promise<{ rule: GateRule; reason: string } | null> {
  let facts: OutputFacts;
  try {
    facts = file.kind === 'video' ? await probeVideoOutput(file.path) : await probeImageOutput(file.path);
  } catch (err) {
    if (!(err instanceof ProbeFailure)) throw err;
    return { rule: err.empty ? 'empty' : 'unreadable', reason: err.message };
  }
  const declared = file.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!(contentTypesOf[facts.format] ?? []).includes(declared)) {
    return { rule: 'type-mismatch', reason: `declared ${declared || 'no type'}, but the bytes are ${facts.format}` };
  }
  if (checks.formats && !(checks.formats as readonly string[]).includes(facts.format)) {
    return { rule: 'format', reason: `${facts.format} is not one of the allowed formats (${checks.formats.join(', ')})` };
  }
  if (facts.kind === 'video') return null;
  const size = `${facts.width}x${facts.height}`;
  if (Math.min(facts.width, facts.height) < minSide) {
    return { rule: 'too-small', reason: `${size} pixels: a side is under ${minSide}` };
  }
  if (checks.minWidth !== undefined && facts.width < checks.minWidth) {
    return { rule: 'min-width', reason: `${size} pixels: narrower than ${checks.minWidth}` };
  }
  if (checks.minHeight !== undefined && facts.height < checks.minHeight) {
    return { rule: 'min-height', reason: `${size} pixels: lower than ${checks.minHeight}` };
  }
  if (checks.refuseBlank && facts.blank)
    return { rule: 'blank', reason: 'a blank frame (one flat colour, or fully transparent)' };
  return null;
}

/**
 * Checks every produced file, one at a time (each image is decoded in full).
 *
 * @returns the files that passed, per slot and in the recipe's order, and the refused ones.
 */
export async function gateOutputs(
  produced: RecipeResult,
  checks: OutputChecks,
  logger: Logger,
): Promise<{ passed: RecipeResult; refused: RefusedOutput[] }> {
  const passed: RecipeResult = new Map();
  const refused: RefusedOutput[] = [];
  for (const [mappingKeyId, files] of produced) {
    const kept: ProducedFile[] = [];
    for (const file of files) {
      const failure = await checkOutput(file, checks);
      if (failure === null) {
        kept.push(file);
        continue;
      }
      const entry = { mappingKeyId, fileName: file.fileName, ...failure };
      logger.warn(entry, 'produced file refused by the result gate');
      refused.push(entry);
    }
    passed.set(mappingKeyId, kept);
  }
  return { passed, refused };
}
