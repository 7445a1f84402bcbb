/**
 * The Retry-After header of a 429 or 503 answer (RFC 9110 §10.2.3), provider-neutral.
 */

/**
 * Retry-After as ms from now: delta-seconds or an HTTP date. Undefined when absent or invalid; a
 * date in the past is 0. Of a repeated header, the first value counts.
 */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
