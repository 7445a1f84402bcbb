/**
 * HTML built from templates where every interpolated value is escaped unless it is already HTML
 * built this way: the console's pages show what Creative Force, the providers and the connections
 * file said (product codes, names, recipe options), and none of it may become markup.
 *
 * The escaping covers text and quoted attribute values (`&`, `<`, `>`, `"`, `'`), so every
 * attribute of a template is written in double quotes. URLs in attributes are built by the
 * console from its own paths with `encodeURIComponent` segments, never taken as given.
 */

/** A piece of HTML that is safe to insert as it is (it came from `html` or `escapeHtml`). */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

/** What a template may interpolate: nothing, false and null insert nothing; arrays are concatenated. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** The text, safe in HTML text and in a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => entities[c] ?? c);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false || value === true) return '';
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<td>${productCode}</td>\`` escapes `productCode`. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}
