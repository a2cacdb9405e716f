/**
 * Exact rollups (src/metering/rollups.ts, rolled-query.ts): every rollup-backed meter query must give
 * exactly what the raw statement gives. Randomized events (numbers, decimal strings, non-numbers, nulls,
 * missing values and dimensions, microsecond and tied times), ingested in phases around rolls (so both the
 * roll and the ingest path build rows), with resends; then thousands of random queries (windows starting
 * and ending inside hours, unbounded starts, buckets of an hour, a day and a month in time zones whose
 * offsets are not whole hours, group-bys, filters, customers' ownership windows) compared with the raw
 * answer: zero differences allowed. Plus: the query really reads the rollups, `check` finds a corrupted
 * row and `rebuild` repairs it, a meter created after its events, a dimension added, ingestion racing rolls.
 */
import { RequestContext } from '@mikro-orm/core';
import type { SubjectWindow } from '../../src/customers/service';
import { exec, Sql } from '../../src/db/sql';
import type { IngestEvent } from '../../src/metering/events';
import {
  createMeter,
  ingestEvents,
  queryMeter,
  updateMeter,
  type MeterDto,
  type MeterQuery,
} from '../../src/metering/service';
import { logger } from '../../src/lib/logger';
import {
  checkRollups,
  resetRollups,
  rollForward,
  rollupState,
  startRollups,
} from '../../src/metering/rollups';
import { createTestApp, type TestApp } from '../support/app';
import { rng } from '../support/rng';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-25T00:00:00Z'); // spans the EU daylight-saving switch (2026-03-29)
const SPAN = 12 * DAY;
const SUBJECTS = ['s-1', 's-2', 's-3', 's-4'];
const VALUES: unknown[] = [
  1,
  2,
  3,
  0.25,
  -4,
  1e3,
  '3',
  '0.5',
  '-2',
  '1e2',
  '7.125',
  'abc',
  '',
  true,
  null,
  1e19,
  12345.678,
];
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'America/St_Johns',
  'America/New_York',
];

let app: TestApp;
const em = () => app.db.orm.em.fork();
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

function iso(ms: number, rand: () => number): string {
  const s = new Date(ms).toISOString();
  // a third of the events carry microseconds
  return rand() < 0.33 ? s.replace('Z', `${String(Math.floor(rand() * 1000)).padStart(3, '0')}Z`) : s;
}

function randomEvents(rand: () => number, n: number, prefix: string, type: string): IngestEvent[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const out: IngestEvent[] = [];
  let last = T0;
  for (let i = 0; i < n; i++) {
    // some events share their predecessor's time exactly (ties for `latest`); some sit on the hour
    const t =
      rand() < 0.05
        ? last
        : rand() < 0.05
          ? T0 + Math.floor(rand() * 288) * HOUR
          : T0 + Math.floor(rand() * SPAN);
    last = t;
    const data: Record<string, unknown> = {};
    if (rand() > 0.08) data.v = pick(VALUES);
    if (rand() > 0.1) data.model = pick(['a', 'b', 'c']);
    if (rand() > 0.3) data.region = pick(['eu', 'us']);
    out.push({
      specversion: '1.0',
      id: `${prefix}-${i}`,
      source: 'rollups',
      type,
      subject: pick(SUBJECTS),
      time: iso(t, rand),
      data,
      datacontenttype: null,
      dataschema: null,
    });
  }
  return out;
}

async function ingest(events: IngestEvent[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < events.length; i += 500)
    n += await ingestEvents(em(), events.slice(i, i + 500), new Date());
  return n;
}

const AGGS = ['sum', 'count', 'avg', 'min', 'max', 'latest', 'unique_count'] as const;

async function meters(type: string, extra: Partial<MeterDto> = {}): Promise<Record<string, MeterDto>> {
  const out: Record<string, MeterDto> = {};
  for (const agg of AGGS)
    out[agg] = await createMeter(em(), {
      key: `${type}_${agg}`,
      name: agg,
      aggregation: agg,
      event_type: type,
      ...(agg === 'count' ? {} : { value_property: '$.v' }),
      dimensions: { model: '$.model', region: '$.region' },
      ...extra,
    });
  return out;
}

