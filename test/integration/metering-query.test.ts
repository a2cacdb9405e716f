import { aggregateUsage } from '../../src/metering/service';
import { createTestApp, type TestApp } from '../support/app';

let app: TestApp;
let seq = 0;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

async function meter(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await app.api.post('/v3/openmeter/meters').send({ name: String(body.key), ...body });
  expect(res.status).toBe(201);
  return res.body;
}

type Ev = { type: string; time: string; subject?: string; data?: unknown; id?: string };

async function send(events: Ev[]): Promise<void> {
  const res = await app.api
    .post('/v3/openmeter/events')
    .set('Content-Type', 'application/cloudevents-batch+json')
    .send(
      JSON.stringify(
        events.map((e) => ({
          specversion: '1.0',
          id: e.id ?? `q-${++seq}`,
          source: 'query-test',
          subject: e.subject ?? 'sub-1',
          type: e.type,
          time: e.time,
          data: e.data,
        })),
      ),
    );
  expect(res.status).toBe(202);
}

async function query(meterId: string, body: Record<string, unknown>) {
  const res = await app.api.post(`/v3/openmeter/meters/${meterId}/query`).send(body);
  if (res.status !== 200) throw new Error(`query failed ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as {
    from?: string;
    to?: string;
    data: { value: string; from: string; to: string; dimensions: Record<string, string | null> }[];
  };
}

const JAN = { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' };

describe('aggregations are exact', () => {
  it('sum adds decimals exactly (0.1 + 0.2 = 0.3), accepts numeric strings and ignores non-numeric values', async () => {
    const m = await meter({
      key: 'sum_exact',
      aggregation: 'sum',
      event_type: 'sum_exact',
      value_property: '$.v',
    });
    await send([
      { type: 'sum_exact', time: '2026-01-02T00:00:00Z', data: { v: 0.1 } },
      { type: 'sum_exact', time: '2026-01-03T00:00:00Z', data: { v: 0.2 } },
      { type: 'sum_exact', time: '2026-01-04T00:00:00Z', data: { v: '1.25' } },
      { type: 'sum_exact', time: '2026-01-04T00:00:00Z', data: { v: 'abc' } },
      { type: 'sum_exact', time: '2026-01-04T00:00:00Z', data: { v: true } },
      { type: 'sum_exact', time: '2026-01-04T00:00:00Z', data: { v: { x: 1 } } },
      { type: 'sum_exact', time: '2026-01-04T00:00:00Z', data: { other: 5 } },
      { type: 'other_type', time: '2026-01-04T00:00:00Z', data: { v: 100 } },
    ]);
    const r = await query(m.id, JAN);
    expect(r.data).toEqual([
      { value: '1.55', from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z', dimensions: {} },
    ]);
    expect(r.from).toBe(JAN.from);
    expect(r.to).toBe(JAN.to);
    const r2 = await query(m.id, { from: '2026-01-02T00:00:00Z', to: '2026-01-04T00:00:00Z' });
    expect(r2.data.map((x) => x.value)).toEqual(['0.3']);
  });

  it('sum keeps big and very precise values exact', async () => {
    const m = await meter({
      key: 'sum_big',
      aggregation: 'sum',
      event_type: 'sum_big',
      value_property: '$.v',
    });
    await send([
      { type: 'sum_big', time: '2026-01-02T00:00:00Z', data: { v: '123456789012345678.000000000001' } },
      { type: 'sum_big', time: '2026-01-02T00:00:00Z', data: { v: '0.000000000002' } },
    ]);
    expect((await query(m.id, JAN)).data[0].value).toBe('123456789012345678.000000000003');
  });

  it('reads nested values with $.usage.tokens and quoted / indexed paths', async () => {
    const m = await meter({
      key: 'tokens',
      aggregation: 'sum',
      event_type: 'llm',
      value_property: '$.usage.tokens',
    });
    const q = await meter({
      key: 'quoted',
      aggregation: 'sum',
      event_type: 'llm',
      value_property: '$.a["b-c"].items[1].n',
    });
    await send([
      {
        type: 'llm',
        time: '2026-01-05T00:00:00Z',
        data: { usage: { tokens: 100 }, a: { 'b-c': { items: [{ n: 1 }, { n: 7 }] } } },
      },
      {
        type: 'llm',
        time: '2026-01-05T01:00:00Z',
        data: { usage: { tokens: 250 }, a: { 'b-c': { items: [{ n: 1 }, { n: '3' }] } } },
      },
      { type: 'llm', time: '2026-01-05T02:00:00Z', data: { tokens: 1000 } },
    ]);
    expect((await query(m.id, JAN)).data[0].value).toBe('350');
    expect((await query(q.id, JAN)).data[0].value).toBe('10');
  });

  it('count counts events; avg, min and max over numeric values', async () => {
    const type = 'stats';
    const count = await meter({ key: 'stats_count', aggregation: 'count', event_type: type });
    const avg = await meter({
      key: 'stats_avg',
      aggregation: 'avg',
      event_type: type,
      value_property: '$.v',
    });
    const min = await meter({
      key: 'stats_min',
      aggregation: 'min',
      event_type: type,
      value_property: '$.v',
    });
    const max = await meter({
      key: 'stats_max',
      aggregation: 'max',
      event_type: type,
      value_property: '$.v',
    });
    await send([
      { type, time: '2026-01-06T00:00:00Z', data: { v: 1 } },
      { type, time: '2026-01-06T00:00:00Z', data: { v: '-1.5' } },
      { type, time: '2026-01-06T00:00:00Z', data: { v: 10.25 } },
      { type, time: '2026-01-06T00:00:00Z', data: { v: 2.25 } },
      { type, time: '2026-01-06T00:00:00Z', data: { v: 'n/a' } },
    ]);
    expect((await query(count.id, JAN)).data[0].value).toBe('5');
    expect((await query(avg.id, JAN)).data[0].value).toBe('3');
    expect((await query(min.id, JAN)).data[0].value).toBe('-1.5');
    expect((await query(max.id, JAN)).data[0].value).toBe('10.25');
  });

  it('unique_count counts a value once however often it appears', async () => {
    const m = await meter({
      key: 'uniq',
      aggregation: 'unique_count',
      event_type: 'uniq',
      value_property: '$.user',
    });
    await send([
      { type: 'uniq', time: '2026-01-07T00:00:00Z', data: { user: 'u1' } },
      { type: 'uniq', time: '2026-01-08T00:00:00Z', data: { user: 'u1' } },
      { type: 'uniq', time: '2026-01-09T00:00:00Z', data: { user: 'u2' } },
      { type: 'uniq', time: '2026-01-09T00:00:00Z', data: { user: 'u1' } },
      { type: 'uniq', time: '2026-01-09T00:00:00Z', data: { nobody: 1 } },
    ]);
    expect((await query(m.id, JAN)).data[0].value).toBe('2');
    // per day: 7th u1, 8th u1, 9th u1+u2
    const daily = await query(m.id, { ...JAN, granularity: 'P1D' });
    expect(daily.data.map((r) => [r.from, r.value])).toEqual([
      ['2026-01-07T00:00:00.000Z', '1'],
      ['2026-01-08T00:00:00.000Z', '1'],
      ['2026-01-09T00:00:00.000Z', '2'],
    ]);
  });

  it('latest takes the value of the event with the greatest time, ties broken by ingestion order', async () => {
    const m = await meter({
      key: 'latest',
      aggregation: 'latest',
      event_type: 'latest',
      value_property: '$.v',
    });
    await send([{ type: 'latest', time: '2026-01-10T12:00:00Z', data: { v: 5 } }]);
    await send([{ type: 'latest', time: '2026-01-10T08:00:00Z', data: { v: 9 } }]); // older, sent later
    expect((await query(m.id, JAN)).data[0].value).toBe('5');
    await send([{ type: 'latest', time: '2026-01-10T12:00:00Z', data: { v: '7.5' } }]); // same time, sent later
    expect((await query(m.id, JAN)).data[0].value).toBe('7.5');
    // per hour: 08:00 → 9, 12:00 → 7.5
    const hourly = await query(m.id, { ...JAN, granularity: 'PT1H' });
    expect(hourly.data.map((r) => [r.from, r.to, r.value])).toEqual([
      ['2026-01-10T08:00:00.000Z', '2026-01-10T09:00:00.000Z', '9'],
      ['2026-01-10T12:00:00.000Z', '2026-01-10T13:00:00.000Z', '7.5'],
    ]);
  });

  it('the tutorial: four user_activity events with three distinct users → unique_count 3', async () => {
    const m = await meter({
      name: 'Active users total',
      description: 'Active Users',
      key: 'active_users_total',
      aggregation: 'unique_count',
      event_type: 'user_activity',
      value_property: '$.user_id',
    });
    const time = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ids = [
      ['57B5F342-B8D5-49AE-9D6C-350C1D92155C', 'alice'],
      ['F388B902-7A82-4C40-BC89-448CFA5DDC1B', 'bob'],
      ['46C16EE0-6174-4336-A539-AEC3AD1E0485', 'carol'],
      ['2843D4B1-C8F8-408E-9F28-6D4EB44E5A8B', 'alice'],
    ];
    for (const [id, user] of ids) {
      // as curl --json with -H "Content-Type: application/cloudevents+json" sends it
      const res = await app.api
        .post('/v3/openmeter/events')
        .set('Content-Type', 'application/cloudevents+json')
        .set('Accept', 'application/json')
        .send(
          JSON.stringify({
            specversion: '1.0',
            type: 'user_activity',
            id,
            source: 'acme-platform',
            time,
            datacontenttype: 'application/json',
            subject: 'acme-inc',
            data: { user_id: user },
          }),
        );
      expect(res.status).toBe(202);
    }
    const r = await query(m.id, { from: new Date(Date.now() - 3600_000).toISOString() });
    expect(r.data).toHaveLength(1);
    expect(r.data[0].value).toBe('3');
    // and through the billing API
    const usage = await aggregateUsage(app.db.orm.em.fork(), {
      meterId: m.id,
      subjects: ['acme-inc'],
      from: new Date(Date.now() - 3600_000),
      to: new Date(Date.now() + 1000),
    });
    expect(usage).toBe('3');
  });
});

describe('periods, windows and time zones', () => {
  const type = 'windows';
  let m: { id: string };
  beforeAll(async () => {
    m = await meter({ key: 'windows', aggregation: 'sum', event_type: type, value_property: '$.v' });
    await send([
      { type, time: '2026-03-01T00:00:00Z', data: { v: 1 } }, // exactly at from → included
      { type, time: '2026-03-01T00:59:59.999999Z', data: { v: 2 } },
      { type, time: '2026-03-01T01:00:00Z', data: { v: 4 } },
      { type, time: '2026-03-01T04:30:00Z', data: { v: 8 } }, // Feb 28 in New York
      { type, time: '2026-03-01T05:00:00Z', data: { v: 16 } }, // Mar 1 00:00 in New York
      { type, time: '2026-03-08T04:59:00Z', data: { v: 32 } }, // Mar 7 23:59 New York (EST)
      { type, time: '2026-03-08T05:00:00Z', data: { v: 64 } }, // Mar 8 00:00 New York (DST starts 2am)
      { type, time: '2026-03-09T03:59:00Z', data: { v: 128 } }, // Mar 8 23:59 New York (EDT)
      { type, time: '2026-03-09T04:00:00Z', data: { v: 256 } }, // Mar 9 00:00 New York (EDT)
      { type, time: '2026-04-01T00:00:00Z', data: { v: 512 } }, // exactly at to → excluded (Mar 31 in NY)
    ]);
  });

  const MAR = { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };

  it('is half-open: an event at from is included, one at to is excluded', async () => {
    expect((await query(m.id, MAR)).data[0].value).toBe('511');
    expect((await query(m.id, { from: '2026-03-01T00:00:00.000001Z', to: MAR.to })).data[0].value).toBe(
      '510',
    );
    expect((await query(m.id, { from: MAR.from, to: '2026-04-01T00:00:00.000001Z' })).data[0].value).toBe(
      '1023',
    );
  });

  it('buckets by hour (PT1H)', async () => {
    const r = await query(m.id, { from: MAR.from, to: '2026-03-01T06:00:00Z', granularity: 'PT1H' });
    expect(r.data.map((x) => [x.from, x.to, x.value])).toEqual([
      ['2026-03-01T00:00:00.000Z', '2026-03-01T01:00:00.000Z', '3'],
      ['2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z', '4'],
      ['2026-03-01T04:00:00.000Z', '2026-03-01T05:00:00.000Z', '8'],
      ['2026-03-01T05:00:00.000Z', '2026-03-01T06:00:00.000Z', '16'],
    ]);
  });

  it('buckets by minute (PT1M)', async () => {
    const r = await query(m.id, { from: MAR.from, to: '2026-03-01T01:01:00Z', granularity: 'PT1M' });
    expect(r.data.map((x) => [x.from, x.value])).toEqual([
      ['2026-03-01T00:00:00.000Z', '1'],
      ['2026-03-01T00:59:00.000Z', '2'],
      ['2026-03-01T01:00:00.000Z', '4'],
    ]);
  });

  it('buckets by UTC day (P1D)', async () => {
    const r = await query(m.id, { ...MAR, granularity: 'P1D' });
    expect(r.data.map((x) => [x.from, x.to, x.value])).toEqual([
      ['2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z', '31'],
      ['2026-03-08T00:00:00.000Z', '2026-03-09T00:00:00.000Z', '96'],
      ['2026-03-09T00:00:00.000Z', '2026-03-10T00:00:00.000Z', '384'],
    ]);
  });

  it('buckets by New York day, including the 23-hour DST day', async () => {
    const r = await query(m.id, {
      from: '2026-02-28T05:00:00Z',
      to: '2026-04-01T04:00:00Z',
      granularity: 'P1D',
      time_zone: 'America/New_York',
    });
    expect(r.data.map((x) => [x.from, x.to, x.value])).toEqual([
      ['2026-02-28T05:00:00.000Z', '2026-03-01T05:00:00.000Z', '15'],
      ['2026-03-01T05:00:00.000Z', '2026-03-02T05:00:00.000Z', '16'],
      ['2026-03-07T05:00:00.000Z', '2026-03-08T05:00:00.000Z', '32'],
      ['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z', '192'],
      ['2026-03-09T04:00:00.000Z', '2026-03-10T04:00:00.000Z', '256'],
      ['2026-03-31T04:00:00.000Z', '2026-04-01T04:00:00.000Z', '512'],
    ]);
  });

  it('buckets by month (P1M) in UTC and in New York, clamped to the query period', async () => {
    const utc = await query(m.id, {
      from: '2026-02-15T00:00:00Z',
      to: '2026-05-01T00:00:00Z',
      granularity: 'P1M',
    });
    expect(utc.data.map((x) => [x.from, x.to, x.value])).toEqual([
      ['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', '511'],
      ['2026-04-01T00:00:00.000Z', '2026-05-01T00:00:00.000Z', '512'],
    ]);
    const ny = await query(m.id, {
      from: '2026-02-15T00:00:00Z',
      to: '2026-05-01T04:00:00Z',
      granularity: 'P1M',
      time_zone: 'America/New_York',
    });
    expect(ny.data.map((x) => [x.from, x.to, x.value])).toEqual([
      ['2026-02-15T00:00:00.000Z', '2026-03-01T05:00:00.000Z', '15'],
      ['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z', '1008'],
    ]);
  });

  it('rejects an unknown time zone, a reversed period and an unknown granularity', async () => {
    for (const body of [
      { ...MAR, time_zone: 'Mars/Olympus' },
      { from: MAR.to, to: MAR.from },
      { ...MAR, granularity: 'P1W' },
      { ...MAR, unknown: 1 },
    ]) {
      const res = await app.api.post(`/v3/openmeter/meters/${m.id}/query`).send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('ignores events before the meter events_from', async () => {
    const late = await meter({
      key: 'windows_late',
      aggregation: 'sum',
      event_type: type,
      value_property: '$.v',
      events_from: '2026-03-08T05:00:00Z',
    });
    expect((await query(late.id, MAR)).data[0].value).toBe(String(64 + 128 + 256));
  });

  it('returns no rows when nothing matches', async () => {
    expect((await query(m.id, { from: '2025-01-01T00:00:00Z', to: '2025-02-01T00:00:00Z' })).data).toEqual(
      [],
    );
    expect(
      (await query(m.id, { from: '2025-01-01T00:00:00Z', to: '2025-02-01T00:00:00Z', granularity: 'P1D' }))
        .data,
    ).toEqual([]);
  });
});

describe('dimensions, subjects and customers', () => {
  const type = 'dims';
  let m: { id: string; key: string };
  let acme: string;
  let beta: string;
  beforeAll(async () => {
    m = await meter({
      key: 'dims',
      aggregation: 'sum',
      event_type: type,
      value_property: '$.tokens',
      dimensions: { model: '$.model', region: '$.meta.region' },
    });
    const a = await app.api.post('/v3/openmeter/customers').send({ name: 'Acme', key: 'acme' });
    expect(a.status).toBe(201);
    acme = a.body.id;
    const b = await app.api
      .post('/v3/openmeter/customers')
      .send({ name: 'Beta', key: 'beta', usage_attribution: { subject_keys: ['beta-1', 'beta-2'] } });
    expect(b.status).toBe(201);
    beta = b.body.id;
    await send([
      {
        type,
        time: '2026-01-10T00:00:00Z',
        subject: 'acme',
        data: { tokens: 1, model: 'gpt', meta: { region: 'eu' } },
      },
      {
        type,
        time: '2026-01-10T00:00:00Z',
        subject: 'acme',
        data: { tokens: 2, model: 'claude', meta: { region: 'us' } },
      },
      {
        type,
        time: '2026-01-10T00:00:00Z',
        subject: 'beta-1',
        data: { tokens: 4, model: 'gpt', meta: { region: 'us' } },
      },
      { type, time: '2026-01-11T00:00:00Z', subject: 'beta-2', data: { tokens: 8, model: 'gpt' } },
      { type, time: '2026-01-11T00:00:00Z', subject: 'orphan', data: { tokens: 16, model: 'claude' } },
      { type, time: '2026-01-11T00:00:00Z', subject: 'beta', data: { tokens: 32 } },
    ]);
  });

  const rows = (r: Awaited<ReturnType<typeof query>>) =>
    r.data
      .map((x) => ({ ...x.dimensions, value: x.value }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  it('groups by a dimension (events without it form a null group)', async () => {
    const r = await query(m.id, { ...JAN, group_by_dimensions: ['model'] });
    expect(rows(r)).toEqual(
      [
        { model: 'claude', value: '18' },
        { model: 'gpt', value: '13' },
        { model: null, value: '32' },
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  it('groups by subject and a nested dimension, per day', async () => {
    const r = await query(m.id, { ...JAN, granularity: 'P1D', group_by_dimensions: ['subject', 'region'] });
    expect(r.data.map((x) => [x.from, x.dimensions.subject, x.dimensions.region, x.value])).toEqual([
      ['2026-01-10T00:00:00.000Z', 'acme', 'eu', '1'],
      ['2026-01-10T00:00:00.000Z', 'acme', 'us', '2'],
      ['2026-01-10T00:00:00.000Z', 'beta-1', 'us', '4'],
      ['2026-01-11T00:00:00.000Z', 'beta', null, '32'],
      ['2026-01-11T00:00:00.000Z', 'beta-2', null, '8'],
      ['2026-01-11T00:00:00.000Z', 'orphan', null, '16'],
    ]);
  });

  it('groups by customer_id, attributing by customer key and by subject keys', async () => {
    const r = await query(m.id, { ...JAN, group_by_dimensions: ['customer_id'] });
    const byCustomer = Object.fromEntries(r.data.map((x) => [String(x.dimensions.customer_id), x.value]));
    expect(byCustomer).toEqual({ [acme]: '3', [beta]: '44', null: '16' });
  });

  it('filters with eq, in, neq and nin on dimensions, subject and customer_id', async () => {
    const v = async (dimensions: Record<string, unknown>) =>
      (await query(m.id, { ...JAN, filters: { dimensions } })).data[0]?.value ?? 'none';
    expect(await v({ model: { eq: 'gpt' } })).toBe('13');
    expect(await v({ model: { in: ['gpt', 'claude'] } })).toBe('31');
    expect(await v({ model: { neq: 'gpt' } })).toBe('50');
    expect(await v({ model: { nin: ['gpt'] } })).toBe('50');
    expect(await v({ region: { eq: 'us' }, model: { eq: 'gpt' } })).toBe('4');
    expect(await v({ subject: { eq: 'orphan' } })).toBe('16');
    expect(await v({ subject: { in: ['acme', 'beta-2'] } })).toBe('11');
    expect(await v({ customer_id: { eq: beta } })).toBe('44');
    expect(await v({ customer_id: { in: [acme, beta] } })).toBe('47');
    expect(await v({ customer_id: { eq: beta }, model: { eq: 'gpt' } })).toBe('12');
    expect(await v({ model: { eq: 'nothing' } })).toBe('none');
  });

  it('rejects grouping or filtering by an unknown dimension', async () => {
    const r1 = await app.api
      .post(`/v3/openmeter/meters/${m.id}/query`)
      .send({ ...JAN, group_by_dimensions: ['color'] });
    expect(r1.status).toBe(400);
    expect(r1.body.invalid_parameters).toEqual([
      expect.objectContaining({ field: 'body.group_by_dimensions[0]' }),
    ]);
    const r2 = await app.api
      .post(`/v3/openmeter/meters/${m.id}/query`)
      .send({ ...JAN, filters: { dimensions: { color: { eq: 'red' } } } });
    expect(r2.status).toBe(400);
    expect(r2.body.invalid_parameters).toEqual([
      expect.objectContaining({ field: 'body.filters.dimensions.color' }),
    ]);
    const r3 = await app.api
      .post(`/v3/openmeter/meters/${m.id}/query`)
      .send({ ...JAN, filters: { dimensions: { model: { contains: 'g' } } } });
    expect(r3.status).toBe(400);
  });

  it('aggregateUsage: exact total for subjects over [from, to), narrowed by dimension filters', async () => {
    const em = app.db.orm.em.fork();
    const base = { meterId: m.id, from: new Date(JAN.from), to: new Date(JAN.to) };
    expect(await aggregateUsage(em, { ...base, subjects: ['beta', 'beta-1', 'beta-2'] })).toBe('44');
    expect(
      await aggregateUsage(em, {
        ...base,
        subjects: ['beta', 'beta-1', 'beta-2'],
        filters: { model: ['gpt'] },
      }),
    ).toBe('12');
    expect(await aggregateUsage(em, { ...base, meterId: m.key, subjects: ['acme'] })).toBe('3');
    // half-open: [Jan 10, Jan 11) leaves out the Jan 11 events
    expect(
      await aggregateUsage(em, {
        ...base,
        from: new Date('2026-01-10T00:00:00Z'),
        to: new Date('2026-01-11T00:00:00Z'),
        subjects: ['beta', 'beta-1', 'beta-2'],
      }),
    ).toBe('4');
    expect(await aggregateUsage(em, { ...base, subjects: ['nobody'] })).toBe('0');
    expect(await aggregateUsage(em, { ...base, subjects: [] })).toBe('0');
  });

  it("keeps a deleted customer's events its own (ownership window), never the next owner's", async () => {
    const c = await app.api
      .post('/v3/openmeter/customers')
      .send({ name: 'Gone', key: 'gone', usage_attribution: { subject_keys: ['gone-1'] } });
    expect(c.status).toBe(201);
    await send([{ type, time: '2026-01-12T00:00:00Z', subject: 'gone-1', data: { tokens: 1000 } }]);
    const before = await query(m.id, { ...JAN, filters: { dimensions: { customer_id: { eq: c.body.id } } } });
    expect(before.data[0].value).toBe('1000');
    await app.api.delete(`/v3/openmeter/customers/${c.body.id}`).expect(204);
    const next = await app.api
      .post('/v3/openmeter/customers')
      .send({ name: 'Next', key: 'gone-next', usage_attribution: { subject_keys: ['gone-1'] } });
    expect(next.status).toBe(201);
    const after = await query(m.id, { ...JAN, group_by_dimensions: ['customer_id'] });
    const byCustomer = Object.fromEntries(after.data.map((x) => [String(x.dimensions.customer_id), x.value]));
    expect(byCustomer).toEqual({ [acme]: '3', [beta]: '44', [c.body.id]: '1000', null: '16' });
    const nextOnly = await query(m.id, {
      ...JAN,
      filters: { dimensions: { customer_id: { eq: next.body.id } } },
    });
    expect(nextOnly.data).toEqual([]);
  });
});
