/**
 * The zod parsers environment settings are written with, shared by the service's own settings
 * (env.ts) and the providers' (each provider module's `environment`). Values arrive as strings.
 */
import { z } from 'zod';

/** An integer between `min` and `max`, from its decimal text. */
export const intSetting = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

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
