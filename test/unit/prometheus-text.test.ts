/** The strict Prometheus text parser the metrics tests read `/metrics` with refuses what it should. */
import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';

const valid = `# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total{queue="a",state="done"} 3
jobs_total{queue="b\\"q\\\\",state="done"} 1.5e3 1700000000000
# A plain comment.
# TYPE wait_seconds histogram
wait_seconds_bucket{le="0.1"} 1
wait_seconds_bucket{le="1"} 2
wait_seconds_bucket{le="+Inf"} 2
wait_seconds_sum 0.6
wait_seconds_count 2
# TYPE depth gauge
depth{queue="a", state="waiting"} -Inf
depth{queue="b"} NaN
`;

describe('the Prometheus text parser of the tests', () => {
  it('reads a valid exposition: families, types, labels with escapes, values', () => {
    const families = parsePrometheusText(valid);
    expect([...families.keys()]).toEqual(['jobs_total', 'wait_seconds', 'depth']);
    expect(families.get('jobs_total')).toMatchObject({ type: 'counter', help: 'Jobs done.' });
    expect(sampleValue(families, 'jobs_total', { queue: 'b"q\\' })).toBe(1500);
    expect(sampleValue(families, 'wait_seconds_count')).toBe(2);
    expect(sampleValue(families, 'wait_seconds_bucket', { le: '0.1' })).toBe(1);
    expect(sampleValue(families, 'depth', { state: 'waiting' })).toBe(Number.NEGATIVE_INFINITY);
  });

  it.each([
    ['a metric name with a dash', 'bad-name 1\n', /bad metric name/],
    ['a value that is not a number', 'x{a="1"} one\n', /bad value/],
    ['a label value without quotes', 'x{a=1} 1\n', /quoted value/],
    ['a label without a closing quote', 'x{a="1} 1\n', /no closing quote/],
    ['an unknown escape', 'x{a="\\t"} 1\n', /bad escape/],
    ['a reserved label name', 'x{__name__="y"} 1\n', /bad label name/],
    ['the same label twice', 'x{a="1",a="2"} 1\n', /twice/],
    ['a TYPE after samples', 'x 1\n# TYPE x gauge\n', /TYPE after samples/],
    ['an unknown type', '# TYPE x meter\n', /unknown type/],
    ['two HELP lines', '# HELP x a\n# HELP x b\n', /second HELP/],
    ['a family whose lines are apart', 'x 1\ny 1\nx{a="1"} 2\n', /not together/],
    ['the same sample twice', 'x{a="1"} 1\nx{a="1"} 2\n', /same sample twice/],
    ['a negative counter', '# TYPE x_total counter\nx_total -1\n', /negative counter/],
    ['a bad timestamp', 'x 1 soon\n', /bad timestamp/],
    ['no line feed at the end', 'x 1', /line feed/],
    [
      'buckets that are not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      /not cumulative/,
    ],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['a +Inf bucket that is not the count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /is not _count/],
    ['a histogram without _sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', /_sum or _count/],
  ])('refuses %s', (_what, text, problem) => {
    expect(() => parsePrometheusText(text)).toThrow(problem);
  });
});