function randomQuery(rand: () => number): MeterQuery {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  // bounds inside an hour, on the hour, or on a day
  const at = () => {
    const base = T0 - DAY + Math.floor(rand() * (SPAN + 2 * DAY));
    const r = rand();
    return r < 0.2 ? Math.floor(base / HOUR) * HOUR : r < 0.3 ? Math.floor(base / DAY) * DAY : base;
  };
  const a = at();
  const b = at();
  const unbounded = rand() < 0.1;
  const mq: MeterQuery = {
    ...(unbounded ? {} : { from: new Date(Math.min(a, b)).toISOString() }),
    to: new Date(Math.max(a, b) + 1).toISOString(),
  };
  const g = rand();
  if (g < 0.25) mq.granularity = 'PT1H';
  else if (g < 0.55) mq.granularity = 'P1D';
  else if (g < 0.65) mq.granularity = 'P1M';
  if (mq.granularity && rand() < 0.6) mq.time_zone = pick(ZONES);
  mq.group_by_dimensions = pick([[], [], ['subject'], ['model'], ['region', 'model'], ['subject', 'region']]);
  const f = rand();
  if (f < 0.15) mq.filters = { dimensions: { model: { in: [pick(['a', 'b']), 'c'] } } };
  else if (f < 0.25) mq.filters = { dimensions: { region: { neq: 'eu' } } };
  else if (f < 0.3) mq.filters = { dimensions: { model: { nin: ['a'] }, subject: { eq: pick(SUBJECTS) } } };
  const s = rand();
  if (s < 0.3) mq.subjects = [pick(SUBJECTS), pick(SUBJECTS)];
  else if (s < 0.6) {
    // ownership windows: bounded, unbounded, overlapping, inside one hour
    const ws: (string | SubjectWindow)[] = [];
    for (let i = 0, k = 1 + Math.floor(rand() * 3); i < k; i++) {
      const x = at();
      const y = rand() < 0.2 ? x + Math.floor(rand() * HOUR) : at();
      const w: SubjectWindow = { subject: pick(SUBJECTS) };
      if (rand() < 0.8) w.from = new Date(Math.min(x, y)).toISOString();
      if (rand() < 0.8) w.to = new Date(Math.max(x, y)).toISOString();
      ws.push(w);
    }
    mq.subjects = ws;
  }
  return mq;
}

/** runs random queries on both paths; returns how many result rows were compared */
async function compareRandom(ms: Record<string, MeterDto>, rand: () => number, n: number): Promise<number> {
  let rows = 0;
  const diffs: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const meter = ms[AGGS[i % AGGS.length]];
    const mq = randomQuery(rand);
    // unique_count reads its rollups for one window (no buckets): most of its queries are so
    if (meter.aggregation === 'unique_count' && rand() < 0.7) delete mq.granularity;
    const rolled = await queryMeter(em(), meter, mq);
    const raw = await queryMeter(em(), meter, mq, { rollups: false });
    rows += raw.data.length;
    if (JSON.stringify(rolled) !== JSON.stringify(raw))
      diffs.push({ agg: meter.aggregation, mq, rolled: rolled.data.slice(0, 5), raw: raw.data.slice(0, 5) });
  }
  expect(diffs.slice(0, 3)).toEqual([]);
  return rows;
}

const rows = async (meterId: string) =>
  Number(
    (
      await exec<{ n: string }>(
        em(),
        new Sql().add(
          `select ((select count(*) from meter_rollups where meter_id = ?)
             + (select count(*) from meter_rollup_values where meter_id = ?))::text as n`,
          meterId,
          meterId,
        ),
      )
    )[0].n,
  );

