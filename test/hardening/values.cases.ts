/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Issue 9, items 1 (event values), 2, 3 and 4: a value is valid or a validation error (never a 500),
 * negative usage is never billed, large events are stored, and both ingest paths store the same thing.
 * Imported by test/integration/hardening.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { issueInvoice } from '../../src/billing/service';
import { newId } from '../../src/lib/ids';
import { buildMeterQuery, rawValueSql, valueProblemSql } from '../../src/metering/service';
import { eventTimeProblem } from '../../src/metering/time';
import { usageOf, type MeterInfo, type UsageItem } from '../../src/entitlements/service';
import { createTestApp, type TestApp } from '../support/app';
import { fixtures, ok, P } from '../support/api';

const BATCH = 'application/cloudevents-batch+json';
const SINGLE = 'application/cloudevents+json';

let app: TestApp;

/** sends `body` as its exact text (superagent would re-encode an object) */
const postRaw = (body: string | Buffer, contentType = BATCH) =>
  app.api
    .post(`${P}/events`)
    .set('Content-Type', contentType)
    .serialize((b: unknown) => b as string)
    .send(body);

const sql = <T = any>(text: string, params: unknown[] = []) =>
  app.deps.orm.em.fork().getConnection().execute<T[]>(text, params);

/** one event's JSON text, `data` given as JSON text (so numbers stay exactly as written) */
const evText = (
  id: string,
  type: string,
  subject: string,
  time: string,
  dataText: string,
  source = 'values',
) =>
  `{"specversion":"1.0","id":${JSON.stringify(id)},"source":${JSON.stringify(source)},"type":${JSON.stringify(type)},` +
  `"subject":${JSON.stringify(subject)},"time":"${time}","data":${dataText}}`;

async function meter(body: Record<string, unknown>) {
  return ok(app.api.post(`${P}/meters`).send(body), 201);
}

/** a customer with an active subscription (row as the workflow writes it) to a plan billing `meterId` */
async function billedCustomer(key: string, meterId: string, start: Date) {
  const f = fixtures(app);
  const customer = await f.customer(key);
  const feature = await f.feature({ key: `f_${key}`, name: `f_${key}`, meter: { id: meterId } });
  const plan = await f.meteredPlan(
    `p_${key}`,
    {
      featureId: feature.id,
      price: '0.5',
      key: 'usage',
      name: 'usage',
      entitlement: { type: 'metered', limit: 1000 },
    },
    { name: `Plan ${key}` },
  );
  const id = newId();
  await sql(
    `insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
        billing_anchor, active_from, phase_key, phase_started_at, current_period_start, current_period_end,
        workflow_id)
     values (?, ?, ?, ?, ?, ?, 'active', ?, ?, 'default', ?, ?, ?, ?)`,
    [
      id,
      customer.id,
      key,
      plan.id,
      plan.key,
      plan.version,
      start,
      start,
      start,
      start,
      new Date(start.getTime() + 30 * 86400_000),
      `subscription-${id}`,
    ],
  );
  return { ...customer, planId: plan.id as string };
}

/** issues the arrears invoice of [from, to) as the subscription workflow's activity does */
async function issue(c: { id: string; planId: string }, from: Date, to: Date) {
  const period = { from: from.toISOString(), to: to.toISOString() };
  const ref = await issueInvoice(app.deps.orm.em.fork(), {
    invoiceKey: `inv-${newId()}`,
    subscriptionId: newId(),
    customerId: c.id,
    subscriptionStart: period.from,
    arrears: { planId: c.planId, phaseKey: 'default', ...period, cycleFrom: period.from, cycleTo: period.to },
  });
  const lines = await sql<{ quantity: string }>(
    `select quantity::text as quantity from invoice_lines where invoice_id = ? and quantity is not null`,
    [ref.invoiceId],
  );
  return { total: ref.total, quantities: lines.map((l) => l.quantity) };
}

