/**
 * Meter queries against a reference computed in JS on random data: unique_count, sum, count, min and max,
 * over random half-open periods, with and without day/hour buckets, grouped by subject and/or a dimension,
 * filtered by a dimension. Values mix JSON numbers, numeric strings, non-numeric strings, booleans, nulls
 * and missing properties. Guards the query rewrites made for speed (BENCHMARKS.md, `query`).
 */
import Decimal from 'decimal.js';
import { createMeter, queryMeter, type MeterDto, type MeterQuery } from '../../src/metering/service';
import { createTestApp, type TestApp } from '../support/app';
import { rng } from '../support/rng';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

interface Row {
  subject: string;
  time: number;
  v: unknown;
  model: string | undefined;
}

const NUMERIC = /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** `data #>> '{v}'` for the values generated here */
function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}
/** the numeric value, as the meter query reads it */
function num(v: unknown): Decimal | null {
  if (typeof v === 'number') return new Decimal(v);
  if (typeof v === 'string' && NUMERIC.test(v)) return new Decimal(v);
  return null;
}

function reference(
  rows: Row[],
  agg: 'unique_count' | 'sum' | 'count' | 'min' | 'max',
  q: { from: number; to: number; unit?: number; groupBy: ('subject' | 'model')[]; model?: string[] },
): Map<string, string> {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.time < q.from || r.time >= q.to) continue;
    if (q.model && (r.model === undefined || !q.model.includes(r.model))) continue;
    const bucket = q.unit ? Math.floor(r.time / q.unit) * q.unit : q.from;
    const key = [
      Math.max(bucket, q.from),
      ...q.groupBy.map((g) => (g === 'subject' ? r.subject : (r.model ?? null))),
    ];
    const k = JSON.stringify(key);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out = new Map<string, string>();
  for (const [k, rs] of groups) {
    let value: string | undefined;
    if (agg === 'count') value = String(rs.length);
    else if (agg === 'unique_count') {
      const vs = rs.map((r) => text(r.v)).filter((v): v is string => v !== null);
      if (vs.length) value = String(new Set(vs).size);
    } else {
      const ns = rs.map((r) => num(r.v)).filter((n): n is Decimal => n !== null);
      if (ns.length) {
        const d =
          agg === 'sum'
            ? ns.reduce((a, b) => a.plus(b), new Decimal(0))
            : agg === 'min'
              ? Decimal.min(...ns)
              : Decimal.max(...ns);
        value = d.toFixed();
      }
    }
    if (value !== undefined) out.set(k, value);
  }
  return out;
}

const VALUES: unknown[] = [1, 2, 3, 0.25, -4, 1e3, '3', '0.5', '-2', '1e2', 'abc', '', true, null, 12345.678];

describe('meter queries match a reference computed in JS on random data', () => {
  it('unique_count, sum, count, min, max; periods, buckets, group by, filters', async () => {
    const rand = rng(20261121);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const subjects = ['s-1', 's-2', 's-3', 's-4'];
    const models = ['a', 'b', 'c'];
    const rows: Row[] = [];
    const events = [];
    for (let i = 0; i < 1500; i++) {
      const r: Row = {
        subject: pick(subjects),
        time: T0 + Math.floor(rand() * 10 * DAY),
        v: rand() < 0.1 ? undefined : pick(VALUES),
        model: rand() < 0.1 ? undefined : pick(models),
      };
      rows.push(r);
      const data: Record<string, unknown> = {};
      if (r.v !== undefined) data.v = r.v;
      if (r.model !== undefined) data.model = r.model;
      events.push({
        specversion: '1.0',
        id: `ref-${i}`,
        source: 'ref',
        type: 'ref',
        subject: r.subject,
        time: new Date(r.time).toISOString(),
        data,
      });
    }
    const res = await app.api
      .post('/v3/openmeter/events')
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(JSON.stringify(events));
    expect(res.status).toBe(202);

    const em = () => app.db.orm.em.fork();
    const meters: Record<string, MeterDto> = {};
    for (const agg of ['unique_count', 'sum', 'count', 'min', 'max'] as const)
      meters[agg] = await createMeter(em(), {
        key: `ref_${agg}`,
        name: agg,
        aggregation: agg,
        event_type: 'ref',
        ...(agg === 'count' ? {} : { value_property: '$.v' }),
        dimensions: { model: '$.model' },
      });

    let compared = 0;
    for (let i = 0; i < 60; i++) {
      const agg = pick(['unique_count', 'sum', 'count', 'min', 'max'] as const);
      const a = T0 + Math.floor(rand() * 10 * DAY);
      const b = T0 + Math.floor(rand() * 10 * DAY);
      const from = Math.min(a, b);
      const to = Math.max(a, b) + 1;
      const unit = pick([undefined, DAY, HOUR]);
      const groupBy = pick([[], ['subject'], ['model'], ['subject', 'model']] as ('subject' | 'model')[][]);
      const model = rand() < 0.3 ? [pick(models)] : undefined;
      const mq: MeterQuery = {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        ...(unit ? { granularity: unit === DAY ? 'P1D' : 'PT1H' } : {}),
        group_by_dimensions: groupBy,
        ...(model ? { filters: { dimensions: { model: { in: model } } } } : {}),
      };
      const got = await queryMeter(em(), meters[agg], mq);
      const actual = new Map(
        got.data.map((r) => [
          JSON.stringify([Date.parse(r.from), ...groupBy.map((g) => r.dimensions[g] ?? null)]),
          r.value,
        ]),
      );
      const expected = reference(rows, agg, { from, to, unit, groupBy, model });
      expect({ agg, mq, rows: Object.fromEntries(actual) }).toEqual({
        agg,
        mq,
        rows: Object.fromEntries(expected),
      });
      compared += expected.size;
    }
    // the random queries did compare something
    expect(compared).toBeGreaterThan(100);
  });
});
