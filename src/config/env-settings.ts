/**
 * The zod parsers environment settings are written with, shared by the service's own settings
 * (env.ts) and the providers' (each provider module's `environment`). Values arrive as strings.
 */
import { z } from 'zod';

/** An integer between `min` and `max`, from its decimal text. */
export const intSetting = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A setting without a default: unset when the variable is absent or empty (as .env.example leaves it). */
export const optionalSetting = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

/** An http(s) URL. */
export const httpUrlSetting = z.url({ protocol: /^https?$/ });

/** A path of a remote API, relative to its base URL. */
export const pathSetting = z.string().regex(/^\//, 'must start with /');

/**
 * A comma-separated list of words (e.g. the status values of a remote API), each trimmed, at least
 * one; `defaults` when the variable is not set.
 */
export const wordListSetting = (defaults: readonly string[]) =>
  z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((word) => word.trim())
        .filter((word) => word !== ''),
    )
    .pipe(z.array(z.string()).min(1, 'give at least one word (comma-separated)'))
    .default([...defaults]);

/** The name of a field of a remote API's JSON body. */
export const fieldNameSetting = z.string().regex(/^\w+$/, 'must be a field name (letters, digits, _)');

/**
 * Comma-separated `name=value` pairs over `defaults`, e.g. `edit=EDITING, video=VIDEO`: each name
 * one of `names` (at most once), each value valid for `value`; the names left out keep their default.
 */
export function namePairsSetting<const K extends string>(
  names: readonly K[],
  defaults: Readonly<Record<K, string>>,
  value: z.ZodType<string>,
) {
  return z
    .string()
    .default('')
    .transform((text, ctx): Record<K, string> => {
      const pairs: Record<K, string> = { ...defaults };
      const seen = new Set<string>();
      for (const pair of text
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const [name = '', sent = '', ...rest] = pair.split('=').map((part) => part.trim());
        const valid = (names as readonly string[]).includes(name) && rest.length === 0 && value.safeParse(sent).success;
        if (!valid || seen.has(name)) {
          ctx.addIssue({
            code: 'custom',
            message: seen.has(name)
              ? `"${name}" is given twice`
              : `"${pair}" is not name=value with name one of ${names.join(', ')} and a valid value`,
          });
          continue;
        }
        seen.add(name);
        pairs[name as K] = sent;
      }
      return pairs;
    });
}