const usageLine = (preview: any) => preview.lines.find((l: any) => l.name === 'usage');
const access = (body: any, key: string) => body.data.find((e: any) => e.feature_key === key);

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('hardening: event values (issue 9 items 1 and 3)', () => {
  const start = new Date(Date.now() - 3600_000);
  const at = new Date(Date.now() - 1800_000).toISOString();

  it('9.1 a value "1e200000" / "1e-20000" is accepted, listed with its validation error, and billing, access and queries answer 200 with the exact total', async () => {
    const m = await meter({
      key: 'v_tokens',
      name: 'tokens',
      aggregation: 'sum',
      event_type: 'v_tokens',
      value_property: '$.v',
    });
    const c = await billedCustomer('val-co', m.id, start);
    await billedCustomer('val-other', m.id, start);
    const events = [
      ['ok-1', '{"v":10}'],
      ['ok-2', '{"v":"2.5"}'],
      ['huge', '{"v":"1e200000"}'],
      ['tiny', '{"v":"1e-20000"}'],
      ['bignum', '{"v":1e400}'],
      ['text', '{"v":"abc"}'],
      ['missing', '{"w":1}'],
    ];
    const res = await postRaw(
      `[${events.map(([id, d]) => evText(id, 'v_tokens', 'val-co', at, d)).join(',')}]`,
    );
    expect(res.status).toBe(202);
    // a single event too (the other ingest path)
    expect(
      (await postRaw(evText('huge-alone', 'v_tokens', 'val-co', at, '{"v":"1e200000"}'), SINGLE)).status,
    ).toBe(202);

    const listed = await ok(app.api.get(`${P}/events?filter[subject]=val-co&page[size]=100`), 200);
    const codes = Object.fromEntries(
      listed.data.map((e: any) => [e.event.id, (e.validation_errors ?? []).map((v: any) => v.code)]),
    );
    expect(codes).toEqual({
      'ok-1': [],
      'ok-2': [],
      huge: ['out_of_range'],
      'huge-alone': ['out_of_range'],
      tiny: ['out_of_range'],
      bignum: ['out_of_range'],
      text: ['not_a_number'],
      missing: ['missing_value'],
    });
    const huge = listed.data.find((e: any) => e.event.id === 'huge');
    expect(huge.validation_errors[0]).toMatchObject({
      attributes: { meter_id: m.id, meter_key: 'v_tokens', value_property: '$.v' },
    });
    expect(huge.validation_errors[0].message).toMatch(/out of range/);

    const q = await ok(
      app.api
        .post(`${P}/meters/${m.id}/query`)
        .send({ from: start.toISOString(), filters: { dimensions: { subject: { eq: 'val-co' } } } }),
      200,
    );
    expect(q.data.map((r: any) => r.value)).toEqual(['12.5']);
    const preview = await ok(app.api.get(`${P}/customers/${c.id}/invoices/preview`), 200);
    expect(usageLine(preview)).toMatchObject({ quantity: '12.5' });
    expect(preview.totals.total).toBe('6.25');
    const mine = await ok(app.api.get(`${P}/customers/${c.id}/entitlement-access`), 200);
    expect(access(mine, 'f_val-co')).toMatchObject({ usage: '12.5', balance: '987.5' });
    const gateway = await ok(
      app.api.post(`${P}/entitlement-access/query`).send({ customer: { keys: ['val-co', 'val-other'] } }),
      200,
    );
    expect(gateway.data.length).toBe(2);
    // and the invoice is issued (issueInvoice used to fail, and its activity retried forever)
    expect(await issue(c, start, new Date())).toMatchObject({ total: '6.25', quantities: ['12.5'] });
  });

  it('9.3 a negative value is a correction in meter queries, but no invoice line or entitlement uses a negative quantity', async () => {
    const aggs = ['sum', 'min', 'max', 'avg', 'latest'] as const;
    const meters: Record<string, any> = {};
    for (const a of aggs)
      meters[a] = await meter({
        key: `neg_${a}`,
        name: a,
        aggregation: a,
        event_type: 'neg_usage',
        value_property: '$.v',
      });
    const c = await billedCustomer('neg-co', meters.sum.id, start);
    const t1 = new Date(Date.now() - 1700_000).toISOString();
    expect(
      (
        await postRaw(
          `[${evText('n1', 'neg_usage', 'neg-co', at, '{"v":-1000}')},${evText('n2', 'neg_usage', 'neg-co', t1, '{"v":"10"}')}]`,
        )
      ).status,
    ).toBe(202);
    const values: Record<string, string> = {};
    for (const a of aggs) {
      const q = await ok(
        app.api
          .post(`${P}/meters/${meters[a].id}/query`)
          .send({ from: start.toISOString(), filters: { dimensions: { subject: { eq: 'neg-co' } } } }),
        200,
      );
      values[a] = q.data[0].value;
    }
    expect(values).toEqual({ sum: '-990', min: '-1000', max: '10', avg: '-495', latest: '10' });
    const preview = await ok(app.api.get(`${P}/customers/${c.id}/invoices/preview`), 200);
    expect(usageLine(preview)).toMatchObject({ quantity: '0' });
    expect(preview.totals.total).toBe('0.00');
    const acc = await ok(app.api.get(`${P}/customers/${c.id}/entitlement-access`), 200);
    expect(access(acc, 'f_neg-co')).toMatchObject({ usage: '0', balance: '1000' });
    expect(await issue(c, start, new Date())).toEqual({ total: '0.00', quantities: ['0'] });
  });

  it('9.3 the range: |v| < 10^18 with at most 18 decimals counts, anything beyond is out_of_range', async () => {
    const m = await meter({
      key: 'range_sum',
      name: 'range',
      aggregation: 'sum',
      event_type: 'range_usage',
      value_property: '$.v',
    });
    const cases: [string, boolean][] = [
      ['999999999999999999.999999999999999999', true],
      ['"-999999999999999999.999999999999999999"', true],
      ['0.000000000000000001', true],
      ['"1.000000000000000000000000"', true], // trailing zeros are not digits a value needs
      ['1e18', false],
      ['"-1e18"', false],
      ['0.0000000000000000001', false],
      ['"1e-19"', false],
    ];
    const body = cases.map(([v], i) => evText(`r${i}`, 'range_usage', 'range-co', at, `{"v":${v}}`));
    expect((await postRaw(`[${body.join(',')}]`)).status).toBe(202);
    const listed = await ok(app.api.get(`${P}/events?filter[subject]=range-co`), 200);
    const bad = listed.data
      .filter((e: any) => e.validation_errors)
      .map((e: any) => e.event.id)
      .sort();
    expect(bad).toEqual(cases.flatMap(([, good], i) => (good ? [] : [`r${i}`])).sort());
    const q = await ok(
      app.api
        .post(`${P}/meters/${m.id}/query`)
        .send({ from: start.toISOString(), filters: { dimensions: { subject: { eq: 'range-co' } } } }),
      200,
    );
    // 999999999999999999.999999999999999999 - 999999999999999999.999999999999999999 + 1e-18 + 1
    expect(q.data.map((r: any) => r.value)).toEqual(['1.000000000000000001']);
  });

  it('9.1 the access query never fails on its size: 40 items of 1,000 windowed subjects (past the 65,535 bind parameters of one statement) in one exact statement', async () => {
    const m = await meter({
      key: 'many_sum',
      name: 'many',
      aggregation: 'sum',
      event_type: 'many_usage',
      value_property: '$.v',
    });
    const t0 = '2026-03-01T00:00:00Z';
    expect(
      (
        await postRaw(
          `[${evText('many-1', 'many_usage', 'many-s0', t0, '{"v":2}')},${evText('many-2', 'many_usage', 'many-s999', t0, '{"v":3}')}]`,
        )
      ).status,
    ).toBe(202);
    const info: MeterInfo = { ...m, value_property: m.value_property, dimensions: {}, events_from: null };
    // 1,000 windowed subjects each (the most a customer has), 40 items: ~240,000 parameters in one statement
    const subjects = Array.from({ length: 1000 }, (_, i) => ({
      subject: `many-s${i}`,
      from: '2026-01-01T00:00:00Z',
    }));
    const items: UsageItem[] = Array.from({ length: 40 }, (_, i) => ({
      meter: info,
      subjects,
      from: new Date(Date.parse('2026-02-01T00:00:00Z') + i * 1000),
      to: new Date('2026-04-01T00:00:00Z'),
    }));
    const usage = await usageOf(app.deps.orm.em.fork(), items);
    expect(usage.size).toBe(40);
    expect([...usage.values()].every((v) => v === '5')).toBe(true);
  });

  it('9.1 the value rule, case by case, as SQL (the one expression every aggregation and GET /events use)', async () => {
    // [JSON at value_property (undefined: absent), problem for a sum meter, numeric value]
    const cases: [string | undefined, string | null, string | null][] = [
      ['1', null, '1'],
      ['-0', null, '0'],
      ['1E+2', null, '100'],
      ['0.1', null, '0.1'],
      ['9007199254740993', null, '9007199254740993'],
      ['"9007199254740993"', null, '9007199254740993'],
      ['"  1"', 'not_a_number', null],
      ['"1 "', 'not_a_number', null],
      ['"+.5"', null, '0.5'],
      ['"5."', null, '5'],
      ['"-1.5e-3"', null, '-0.0015'],
      ['"."', 'not_a_number', null],
      ['"e5"', 'not_a_number', null],
      ['"1e"', 'not_a_number', null],
      ['"0x10"', 'not_a_number', null],
      ['"NaN"', 'not_a_number', null],
      ['"Infinity"', 'not_a_number', null],
      ['"-Infinity"', 'not_a_number', null],
      ['"1,5"', 'not_a_number', null],
      ['""', 'not_a_number', null],
      ['true', 'not_a_number', null],
      ['[1]', 'not_a_number', null],
      ['{"a":1}', 'not_a_number', null],
      ['null', 'missing_value', null],
      [undefined, 'missing_value', null],
      ['"1e200000"', 'out_of_range', null],
      ['"1e-20000"', 'out_of_range', null],
      ['"-1e9999"', 'out_of_range', null],
      ['"1e99999"', 'out_of_range', null], // an exponent of more than 4 digits
      ['"1e-0000000001"', 'out_of_range', null],
      [`"${'9'.repeat(100)}"`, 'out_of_range', null],
      [`"${'9'.repeat(101)}"`, 'out_of_range', null], // more than 100 digits before the point
      [`"0.${'0'.repeat(101)}"`, 'out_of_range', null], // more than 100 after it
      [`"0.${'0'.repeat(99)}1e9999"`, 'out_of_range', null],
      ['1e131000', 'out_of_range', null],
      ['1e-16000', 'out_of_range', null],
      ['"123456789012345678"', null, '123456789012345678'],
      ['"1234567890123456789"', 'out_of_range', null],
      ['"12345678901234567.5"', null, '12345678901234567.5'],
    ];
    const rows = await sql<{ i: number; problem: string | null; value: string | null }>(
      `select c.i::int as i, ${valueProblemSql('sum', 'c.vj')} as problem,
         case when ${valueProblemSql('sum', 'c.vj')} is null then trim_scale(${rawValueSql('c.vj')})::text end as value
         from jsonb_to_recordset(?::jsonb) as c(i int, vj jsonb) order by c.i`,
      [`[${cases.map(([v], i) => (v === undefined ? `{"i":${i}}` : `{"i":${i},"vj":${v}}`)).join(',')}]`],
    );
    expect(rows.map((r) => [cases[r.i][0], r.problem, r.value])).toEqual(cases);
    // count reads no value; unique_count takes any non-null value
    const [r] = await sql(
      `select ${valueProblemSql('count', `'"x"'::jsonb`)} as c, ${valueProblemSql('unique_count', `'"x"'::jsonb`)} as u,
         ${valueProblemSql('unique_count', 'null::jsonb')} as un`,
    );
    expect(r).toEqual({ c: null, u: null, un: 'missing_value' });
  });
});

