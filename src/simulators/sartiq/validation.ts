/**
 * Request validation the way FastAPI and pydantic v2 (lax mode) do it: the JSON body is read,
 * each field is checked and coerced, and every problem becomes a `ValidationIssue` of the 422
 * `HTTPValidationError` (`type`, `loc`, `msg`, `input`, `ctx`).
 */
import type { Reply } from '../harness/http-io.ts';
import { type ValidationIssue, validationFailed } from './errors.ts';

/** A value, or the reply that refuses the request. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/** Bounds of a numeric field, as pydantic's `gt` / `ge` / `le`. */
export interface Bounds {
  gt?: number;
  ge?: number;
  le?: number;
}

/** How a field reads: `fallback` when absent; `nullable` false makes `null` a type error (pydantic `int = 4`). */
interface FieldOptions<T> {
  fallback?: T;
  nullable?: boolean;
}

/** Bounds of a string field's length, as pydantic's `min_length` / `max_length`. */
export interface LengthBounds {
  minLength?: number;
  maxLength?: number;
}

const uuidPattern = /^(?:urn:uuid:)?\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;
const truthy = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const falsy = new Set(['false', '0', 'no', 'off', 'f', 'n']);

/** The UUID in its canonical form (lower case, hyphenated), or `undefined` when `text` is none. */
export function canonicalUuid(text: string): string | undefined {
  const m = uuidPattern.exec(text.trim());
  return m ? m.slice(1, 6).join('-').toLowerCase() : undefined;
}

/**
 * The JSON object body of a request, as FastAPI reads it: an empty body is "Field required" at
 * `["body"]` unless `emptyIsObject` (then `{}`); a body sent with a Content-Type that is not JSON
 * is not parsed (so `model_attributes_type`); invalid JSON is `json_invalid`; anything but an
 * object is `model_attributes_type`.
 */
