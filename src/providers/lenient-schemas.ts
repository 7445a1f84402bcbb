/**
 * The lenient zod primitives of the AI providers' response schemas: the providers' documentation is
 * thin, so numbers may arrive as numeric strings, text may be missing, null or blank, and ids may be
 * numbers. Surrounding whitespace is never significant in these values and is trimmed.
 */
import { z } from 'zod';

/** A number that may arrive as a JSON number or a numeric string. */
export const numberLike = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);

/** A string that may be missing or null; blank means "none" as well. Trimmed. */
export const optionalText = z
  .string()
  .nullish()
  .transform((v) => (v?.trim() ? v.trim() : null));

/** An id: a non-blank string, trimmed; a number is accepted and turned into its string. */
export const idLike = z.union([z.string().trim().min(1), z.number().int()]).transform(String);

/**
 * An ISO 8601 date-time as epoch milliseconds; one without an offset is UTC. Missing, null or
 * unreadable is null: the caller decides what an unknown time means.
 */
export const optionalDateTime = z
  .string()
  .nullish()
  .catch(null)
  .transform((v) => {
    const text = v?.trim();
    if (!text) return null;
    const ms = Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(text) || !text.includes('T') ? text : `${text}Z`);
    return Number.isNaN(ms) ? null : ms;
  });