describe('hardening: one parser, one result (issue 9 item 4)', () => {
  const at = new Date(Date.now() - 1800_000).toISOString();
  const stored = async (ids: string[]) =>
    Object.fromEntries(
      (
        await sql<{ id: string; d: string }>(
          `select id, data::text as d from events where id in (select jsonb_array_elements_text(?::jsonb))`,
          [JSON.stringify(ids)],
        )
      ).map((r) => [r.id, r.d]),
    );

  it('9.4 the same event sent alone and in a batch stores identical data and gives the same meter result', async () => {
    const m = await meter({
      key: 'same_sum',
      name: 'same',
      aggregation: 'sum',
      event_type: 'same_usage',
      value_property: '$.v',
    });
    const values = [
      '9007199254740993',
      '1e309',
      '0.1',
      '-0',
      '1E+2',
      '0.1000000000000000055511151231257827',
      '123456789012345678.123456789012345678',
      '-12.50',
      '"9007199254740993"',
    ];
    const data = (v: string) => `{"v":${v},"deep":{"a":[${v}]}}`;
    for (const [i, v] of values.entries()) {
      const res = await postRaw(evText(`alone-${i}`, 'same_usage', 'same-alone', at, data(v)), SINGLE);
      expect([v, res.status]).toEqual([v, 202]);
    }
    const batch = values.map((v, i) => evText(`batch-${i}`, 'same_usage', 'same-batch', at, data(v)));
    expect((await postRaw(`[${batch.join(',')}]`)).status).toBe(202);
    const rows = await stored(values.flatMap((_, i) => [`alone-${i}`, `batch-${i}`]));
    for (const [i, v] of values.entries()) {
      expect([v, rows[`alone-${i}`]]).toEqual([v, rows[`batch-${i}`]]);
      // exactly the number sent (as jsonb prints it), not a float's rounding of it
      const [{ t }] = await sql<{ t: string }>('select (?::jsonb)::text as t', [data(v)]);
      expect([v, rows[`alone-${i}`]]).toEqual([v, t]);
    }
    const total = async (subject: string) =>
      (
        await ok(
          app.api
            .post(`${P}/meters/${m.id}/query`)
            .send({ filters: { dimensions: { subject: { eq: subject } } } }),
          200,
        )
      ).data[0].value;
    // GET /events lists data exactly as stored: the response text carries the numbers as sent
    for (const subject of ['same-alone', 'same-batch']) {
      const res = await app.api.get(`${P}/events`).query({ 'filter[subject]': subject, 'page[size]': 100 });
      expect(res.status).toBe(200);
      for (const v of values) {
        const [{ t }] = await sql<{ t: string }>('select (?::jsonb)::text as t', [data(v)]);
        expect([subject, v, res.text.includes(`"data":${t}`)]).toEqual([subject, v, true]);
      }
    }
    // 1e309 is out of range on both paths (and 0.1000000000000000055511151231257827 has too many decimals)
    expect(await total('same-alone')).toBe('141471187521827751.723456789012345678');
    expect(await total('same-batch')).toBe('141471187521827751.723456789012345678');
  });

  it('9.4 a number jsonb cannot hold (1e200000, 1e-20000 as bare numbers) is a 400 naming the event on both paths; nothing is stored', async () => {
    const single = await postRaw(evText('bare-1', 'bare', 'bare-co', at, '{"v":1e200000}'), SINGLE);
    expect(single.status).toBe(400);
    expect(single.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'body.data' })]);
    const batch = await postRaw(
      `[${evText('bare-2', 'bare', 'bare-co', at, '{"v":1}')},${evText('bare-3', 'bare', 'bare-co', at, '{"x":[1e-20000]}')}]`,
    );
    expect(batch.status).toBe(400);
    expect(batch.body.invalid_parameters).toEqual([
      expect.objectContaining({ field: 'body[1].data', source: 'body' }),
    ]);
    expect(await stored(['bare-1', 'bare-2', 'bare-3'])).toEqual({});
  });

  it('9.4 event times: stored to the microsecond, from 1970-01-01 to 9999-12-31T23:59:59.999999Z, else a 400 naming time', async () => {
    const send = (id: string, time: string, single: boolean) =>
      single
        ? postRaw(evText(id, 'times', 'time-co', time, '{}'), SINGLE)
        : postRaw(`[${evText(id, 'times', 'time-co', time, '{}')}]`);
    for (const single of [true, false]) {
      for (const time of [
        '9999-12-31T23:59:59.999999999Z',
        '9999-12-31T23:59:59.9999995Z',
        '9999-12-31T22:00:00-02:00',
        '1969-12-31T23:59:59.999999Z',
        '1970-01-01T00:30:00+01:00',
        '0001-01-01T00:00:00Z',
      ]) {
        const res = await send(`t-bad-${time}-${single}`, time, single);
        expect([time, res.status, res.body.invalid_parameters?.[0]?.field]).toEqual([
          time,
          400,
          single ? 'body.time' : 'body[0].time',
        ]);
      }
    }
    for (const [i, time] of [
      '9999-12-31T23:59:59.9999994Z',
      '1970-01-01T00:00:00Z',
      '9999-12-31T21:59:59.999999-02:00',
    ].entries())
      expect((await send(`t-ok-${i}`, time, i % 2 === 0)).status).toBe(202);
    const rows = await sql<{ id: string; t: string }>(
      `select id, to_char(time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as t from events where id like 't-%' order by id`,
    );
    expect(rows).toEqual([
      { id: 't-ok-0', t: '9999-12-31T23:59:59.999999' },
      { id: 't-ok-1', t: '1970-01-01T00:00:00.000000' },
      { id: 't-ok-2', t: '9999-12-31T23:59:59.999999' },
    ]);
  });

  it('9.4 eventTimeProblem agrees with PostgreSQL on which times it stores inside 1970..9999 (offsets and long fractions included)', async () => {
    const times = [
      '9999-12-31T23:59:59.9999999+00:00',
      '9999-12-31T21:59:59.9999999-02:00',
      '9999-12-31T21:59:59.9999994-02:00',
      '9999-12-31T23:59:59.9999991000Z',
      '9999-12-31T23:59:59.99999949999Z',
      '9999-12-31T23:59:59.99999950001Z',
      '9999-12-31T23:59:59.9999995Z',
      '9999-12-31T23:59:59.9999985Z',
      '9999-12-31T23:59:59.999999Z',
      '1969-12-31T23:59:59.9999991000Z',
      '1969-12-31T23:59:59.9999995Z',
      '1970-01-01T00:30:00.5+01:00',
      '1970-01-01T00:00:00.0000004Z',
    ];
    for (const time of times) {
      const [{ inside }] = await sql<{ inside: boolean }>(
        `select ?::timestamptz between '1970-01-01T00:00:00Z'::timestamptz and '9999-12-31T23:59:59.999999Z'::timestamptz as inside`,
        [time],
      );
      expect([time, eventTimeProblem(time) === undefined]).toEqual([time, inside]);
    }
  });

  it('9.4 another charset (UTF-16) is stored from its decoded text, numbers exact', async () => {
    const text = evText('u16-exact', 'same_usage', 'u16-co', at, '{"v":9007199254740993,"s":"é😀"}');
    const res = await postRaw(Buffer.from(text, 'utf16le'), `${SINGLE}; charset=utf-16le`);
    expect(res.status).toBe(202);
    expect(await stored(['u16-exact'])).toEqual({ 'u16-exact': '{"s": "é😀", "v": 9007199254740993}' });
  });

  it('9.4 numericFits agrees with PostgreSQL on what jsonb can hold', async () => {
    const tokens = [
      '0',
      '-0',
      '1e131071',
      '1e131072',
      '9.99e131071',
      `1${'0'.repeat(131071)}`,
      `1${'0'.repeat(131072)}`,
      '1e-16383',
      '1e-16384',
      '1.5e-16382',
      '1.5e-16383',
      '0e-16383',
      '0e-16384',
      '0.0e131072',
      `0.${'0'.repeat(16382)}1`,
      `0.${'0'.repeat(16383)}1`,
      '123.456e-16380',
      '123.456e-16381',
      '1e200000',
      '-1e-20000',
      '1e99999999999',
      '12e131070',
      '0.001e131074',
      '0.001e131075',
    ];
    const pg: boolean[] = [];
    for (const t of tokens) {
      try {
        await sql('select ?::jsonb', [t]);
        pg.push(true);
      } catch {
        pg.push(false);
      }
    }
    const { numericFits } = await import('../../src/metering/events');
    expect(tokens.map((t) => [t.slice(0, 30), numericFits(t)])).toEqual(
      tokens.map((t, i) => [t.slice(0, 30), pg[i]]),
    );
  });
});

