/**
 * The rolled meter statement's shape (its results are checked against the raw events in
 * test/integration/metering-rollups.test.ts): its size does not grow with a customer's ownership windows.
 */
import { buildMeterQuery, type MeterDto } from '../../src/metering/service';

const meter: MeterDto = {
  id: '01JTESTMETER00000000000000',
  key: 'tokens',
  name: 'tokens',
  aggregation: 'sum',
  event_type: 'prompt',
  value_property: '$.tokens',
  dimensions: { model: '$.model' },
  created_at: '2026-01-01T00:00:00.000000Z',
  updated_at: '2026-01-01T00:00:00.000000Z',
};
const windows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    subject: `s${i}`,
    from: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`,
    to: '2026-03-01T00:00:00Z',
  }));
const month = { from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z' };
/** the ranges the statement reads, from its one JSON parameter */
const ranges = (params: unknown[]) => {
  const json = params.filter((p): p is string => typeof p === 'string' && p.startsWith('[{'));
  expect(json).toHaveLength(1);
  return JSON.parse(json[0]) as { subject: string | null; f: string | null; t: string | null }[];
};

const users: MeterDto = { ...meter, key: 'users', aggregation: 'unique_count', value_property: '$.user' };

describe('rolled meter query', () => {
  it.each([
    ...[1, 10, 1000, 20_000].map((n) => ['sum', n, 'meter_rollups', meter] as const),
    ...[1, 1000, 20_000].map((n) => ['unique_count', n, 'meter_rollup_values', users] as const),
  ])(
    '%s, %i windowed subjects: reads %s, the same statement text and parameter count',
    (_agg, n, table, m) => {
      const one = buildMeterQuery(m, { ...month, subjects: windows(1) });
      const q = buildMeterQuery(m, { ...month, subjects: windows(n) });
      expect(q.text).toBe(one.text);
      expect(q.params.length).toBe(one.params.length);
      expect(q.text).toContain(table);
      expect(ranges(q.params)).toHaveLength(n);
    },
  );

  it('a subject owned in overlapping windows is read once, over their union; plain subjects are unbounded', () => {
    const q = buildMeterQuery(meter, {
      ...month,
      subjects: [
        { subject: 'a', from: '2026-01-01T00:00:00Z', to: '2026-02-10T00:00:00Z' },
        { subject: 'a', from: '2026-02-05T00:00:00Z', to: '2026-02-20T00:00:00Z' },
        { subject: 'a', from: '2026-02-25T00:00:00Z' },
        'b',
      ],
    });
    expect(ranges(q.params)).toEqual([
      { subject: 'a', f: '2026-01-01T00:00:00Z', t: '2026-02-20T00:00:00Z' },
      { subject: 'a', f: '2026-02-25T00:00:00Z', t: null },
      { subject: 'b', f: null, t: null },
    ]);
    expect(q.text).toContain('join rg on e.subject = rg.subject');
  });

  it('every subject is one range whose bounds are constants of the statement (no join on the ranges)', () => {
    const q = buildMeterQuery(meter, { ...month, granularity: 'P1D' });
    expect(ranges(q.params)).toEqual([{ subject: null, f: null, t: null }]);
    expect(q.text).not.toContain('join rg');
    expect(q.text).toContain('e.time >= (select rg.lo from rg)');
  });

  it('no subject at all is no row; minute buckets and rollups:false read the events', () => {
    expect(buildMeterQuery(meter, { ...month, subjects: [] }).text).toContain('where false');
    for (const q of [
      buildMeterQuery(meter, { ...month, granularity: 'PT1M', subjects: windows(3) }),
      buildMeterQuery(meter, { ...month, subjects: windows(3) }, { rollups: false }),
    ])
      expect(q.text).not.toContain('meter_rollups');
  });

  it('unique_count reads the events when bucketed, or without a start while a window starts inside', () => {
    const read = (mq: Parameters<typeof buildMeterQuery>[1]) => buildMeterQuery(users, mq).text;
    expect(read({ ...month, granularity: 'P1D', subjects: windows(3) })).not.toContain('meter_rollup');
    expect(read({ to: month.to, subjects: windows(3) })).not.toContain('meter_rollup');
    // no start, but windows that start unbounded (plain subjects): the month rows' earliest times serve
    expect(read({ to: month.to, subjects: ['a', { subject: 'b', to: month.to }] })).toContain(
      'meter_rollup_values',
    );
    expect(read({ ...month })).toContain('meter_rollup_values');
    expect(buildMeterQuery(users, month, { rollups: false }).text).not.toContain('meter_rollup');
  });
});
