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