describe('hardening: large events (issue 9 item 2)', () => {
  const at = new Date(Date.now() - 1800_000).toISOString();
  // incompressible: PostgreSQL cannot shrink it into an index entry
  const blob = (bytes: number) => randomBytes(Math.floor((bytes * 3) / 4)).toString('base64');
  const wideType = 'w'.repeat(4) + '😀'.repeat(255); // 1,024 bytes of UTF-8 (514 UTF-16 units)
  const wideSubject = 'é'.repeat(512); // 1,024 bytes

  it('9.2 events with 64 KiB of incompressible data and 1 KiB type and subject are stored, alone and in a batch, and counted', async () => {
    expect(Buffer.byteLength(wideType)).toBe(1024);
    const m = await meter({
      key: 'wide_sum',
      name: 'wide',
      aggregation: 'sum',
      event_type: wideType,
      value_property: '$.v',
    });
    const data = (v: number, size: number) => JSON.stringify({ v, blob: blob(size) });
    const big = data(5, 65_400);
    expect(Buffer.byteLength(big)).toBeGreaterThan(65_000);
    expect(Buffer.byteLength(big)).toBeLessThanOrEqual(65_536);
    expect((await postRaw(evText('wide-alone', wideType, wideSubject, at, big), SINGLE)).status).toBe(202);
    const batch = [
      evText('wide-b1', wideType, wideSubject, at, data(7, 3000)), // just over an index entry
      evText('wide-b2', wideType, wideSubject, at, '{"v":1}'), // narrow
      evText('wide-b3', wideType, wideSubject, at, data(11, 65_400)),
    ];
    expect((await postRaw(`[${batch.join(',')}]`)).status).toBe(202);
    const rows = await sql<{ id: string; wide: boolean }>(
      `select id, wide from events where id like 'wide-%' order by id`,
    );
    expect(rows).toEqual([
      { id: 'wide-alone', wide: true },
      { id: 'wide-b1', wide: true },
      { id: 'wide-b2', wide: false },
      { id: 'wide-b3', wide: true },
    ]);
    const q = await ok(
      app.api.post(`${P}/meters/${m.id}/query`).send({ group_by_dimensions: ['subject'] }),
      200,
    );
    expect(q.data.map((r: any) => [r.value, r.dimensions.subject])).toEqual([['24', wideSubject]]);
    const listed = await ok(
      app.api.get(`${P}/events?filter[subject]=${encodeURIComponent(wideSubject)}`),
      200,
    );
    expect(listed.data.length).toBe(4);
  });

  it('9.2 data over 64 KiB, or an id, source, type or subject over 1,024 bytes, is a 400 naming the event', async () => {
    const over = JSON.stringify({ blob: blob(65_600) });
    expect(Buffer.byteLength(over)).toBeGreaterThan(65_536);
    const res = await postRaw(
      `[${evText('ok-small', 'x', 's', at, '{}')},${evText('too-big', 'x', 's', at, over)}]`,
    );
    expect(res.status).toBe(400);
    expect(res.body.invalid_parameters).toEqual([
      {
        field: 'body[1].data',
        reason: 'must be at most 65536 bytes as JSON (UTF-8)',
        rule: 'invalid',
        source: 'body',
      },
    ]);
    const alone = await postRaw(evText('too-big', 'x', 's', at, over), SINGLE);
    expect([alone.status, alone.body.invalid_parameters[0].field]).toEqual([400, 'body.data']);
    const long = await postRaw(evText('too-long', `${wideType}x`, 'é'.repeat(513), at, '{}'), SINGLE);
    expect(long.status).toBe(400);
    expect(long.body.invalid_parameters.map((p: any) => p.field)).toEqual(['body.type', 'body.subject']);
  });

  it('9.2 a meter query over narrow rows stays an index-only scan of the covering partial index', async () => {
    const m = await meter({
      key: 'plan_sum',
      name: 'plan',
      aggregation: 'sum',
      event_type: 'plan_usage',
      value_property: '$.v',
    });
    const q = buildMeterQuery(m, {
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
      subjects: ['a', 'b'],
    });
    const em = app.deps.orm.em.fork();
    const plan = await em.transactional(async (tx) => {
      const c = tx.getConnection();
      const ctx = tx.getTransactionContext();
      await c.execute('set local enable_seqscan = off', [], 'run', ctx);
      await c.execute('set local enable_bitmapscan = off', [], 'run', ctx);
      const r = await c.execute<{ 'QUERY PLAN': string }[]>(`explain ${q.text}`, q.params, 'all', ctx);
      return r.map((x) => x['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/Index Only Scan using events_narrow_type_subject_time_data_idx/);
    expect(plan).toMatch(/events_wide_type_subject_time_idx/);
  });
});