describe('exact rollups', () => {
  it('answer every random query exactly as the raw events do (ingest and roll in phases, resends)', async () => {
    const rand = rng(20261203);
    const ms = await meters('rt', {});
    const events = randomEvents(rand, 6000, 'e', 'rt');
    // phase 1: half the events, then roll the first 5 days (a chunk of 7 hours per transaction)
    expect(await ingest(events.slice(0, 3000))).toBe(3000);
    for (const m of Object.values(ms))
      await rollForward(em(), m, { until: new Date(T0 + 5 * DAY), chunkHours: 7 });
    // phase 2: the rest (those before day 5 go through ingestion's own path), and a resend of everything
    expect(await ingest(events.slice(3000))).toBe(3000);
    expect(await ingest(events)).toBe(0);
    // the rollups now cover day 0 to 5; queries past it read raw events
    const st = await rollupState(em(), ms.sum.id);
    expect(st?.covered_to).toMatch(/^2026-03-30 00:00:00/);
    expect(await compareRandom(ms, rand, 600)).toBeGreaterThan(1000);
    // phase 3: roll everything, then late events into covered hours, and compare again
    for (const m of Object.values(ms)) await rollForward(em(), m, { until: new Date(T0 + SPAN + DAY) });
    expect(await ingest(randomEvents(rand, 1500, 'late', 'rt'))).toBe(1500);
    for (const m of Object.values(ms)) {
      expect(await checkRollups(em(), m.id)).toEqual({ rows: expect.any(Number), differing: 0 });
      expect(await rows(m.id)).toBeGreaterThan(500);
    }
    expect(await compareRandom(ms, rand, 900)).toBeGreaterThan(1500);
  }, 600_000);

  it('the query reads the rollups; check finds a corrupted row and rebuild repairs it', async () => {
    const rand = rng(7);
    const ms = await meters('rc', {});
    await ingest(randomEvents(rand, 800, 'c', 'rc'));
    await rollForward(em(), ms.sum, { until: new Date(T0 + SPAN + DAY) });
    const mq: MeterQuery = { from: new Date(T0).toISOString(), to: new Date(T0 + SPAN).toISOString() };
    const before = await queryMeter(em(), ms.sum, mq);
    expect(before).toEqual(await queryMeter(em(), ms.sum, mq, { rollups: false }));
    // a corrupted rollup row changes the rolled answer (so the rolled query did read it) and check sees it
    await exec(
      em(),
      new Sql().add(
        `update meter_rollups set s = s + 1000 where (meter_id, subject, hour, dims) =
           (select meter_id, subject, hour, dims from meter_rollups where meter_id = ? and s is not null limit 1)`,
        ms.sum.id,
      ),
    );
    const corrupted = await queryMeter(em(), ms.sum, mq);
    expect(corrupted.data[0].value).not.toBe(before.data[0].value);
    expect((await checkRollups(em(), ms.sum.id)).differing).toBe(1);
    await resetRollups(em(), ms.sum);
    // reset: nothing covered, answers from the raw events again; the roll rebuilds
    expect(await queryMeter(em(), ms.sum, mq)).toEqual(before);
    await rollForward(em(), ms.sum, { until: new Date(T0 + SPAN + DAY) });
    expect(await checkRollups(em(), ms.sum.id)).toEqual({ rows: expect.any(Number), differing: 0 });
    expect(await queryMeter(em(), ms.sum, mq)).toEqual(before);

    // unique_count: its month rows are read (a value's hours cleared changes the count), check sees it
    const u = ms.unique_count;
    await ingest(
      [10, 20].map((min, i) => ({
        specversion: '1.0',
        id: `seen-once-${i}`,
        source: 'rollups',
        type: 'rc',
        subject: 's-1',
        time: new Date(T0 + 3 * DAY + min * 60_000).toISOString(),
        data: { v: 'seen-once', model: 'a' },
        datacontenttype: null,
        dataschema: null,
      })),
    );
    await rollForward(em(), u, { until: new Date(T0 + SPAN + DAY) });
    expect(await checkRollups(em(), u.id)).toEqual({ rows: expect.any(Number), differing: 0 });
    const uq: MeterQuery = { ...mq, group_by_dimensions: ['subject'] };
    const uBefore = await queryMeter(em(), u, uq);
    expect(uBefore).toEqual(await queryMeter(em(), u, uq, { rollups: false }));
    // a value seen only inside the window, in one subject: clearing its bits drops it from the count
    const victim = { subject: 's-1', value: 'seen-once' };
    await exec(
      em(),
      new Sql().add(
        `update meter_rollup_values set hours = repeat('0', 744)::bit(744)
         where meter_id = ? and subject = ? and value = ?`,
        u.id,
        victim.subject,
        victim.value,
      ),
    );
    const uCorrupted = await queryMeter(em(), u, uq);
    const countOf = (r: typeof uBefore, subject: string) =>
      Number(r.data.find((d) => d.dimensions.subject === subject)?.value ?? 0);
    expect(countOf(uCorrupted, victim.subject)).toBe(countOf(uBefore, victim.subject) - 1);
    expect((await checkRollups(em(), u.id)).differing).toBe(1);
    await resetRollups(em(), u);
    await rollForward(em(), u, { until: new Date(T0 + SPAN + DAY) });
    expect(await checkRollups(em(), u.id)).toEqual({ rows: expect.any(Number), differing: 0 });
    expect(await queryMeter(em(), u, uq)).toEqual(uBefore);
  }, 120_000);

  it('a meter created after its events (events_from), then given another dimension', async () => {
    const rand = rng(99);
    await ingest(randomEvents(rand, 2000, 'd', 'rd'));
    const ms = await meters('rd', { events_from: new Date(T0 + 2 * DAY + 1234).toISOString() });
    for (const m of Object.values(ms)) await rollForward(em(), m, { until: new Date(T0 + 8 * DAY) });
    expect(await compareRandom(ms, rand, 300)).toBeGreaterThan(300);
    // a dimension added: the rows no longer match, queries read raw events until the next roll rebuilds
    await RequestContext.create(app.db.orm.em, () =>
      updateMeter(app.db.orm.em, ms.max.id, {
        dimensions: { model: '$.model', region: '$.region', k: '$.v' },
      }),
    );
    const withK = { ...ms.max, dimensions: { model: '$.model', region: '$.region', k: '$.v' } };
    const q: MeterQuery = {
      from: new Date(T0).toISOString(),
      to: new Date(T0 + SPAN).toISOString(),
      group_by_dimensions: ['k', 'model'],
    };
    expect(await queryMeter(em(), withK, q)).toEqual(await queryMeter(em(), withK, q, { rollups: false }));
    await rollForward(em(), withK, { until: new Date(T0 + SPAN + DAY) });
    expect(await checkRollups(em(), withK.id)).toEqual({ rows: expect.any(Number), differing: 0 });
    expect((await rollupState(em(), withK.id))?.dims_key).toContain('"k"');
    expect(await queryMeter(em(), withK, q)).toEqual(await queryMeter(em(), withK, q, { rollups: false }));
    expect(await compareRandom({ ...ms, max: withK }, rand, 300)).toBeGreaterThan(300);
  }, 300_000);

  it('ingestion racing rolls (and resends racing each other) loses and doubles nothing', async () => {
    const rand = rng(4242);
    const ms = await meters('rr', {});
    const events = randomEvents(rand, 4000, 'r', 'rr');
    await ingest(events.slice(0, 1000));
    // rolls in one-hour chunks while four writers send the rest, two of them the same batches
    const rolls = (async () => {
      for (const m of [ms.sum, ms.count, ms.latest, ms.unique_count])
        await rollForward(em(), m, { until: new Date(T0 + SPAN + DAY), chunkHours: 1 });
    })();
    const rest = events.slice(1000);
    const writers = [0, 1, 2, 3].map((w) => ingest(rest.filter((_, i) => i % 3 === w % 3)));
    const counts = await Promise.all([...writers, rolls.then(() => 0)]);
    // writers 0 and 3 sent the same events: one of them stored each
    expect(counts.slice(0, 4).reduce((a, b) => a + b, 0)).toBe(3000);
    for (const m of [ms.sum, ms.count, ms.latest, ms.unique_count])
      expect(await checkRollups(em(), m.id)).toEqual({ rows: expect.any(Number), differing: 0 });
    expect(
      await compareRandom(
        {
          sum: ms.sum,
          count: ms.count,
          avg: ms.sum,
          min: ms.count,
          max: ms.sum,
          latest: ms.latest,
          unique_count: ms.unique_count,
        },
        rand,
        300,
      ),
    ).toBeGreaterThan(300);
  }, 300_000);

  it("a customer filter reads the customers' ownership windows over rollups, as the raw attribution does", async () => {
    const rand = rng(555);
    const ms = await meters('rk', {});
    await ingest(randomEvents(rand, 1500, 'k', 'rk'));
    for (const m of Object.values(ms)) await rollForward(em(), m, { until: new Date(T0 + 7 * DAY) });
    const a = await app.api
      .post('/v3/openmeter/customers')
      .send({ key: 's-1', name: 'A', usage_attribution: { subject_keys: ['s-2'] } });
    const b = await app.api
      .post('/v3/openmeter/customers')
      .send({ key: 'cust-b', name: 'B', usage_attribution: { subject_keys: ['s-3'] } });
    expect([a.status, b.status]).toEqual([201, 201]);
    let compared = 0;
    for (let i = 0; i < 120; i++) {
      const meter = ms[AGGS[i % AGGS.length]];
      const mq = randomQuery(rand);
      delete mq.subjects;
      const ids = [a.body.id as string, b.body.id as string];
      mq.filters = {
        dimensions: {
          ...mq.filters?.dimensions,
          customer_id: i % 2 ? { eq: ids[i % 4 === 1 ? 0 : 1] } : { in: ids },
        },
      };
      const rolled = await queryMeter(em(), meter, mq);
      const raw = await queryMeter(em(), meter, mq, { rollups: false });
      expect({ mq, rows: rolled.data }).toEqual({ mq, rows: raw.data });
      compared += raw.data.length;
    }
    expect(compared).toBeGreaterThan(200);
  }, 300_000);

  it("the worker's roller rolls every meter forward to the last whole hour before the lag", async () => {
    const rand = rng(31);
    const ms = await meters('rw', {});
    await ingest(randomEvents(rand, 300, 'w', 'rw'));
    const roller = startRollups({ orm: app.db.orm, logger }, { intervalMs: 3_600_000, lagMs: 0 });
    await roller.tick();
    await roller.stop();
    const hour = new Date(Math.floor(Date.now() / HOUR) * HOUR);
    for (const m of Object.values(ms)) {
      const st = await rollupState(em(), m.id);
      expect(Date.parse(st!.covered_to.replace(' ', 'T').replace(/\+00$/, 'Z'))).toBeGreaterThanOrEqual(
        hour.getTime() - HOUR,
      );
      expect(await checkRollups(em(), m.id)).toEqual({ rows: expect.any(Number), differing: 0 });
      expect(await rows(m.id)).toBeGreaterThan(10);
    }
  }, 120_000);
});
