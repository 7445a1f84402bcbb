/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws, naming
 * the line, on anything Prometheus would refuse or a careful reader would call wrong.
 *
 * Written here because the one parser of the format on npm (parse-prometheus-text-format 1.1.1,
 * without types) is lenient: it takes any characters in metric names, keeps values as unchecked
 * strings, and checks neither that TYPE comes before a family's samples nor that a histogram's
 * buckets add up, which are the mistakes a hand-assembled exposition (ours joins prom-client's
 * text and BullMQ's) can make.
 *
 * Checked: metric and label names; label value escapes (`\\`, `\"`, `\n` only); values (floats,
 * NaN and ±Inf as Go's ParseFloat reads them) and optional integer timestamps; at most one HELP
 * and one TYPE per family, TYPE before its samples; each family's lines together; no sample twice
 * with the same labels; counters never negative; histogram buckets with `le`, cumulative, ending
 * with `+Inf` equal to `_count`, with `_sum`; summaries with `quantile`; the text ends with a line
 * feed.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name, e.g. `x_bucket` of the family `x`. */
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const floatText = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const types: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

class ParseError extends Error {
  constructor(lineNumber: number, line: string, problem: string) {
    super(`line ${lineNumber}: ${problem}: ${JSON.stringify(line)}`);
  }
}

/** A value as Go's strconv.ParseFloat reads it, which the format prescribes (NaN and Inf in any case). */
function parseValue(text: string): number | undefined {
  if (/^[+-]?nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  return floatText.test(text) ? Number(text) : undefined;
}

/** Reads `{a="1",b="2"}` from `line` at `start`; returns the labels and where they end. */
function parseLabels(
  line: string,
  start: number,
  fail: (problem: string) => never,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const skipBlanks = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  for (;;) {
    skipBlanks();
    if (line[i] === '}') return { labels, end: i + 1 };
    const nameStart = i;
    while (i < line.length && /[a-zA-Z0-9_]/.test(line[i] ?? '')) i++;
    const name = line.slice(nameStart, i);
    if (!labelName.test(name) || name.startsWith('__')) fail(`bad label name "${name}"`);
    if (name in labels) fail(`label "${name}" twice`);
    skipBlanks();
    if (line[i] !== '=') fail(`"=" expected after label "${name}"`);
    i++;
    skipBlanks();
    if (line[i] !== '"') fail(`quoted value expected for label "${name}"`);
    i++;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) fail(`label "${name}" has no closing quote`);
      if (c === '"') break;
      if (c === '\\') {
        const next = line[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(`bad escape "\\${next ?? ''}" in label "${name}"`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    skipBlanks();
    if (line[i] === ',') {
      i++;
      continue;
    }
    if (line[i] !== '}') fail(`"," or "}" expected after label "${name}"`);
  }
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(sampleName: string, declared: ReadonlyMap<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const type = declared.get(base)?.type;
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return sampleName;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name === `${family.name}_bucket`) {
      const bound = le === undefined ? undefined : parseValue(le);
      if (bound === undefined) throw new Error(`${family.name}: a bucket without a valid le label`);
      group.buckets.push({ le: bound, value: sample.value });
    } else if (sample.name === `${family.name}_sum`) group.sum = sample.value;
    else if (sample.name === `${family.name}_count`) group.count = sample.value;
    else throw new Error(`${family.name}: histogram sample ${sample.name} is not a bucket, sum or count`);
  }
  for (const [key, { buckets, sum, count }] of groups) {
    const where = `${family.name}${key === '[]' ? '' : ` ${key}`}`;
    if (sum === undefined || count === undefined) throw new Error(`${where}: histogram without _sum or _count`);
    for (let b = 1; b < buckets.length; b++) {
      const [previous, current] = [buckets[b - 1], buckets[b]];
      if (!previous || !current || current.le <= previous.le) throw new Error(`${where}: buckets not in increasing le order`);
      if (current.value < previous.value) throw new Error(`${where}: buckets not cumulative`);
    }
    const last = buckets.at(-1);
    if (last?.le !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no le="+Inf" bucket`);
    if (last.value !== count) throw new Error(`${where}: the +Inf bucket (${last.value}) is not _count (${count})`);
  }
}

/** Parses an exposition; throws on the first problem, naming its line. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the text does not end with a line feed');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const declare = (name: string): Family => {
    if (current && current.name !== name) closed.add(current.name);
    let family = families.get(name);
    if (!family) {
      if (closed.has(name)) throw new Error(`${name}: its lines are not together`);
      family = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, family);
    } else if (closed.has(name)) throw new Error(`${name}: its lines are not together`);
    current = family;
    return family;
  };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const fail = (problem: string): never => {
      throw new ParseError(index + 1, line, problem);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name = '', rest = ''] = match;
      if (!metricName.test(name)) fail(`bad metric name "${name}"`);
      const family = declare(name);
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail('a second HELP');
        if (!/^(?:[^\\]|\\[\\n])*$/.test(rest)) fail('bad escape in HELP (only \\\\ and \\n)');
        family.help = rest;
        return;
      }
      if (!types.includes(rest as MetricType)) fail(`unknown type "${rest}"`);
      if (family.samples.length > 0) fail('TYPE after samples');
      if (family.type !== 'untyped' || seen.has(`${name} TYPE`)) fail('a second TYPE');
      seen.add(`${name} TYPE`);
      family.type = rest as MetricType;
      return;
    }
    const nameEnd = line.search(/[{ \t]/);
    const name = nameEnd < 0 ? line : line.slice(0, nameEnd);
    if (!metricName.test(name)) fail(`bad metric name "${name}"`);
    let rest = nameEnd < 0 ? '' : line.slice(nameEnd);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, nameEnd, fail);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const fields = rest.trim().split(/[ \t]+/);
    if (fields.length < 1 || fields.length > 2 || fields[0] === '') fail('a value (and optional timestamp) expected');
    const value = parseValue(fields[0] ?? '');
    if (value === undefined) fail(`bad value "${fields[0]}"`);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) fail(`bad timestamp "${fields[1]}"`);
    const family = declare(familyOf(name, families));
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) fail('the same sample twice');
    seen.add(key);
    if (family.type === 'counter' && (value as number) < 0) fail('a negative counter');
    if (family.type === 'summary' && name === family.name && labels.quantile === undefined)
      fail('a summary sample without quantile');
    family.samples.push({ name, labels, value: value as number });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** The value of the sample `name` whose labels include `labels`; 0 when there is none (a counter not yet moved). */
export function sampleValue(families: ReadonlyMap<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(familyOf(name, families));
  const sample = family?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([label, value]) => s.labels[label] === value),
  );
  return sample?.value ?? 0;
}