export function readJsonObject(
  request: { body: Buffer; contentType: string | undefined },
  emptyIsObject = false,
): Checked<Record<string, unknown>> {
  const text = request.body.toString('utf8');
  if (text.trim() === '') {
    if (emptyIsObject) return { ok: true, value: {} };
    return refuse({ type: 'missing', loc: ['body'], msg: 'Field required', input: null });
  }
  const mediaType = request.contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (mediaType !== undefined && mediaType !== 'application/json' && !/^application\/.+\+json$/.test(mediaType)) {
    return refuse(notAnObject(text));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    return refuse({
      type: 'json_invalid',
      loc: ['body', position === undefined ? 0 : Number(position)],
      msg: 'JSON decode error',
      input: {},
      ctx: { error: 'Expecting value' },
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse(notAnObject(value));
  return { ok: true, value: value as Record<string, unknown> };
}

function notAnObject(input: unknown): ValidationIssue {
  return {
    type: 'model_attributes_type',
    loc: ['body'],
    msg: 'Input should be a valid dictionary or object to extract fields from',
    input,
  };
}

/** A path parameter typed `uuid`, canonical; a 422 at `["path", name]` otherwise. */
export function pathUuid(name: string, value: string): Checked<string> {
  const reader = new FieldReader({ [name]: value }, 'path');
  const id = reader.uuid(name);
  const problem = reader.problem();
  return problem ? { ok: false, reply: problem } : { ok: true, value: id ?? value };
}

function refuse(issue: ValidationIssue): Checked<never> {
  return { ok: false, reply: validationFailed([issue]) };
}

/** Reads the fields of a body (or query) object, collecting pydantic's issues. */
export class FieldReader {
  readonly #source: Record<string, unknown>;
  readonly #location: string;
  readonly #issues: ValidationIssue[] = [];

  constructor(source: Record<string, unknown>, location: 'body' | 'query' | 'path' = 'body') {
    this.#source = source;
    this.#location = location;
  }

  /** True when the field is present and not null. */
  has(name: string): boolean {
    return this.#source[name] !== undefined && this.#source[name] !== null;
  }

  /** A required string; `null` (with the issue recorded) when missing or not a string. */
  requiredString(name: string, bounds: LengthBounds = {}): string | null {
    if (this.#source[name] === undefined) {
      this.#issue('missing', [name], 'Field required', this.#source);
      return null;
    }
    return this.string(name, { nullable: false, ...bounds });
  }

  /** An optional string. */
  string(name: string, options: FieldOptions<string> & LengthBounds = {}): string | null {
    const value = this.#read(name, options, (raw) =>
      typeof raw === 'string' ? raw : this.#typeError(name, 'string_type', 'Input should be a valid string', raw),
    );
    return this.#lengthBounded(name, value, options);
  }

  /**
   * Refuses every field but `allowed`, as a pydantic model with `extra="forbid"` does
   * (`extra_forbidden`).
   */
  forbidOthers(allowed: readonly string[]): void {
    for (const [name, value] of Object.entries(this.#source)) {
      if (!allowed.includes(name)) this.#issue('extra_forbidden', [name], 'Extra inputs are not permitted', value);
    }
  }

  /** An optional integer (lax: integral numbers and numeric strings). */
  integer(name: string, options: FieldOptions<number> & Bounds = {}): number | null {
    const value = this.#read(name, options, (raw) => {
      if (typeof raw === 'number' && Number.isFinite(raw)) {
        if (Number.isInteger(raw)) return raw;
        return this.#typeError(
          name,
          'int_from_float',
          'Input should be a valid integer, got a number with a fractional part',
          raw,
        );
      }
      if (typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw)) return Number(raw);
      if (typeof raw === 'string') {
        return this.#typeError(name, 'int_parsing', 'Input should be a valid integer, unable to parse string as an integer', raw);
      }
      return this.#typeError(name, 'int_type', 'Input should be a valid integer', raw);
    });
    return this.#bounded(name, value, options);
  }

  /** An optional number (lax: numeric strings). */
  number(name: string, options: FieldOptions<number> & Bounds = {}): number | null {
    const value = this.#read(name, options, (raw) => {
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
      if (typeof raw === 'string') {
        return this.#typeError(name, 'float_parsing', 'Input should be a valid number, unable to parse string as a number', raw);
      }
      return this.#typeError(name, 'float_type', 'Input should be a valid number', raw);
    });
    return this.#bounded(name, value, options);
  }

  /** A boolean with a default (lax: 0/1 and the usual words). */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.#read(name, { fallback, nullable: false }, (raw) => {
      if (typeof raw === 'boolean') return raw;
      if (raw === 0 || raw === 1) return raw === 1;
      if (typeof raw === 'string') {
        const word = raw.trim().toLowerCase();
        if (truthy.has(word)) return true;
        if (falsy.has(word)) return false;
        return this.#typeError(name, 'bool_parsing', 'Input should be a valid boolean, unable to interpret input', raw);
      }
      return this.#typeError(name, 'bool_type', 'Input should be a valid boolean', raw);
    });
    return value ?? fallback;
  }

  /** An optional UUID, canonical. */
  uuid(name: string): string | null {
    return this.#read(name, {}, (raw) => {
      if (typeof raw !== 'string') {
        return this.#typeError(name, 'uuid_type', 'UUID input should be a string, bytes or UUID object', raw);
      }
      return (
        canonicalUuid(raw) ??
        this.#typeError(name, 'uuid_parsing', 'Input should be a valid UUID, unable to parse string as a UUID', raw)
      );
    });
  }

  /**
   * An optional date-time, as epoch ms: ISO 8601 (a date alone is midnight UTC; no offset is UTC,
   * as pydantic reads a naive datetime here).
   */
  dateTime(name: string): number | null {
    return this.#read(name, {}, (raw) => {
      const text = typeof raw === 'string' ? raw.trim() : '';
      const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text);
      const ms = iso ? Date.parse(iso[1] && !iso[4] ? `${text}Z` : text) : Number.NaN;
      if (!Number.isNaN(ms)) return ms;
      return this.#typeError(name, 'datetime_from_date_parsing', 'Input should be a valid datetime or date', raw);
    });
  }

  /** An optional list of strings. */
  strings(name: string, options: FieldOptions<string[]> = {}): string[] | null {
    return this.#read(name, options, (raw) => {
      if (!Array.isArray(raw)) return this.#typeError(name, 'list_type', 'Input should be a valid list', raw);
      return raw.map((item, index) => {
        if (typeof item === 'string') return item;
        this.#issue('string_type', [name, index], 'Input should be a valid string', item);
        return '';
      });
    });
  }

  /** An optional list of UUIDs, canonical. */
  uuids(name: string): string[] | null {
    return this.#read(name, {}, (raw) => {
      if (!Array.isArray(raw)) return this.#typeError(name, 'list_type', 'Input should be a valid list', raw);
      return raw.map((item, index) => {
        const id = typeof item === 'string' ? canonicalUuid(item) : undefined;
        if (id !== undefined) return id;
        this.#issue('uuid_parsing', [name, index], 'Input should be a valid UUID, unable to parse string as a UUID', item);
        return '';
      });
    });
  }

  /** An optional JSON object (pydantic `dict`). */
  object(name: string): Record<string, unknown> | null {
    return this.#read(name, {}, (raw) =>
      typeof raw === 'object' && raw !== null && !Array.isArray(raw)
        ? (raw as Record<string, unknown>)
        : this.#typeError(name, 'dict_type', 'Input should be a valid dictionary', raw),
    );
  }

  /** An optional value of a string enum. */
  choice<T extends string>(name: string, values: readonly T[], options: FieldOptions<T> = {}): T | null {
    return this.#read(name, options, (raw) => {
      const found = values.find((v) => v === raw);
      if (found !== undefined) return found;
      const quoted = values.map((v) => `'${v}'`);
      const expected = quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}` : (quoted[0] ?? '');
      this.#issue('enum', [name], `Input should be ${expected}`, raw, { expected });
      return null;
    });
  }

  /** A model-validator failure (`value_error`), at the field or at the whole body. */
  valueError(message: string, field?: string): void {
    const input = field === undefined ? this.#source : this.#source[field];
    this.#issue('value_error', field === undefined ? [] : [field], `Value error, ${message}`, input, { error: {} });
  }

  /** True when some field failed. */
  failed(): boolean {
    return this.#issues.length > 0;
  }

  /** The 422 when anything failed, else `undefined`. */
  problem(): Reply | undefined {
    return this.failed() ? validationFailed(this.#issues) : undefined;
  }

  #read<T>(name: string, options: FieldOptions<T>, parse: (raw: unknown) => T | null): T | null {
    const raw = this.#source[name];
    if (raw === undefined) return options.fallback ?? null;
    if (raw === null) {
      if (options.nullable === false) return parse(raw);
      return null;
    }
    return parse(raw);
  }

  #bounded(name: string, value: number | null, bounds: Bounds): number | null {
    if (value === null) return null;
    if (bounds.gt !== undefined && !(value > bounds.gt)) {
      this.#issue('greater_than', [name], `Input should be greater than ${bounds.gt}`, value, { gt: bounds.gt });
      return null;
    }
    if (bounds.ge !== undefined && !(value >= bounds.ge)) {
      this.#issue('greater_than_equal', [name], `Input should be greater than or equal to ${bounds.ge}`, value, {
        ge: bounds.ge,
      });
      return null;
    }
    if (bounds.le !== undefined && !(value <= bounds.le)) {
      this.#issue('less_than_equal', [name], `Input should be less than or equal to ${bounds.le}`, value, { le: bounds.le });
      return null;
    }
    return value;
  }

  #lengthBounded(name: string, value: string | null, bounds: LengthBounds): string | null {
    if (value === null) return null;
    const { minLength, maxLength } = bounds;
    if (minLength !== undefined && value.length < minLength) {
      const unit = minLength === 1 ? 'character' : 'characters';
      this.#issue('string_too_short', [name], `String should have at least ${minLength} ${unit}`, value, {
        min_length: minLength,
      });
      return null;
    }
    if (maxLength !== undefined && value.length > maxLength) {
      this.#issue('string_too_long', [name], `String should have at most ${maxLength} characters`, value, {
        max_length: maxLength,
      });
      return null;
    }
    return value;
  }

  #typeError(name: string, type: string, msg: string, input: unknown): null {
    this.#issue(type, [name], msg, input);
    return null;
  }

  #issue(type: string, loc: (string | number)[], msg: string, input: unknown, ctx?: Record<string, unknown>): void {
    const issue: ValidationIssue = { type, loc: [this.#location, ...loc], msg, input };
    if (ctx) issue.ctx = ctx;
    this.#issues.push(issue);
  }
}
