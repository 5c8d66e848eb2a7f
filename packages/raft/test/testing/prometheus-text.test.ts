import { describe, expect, it } from 'vitest';
import { PrometheusTextError, parsePrometheusText } from '../../src/testing/prometheus-text.js';

const family = (lines: string[]) => `${lines.join('\n')}\n`;
const hist = (buckets: [string, number][], count: number, sum = '1') =>
  family([
    '# HELP h_seconds x',
    '# TYPE h_seconds histogram',
    ...buckets.map(([le, n]) => `h_seconds_bucket{le="${le}"} ${n}`),
    `h_seconds_sum ${sum}`,
    `h_seconds_count ${count}`,
  ]);

describe('parsePrometheusText', () => {
  it('parses families, labels and values', () => {
    const f = parsePrometheusText(
      family([
        '# HELP a_total A.',
        '# TYPE a_total counter',
        'a_total{x="1",y="q\\"z"} 3',
        'a_total{x="2"} 4',
      ]),
    );
    expect(f.get('a_total')).toEqual({
      name: 'a_total',
      type: 'counter',
      help: 'A.',
      samples: [
        { name: 'a_total', labels: { x: '1', y: 'q"z' }, value: 3 },
        { name: 'a_total', labels: { x: '2' }, value: 4 },
      ],
    });
    expect(
      parsePrometheusText(
        hist(
          [
            ['0.1', 1],
            ['+Inf', 2],
          ],
          2,
        ),
      ).get('h_seconds')?.samples,
    ).toHaveLength(4);
  });

  it.each([
    ['no final newline', '# HELP g x\n# TYPE g gauge\ng 1', /final newline/],
    ['a sample before its TYPE', 'g 1\n', /before any TYPE/],
    ['TYPE without HELP', '# TYPE g gauge\ng 1\n', /without a HELP/],
    [
      'a family twice',
      family(['# HELP g x', '# TYPE g gauge', 'g 1', '# HELP g x', '# TYPE g gauge', 'g 2']),
      /twice/,
    ],
    ['a counter without _total', family(['# HELP c x', '# TYPE c counter', 'c 1']), /_total/],
    ['a negative counter', family(['# HELP c_total x', '# TYPE c_total counter', 'c_total -1']), /negative/],
    ['a sample of another family', family(['# HELP g x', '# TYPE g gauge', 'h 1']), /outside family g/],
    ['a bad value', family(['# HELP g x', '# TYPE g gauge', 'g one']), /malformed sample|bad value/],
    ['malformed labels', family(['# HELP g x', '# TYPE g gauge', 'g{a=1} 1']), /malformed labels/],
    ['a trailing comma', family(['# HELP g x', '# TYPE g gauge', 'g{a="1",} 1']), /malformed labels/],
    ['a blank line', family(['# HELP g x', '# TYPE g gauge', '', 'g 1']), /blank/],
    [
      'buckets not cumulative',
      hist(
        [
          ['0.1', 2],
          ['0.2', 1],
          ['+Inf', 2],
        ],
        2,
      ),
      /cumulative/,
    ],
    [
      'le not ascending',
      hist(
        [
          ['0.2', 1],
          ['0.1', 1],
          ['+Inf', 2],
        ],
        2,
      ),
      /ascending/,
    ],
    [
      '+Inf differing from _count',
      hist(
        [
          ['0.1', 1],
          ['+Inf', 2],
        ],
        3,
      ),
      /differs/,
    ],
    ['no +Inf bucket', hist([['0.1', 1]], 1), /\+Inf/],
  ])('refuses %s, naming the line', (_what, text, why) => {
    expect(() => parsePrometheusText(text)).toThrow(PrometheusTextError);
    expect(() => parsePrometheusText(text)).toThrow(why);
    expect(() => parsePrometheusText(text)).toThrow(/line \d+/);
  });
});
