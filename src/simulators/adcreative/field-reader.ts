/**
 * Reads query or form values the way ASP.NET model binding does, collecting its messages per
 * field for the validation error shape.
 */

import type { Reply } from '../harness/http-io.ts';
import { validationError } from './error-bodies.ts';

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `text` is a GUID in its usual hyphenated form. */
export function isGuid(text: string): boolean {
  return guidPattern.test(text);
}

/** Collects binding errors while reading values by name. */
export class FieldReader {
  readonly #get: (name: string) => string | undefined;
  readonly #errors: Record<string, string[]> = {};

  constructor(get: (name: string) => string | undefined) {
    this.#get = get;
  }

  /** A required non-empty value. */
  text(name: string): string {
    const value = this.#get(name)?.trim() ?? '';
    if (value === '') this.fail(name, `The ${name} field is required.`);
    return value;
  }

  /** A required GUID. */
  guid(name: string): string {
    const value = this.text(name);
    if (value !== '' && !isGuid(value)) this.fail(name, `The value '${value}' is not valid.`);
    return value;
  }

  /** An optional integer; `fallback` when absent or empty. */
  integer(name: string, fallback: number): number;
  /** A required integer (`NaN` when missing or invalid, with the error recorded). */
  integer(name: string): number;
  integer(name: string, fallback?: number): number {
    const raw = this.#get(name)?.trim() ?? '';
    if (raw === '') {
      if (fallback !== undefined) return fallback;
      this.fail(name, `The ${name} field is required.`);
      return Number.NaN;
    }
    if (!/^[+-]?\d+$/.test(raw)) {
      this.fail(name, `The value '${raw}' is not valid for ${name}.`);
      return Number.NaN;
    }
    return Number(raw);
  }

  /** An optional floating-point number; `fallback` when absent or empty. */
  decimal(name: string, fallback: number): number {
    const raw = this.#get(name)?.trim() ?? '';
    if (raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value)) {
      this.fail(name, `The value '${raw}' is not valid for ${name}.`);
      return fallback;
    }
    return value;
  }

  /** An optional boolean (`true`/`false`, any case); `fallback` when absent or empty. */
  flag(name: string, fallback: boolean): boolean {
    const raw = this.#get(name)?.trim().toLowerCase() ?? '';
    if (raw === '') return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    this.fail(name, `The value '${this.#get(name)}' is not valid for ${name}.`);
    return fallback;
  }

  /** Records an error for `name`. */
  fail(name: string, message: string): void {
    this.#errors[name] = [...(this.#errors[name] ?? []), message];
  }

  /** The validation error reply when anything failed, else `undefined`. */
  problem(): Reply | undefined {
    return Object.keys(this.#errors).length > 0 ? validationError({ ...this.#errors }) : undefined;
  }
}
