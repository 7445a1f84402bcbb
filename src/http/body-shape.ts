/**
 * The zod check of a 2xx response body, provider-neutral: each client layer raises its own
 * BAD_RESPONSE error (CF_BAD_RESPONSE / PROVIDER_BAD_RESPONSE) from the result.
 */
import type { z } from 'zod';

/** One field of a body that does not match its schema. */
export interface BodyShapeIssue {
  /** Dotted path of the field, `(root)` for the body itself. */
  field: string;
  message: string;
}

/** The outcome of checkBodyShape. */
export type BodyShapeCheck<T> =
  | { ok: true; value: T }
  /** `summary` names the first bad field ("field: message"), for the error message. */
  | { ok: false; issues: BodyShapeIssue[]; summary: string };

/** Checks a value taken from a 2xx body against its schema. */
export function checkBodyShape<S extends z.ZodType>(schema: S, value: unknown): BodyShapeCheck<z.output<S>> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const first = issues[0];
  return { ok: false, issues, summary: first ? `${first.field}: ${first.message}` : 'invalid' };
}
