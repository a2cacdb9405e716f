/**
 * Issue 9 items 5, 6 and 11 (customers): keys and ids never confusable; a customer never sees usage from
 * before it owned a name; a customer's event listing is a few index probes, not a scan.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ulid } from 'ulid';
import { computeLines } from '../../src/billing/calculator';
import { listEvents } from '../../src/metering/service';
import { createTestApp, type TestApp } from '../support/app';
import { fixtures, ok, P } from '../support/api';
import { createTimeSkippingEnv, registerSearchAttributes } from '../support/temporal';

const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const fields = (body: { invalid_parameters?: { field: string }[] }) =>
  (body.invalid_parameters ?? []).map((p) => p.field);

describe('issue 9 — customers', () => {
  let t: TestApp;
  let env: TestWorkflowEnvironment;
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    t.db.orm.em.getConnection().execute<T[]>(text, params);

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    await registerSearchAttributes(env);
    // no worker: subscriptions are created (row + started workflow) but never run
    t = await createTestApp({ temporal: env.client });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await env?.teardown();
  });

  /** a published plan with one metered rate card (unit price 1, entitlement limit 1000) on meter `calls` */
  let plan: { id: string; key: string; version: number };
  let meter: { id: string };
  beforeAll(async () => {
    const f = fixtures(t);
    const calls = await f.meteredFeature();
    meter = calls.meter;
    plan = await f.meteredPlan(
      'metered',
      { featureId: calls.feature.id, price: '1', entitlement: { type: 'metered', limit: 1000 } },
      { name: 'Metered' },
    );
  }, 60_000);

  // ---------------------------------------------------------------------------------------------------
  // item 5

  it("9.5 a customer key that is another customer's id is refused (any case), so the key's subscription and access cannot reach that customer", async () => {
    const a = await ok(t.api.post(`${P}/customers`).send({ key: 'five-a', name: 'A' }), 201);
    for (const key of [a.id, a.id.toLowerCase(), ulid()]) {
      const res = await t.api.post(`${P}/customers`).send({ key, name: 'B' });
      expect(res.status).toBe(400);
      expect(fields(res.body)).toEqual(['body.key']);
    }
    // nobody has the key: a subscription "for that key" and the access query find no customer (not A)
    const sub = await t.api
      .post(`${P}/subscriptions`)
      .send({ customer: { key: a.id }, plan: { key: plan.key } });
    expect(sub.status).toBe(404);
    const access = await ok(
      t.api.post(`${P}/entitlement-access/query`).send({ customer: { keys: [a.id] } }),
      200,
    );
    expect(access.data).toEqual([]);
    expect(access.errors.map((e: { customer: string }) => e.customer)).toEqual([a.id]);
  });

  it('9.5 meter, feature and plan keys shaped like ids are refused with 400 naming key', async () => {
    const key = ulid().toLowerCase(); // passes the lowercase key patterns
    const meterRes = await t.api
      .post(`${P}/meters`)
      .send({ key, name: 'M', aggregation: 'count', event_type: 'x' });
    const featureRes = await t.api.post(`${P}/features`).send({ key, name: 'F' });
    const planRes = await t.api.post(`${P}/plans`).send({
      key,
      name: 'P',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: [{ key: 'default', name: 'Default', rate_cards: [] }],
    });
    for (const res of [meterRes, featureRes, planRes]) {
      expect(res.status).toBe(400);
      expect(fields(res.body)).toContain('body.key');
    }
  });

  it('9.5 an explicit key field only matches keys, and an id-shaped path segment only ids (any case)', async () => {
    const a = await ok(t.api.post(`${P}/customers`).send({ key: 'five-id-a', name: 'A' }), 201);
    // a legacy customer whose key is A's id (stored before keys shaped like ids were refused)
    const legacyId = ulid();
    await sql(`insert into customers (id, key, name) values (?, ?, 'Legacy')`, [legacyId, a.id]);

    const byKey = await ok(
      t.api.post(`${P}/subscriptions`).send({ customer: { key: a.id }, plan: { key: plan.key } }),
      201,
    );
    expect(byKey.customer_id).toBe(legacyId);
    const byId = await ok(
      t.api
        .post(`${P}/subscriptions`)
        .send({ customer: { id: a.id.toLowerCase() }, plan: { key: plan.key } }),
      201,
    );
    expect(byId.customer_id).toBe(a.id);
    const mismatch = await t.api
      .post(`${P}/subscriptions`)
      .send({ customer: { id: a.id, key: 'five-other' }, plan: { key: plan.key } });
    expect(mismatch.status).toBe(400);
    expect(fields(mismatch.body)).toEqual(['body.customer.key']);

    // the access query names customers by key: the legacy customer, never A
    const access = await ok(
      t.api.post(`${P}/entitlement-access/query`).send({ customer: { keys: [a.id] } }),
      200,
    );
    expect(access.data.map((d: { customer: { id: string } }) => d.customer.id)).toEqual([legacyId]);
    // paths: shaped like an id = the id (ULIDs are case-insensitive)
    expect((await ok(t.api.get(`${P}/customers/${a.id.toLowerCase()}`), 200)).id).toBe(a.id);
    const ea = await t.api.get(`${P}/customers/${a.id.toLowerCase()}/entitlement-access`);
    expect(ea.status).toBe(200);
    expect((await ok(t.api.get(`${P}/meters/${meter.id.toLowerCase()}`), 200)).id).toBe(meter.id);
  });

  // ---------------------------------------------------------------------------------------------------
  // item 6

  describe('9.6 ownership windows', () => {
    const now = Date.now();
    const tA = now - 3 * HOUR; // A's usage
    let a: { id: string };
    let b: { id: string };
    let c: { id: string };
    let deletedAt: number;

    const send = (subject: string, id: string, time: number) =>
      ok(
        t.api
          .post(`${P}/events`)
          .send({ specversion: '1.0', id, source: 'six', type: 'call', subject, time: iso(time) }),
        202,
      );
    const listed = async (q: string) => {
      const body = await ok(t.api.get(`${P}/events?page[size]=100&${q}`), 200);
      return (body.data as { event: { id: string }; customer?: { id: string } }[])
        .map(
          (e) =>
            `${e.event.id}:${e.customer?.id === a.id ? 'A' : e.customer?.id === b.id ? 'B' : e.customer?.id === c.id ? 'C' : '-'}`,
        )
        .sort();
    };

    beforeAll(async () => {
      // C exists first, subscribed since yesterday (its billing period covers A's usage)
      c = await ok(t.api.post(`${P}/customers`).send({ key: 'six-c', name: 'C' }), 201);
      await sql(
        `insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
           billing_anchor, active_from, phase_key, phase_started_at, current_period_start, current_period_end,
           workflow_id)
         values (?, ?, 'six-c', ?, ?, ?, 'active', ?, ?, 'default', ?, ?, ?, 'subscription-six-c')`,
        [
          ulid(),
          c.id,
          plan.id,
          plan.key,
          plan.version,
          iso(now - 24 * HOUR),
          iso(now - 24 * HOUR),
          iso(now - 24 * HOUR),
          iso(now - 24 * HOUR),
          iso(now + 24 * HOUR),
        ],
      );
      a = await ok(
        t.api
          .post(`${P}/customers`)
          .send({ key: 'six-k', name: 'A', usage_attribution: { subject_keys: ['six-s', 'six-t'] } }),
        201,
      );
      await send('six-k', 'a-k1', tA);
      await send('six-s', 'a-s1', tA);
      await send('six-t', 'a-t1', tA + 1);
      // A releases six-t (PUT without it), then is deleted; a late A event (its time before the release)
      await ok(
        t.api
          .put(`${P}/customers/${a.id}`)
          .send({ name: 'A', usage_attribution: { subject_keys: ['six-s'] } }),
        200,
      );
      await ok(t.api.delete(`${P}/customers/${a.id}`), 204);
      deletedAt = Date.now();
      await send('six-s', 'a-s2-late', tA + 2);
      // B takes A's key and subject; C takes six-t
      b = await ok(
        t.api
          .post(`${P}/customers`)
          .send({ key: 'six-k', name: 'B', usage_attribution: { subject_keys: ['six-s'] } }),
        201,
      );
      await ok(
        t.api
          .put(`${P}/customers/${c.id}`)
          .send({ name: 'C', usage_attribution: { subject_keys: ['six-t'] } }),
        200,
      );
      await send('six-k', 'b-k1', deletedAt + 5);
      await send('six-s', 'b-s1', deletedAt + 6);
      await send('six-t', 'c-t1', deletedAt + 7);
    }, 60_000);

    it("9.6 the new owner of a key and subject lists none of the deleted owner's events; the deleted owner still lists its own", async () => {
      expect(await listed(`filter[customer_id]=${b.id}`)).toEqual(['b-k1:B', 'b-s1:B']);
      expect(await listed(`filter[customer_id]=${c.id}`)).toEqual(['c-t1:C']);
      expect(await listed(`filter[customer_id]=${a.id}`)).toEqual([
        'a-k1:A',
        'a-s1:A',
        'a-s2-late:A',
        'a-t1:A',
      ]);
      // the customer field follows the same windows, with or without a filter
      expect(await listed('filter[subject]=six-s')).toEqual(['a-s1:A', 'a-s2-late:A', 'b-s1:B']);
      expect(await listed(`filter[customer_id]=${b.id}&filter[subject]=six-s`)).toEqual(['b-s1:B']);
    });

    it('9.6 meter queries by customer_id count each event for the owner of its time only', async () => {
      const q = (body: object) => ok(t.api.post(`${P}/meters/${meter.id}/query`).send(body), 200);
      const grouped = await q({ from: iso(now - 24 * HOUR), group_by_dimensions: ['customer_id'] });
      const byCustomer = Object.fromEntries(
        grouped.data.map((r: { value: string; dimensions: { customer_id: string } }) => [
          r.dimensions.customer_id === a.id ? 'A' : r.dimensions.customer_id === b.id ? 'B' : 'C',
          r.value,
        ]),
      );
      expect(byCustomer).toEqual({ A: '4', B: '2', C: '1' });
      const onlyB = await q({
        from: iso(now - 24 * HOUR),
        filters: { dimensions: { customer_id: { eq: b.id } } },
      });
      expect(onlyB.data.map((r: { value: string }) => r.value)).toEqual(['2']);
    });

    it('9.6 invoice preview and entitlement access count only usage from when the customer owned the name', async () => {
      // C's period began yesterday; A's six-t event (before C owned six-t) is not C's usage
      const preview = await ok(t.api.get(`${P}/customers/${c.id}/invoices/preview`), 200);
      const line = (preview.lines as { rate_card_key: string; quantity: string }[]).find(
        (l) => l.rate_card_key === 'calls',
      );
      expect(line?.quantity).toBe('1');
      const access = await ok(
        t.api.post(`${P}/entitlement-access/query`).send({ customer: { keys: ['six-t'] } }),
        200,
      );
      expect(access.data.map((d: { customer: { id: string } }) => d.customer.id)).toEqual([c.id]);
      expect(access.data[0].features.calls.usage).toBe('1');
    });

    it("9.6 a deleted customer's final invoice counts its own usage (subjects included), never the next owner's; the next owner's invoice none of the deleted owner's", async () => {
      const period = {
        planId: plan.id,
        phaseKey: 'default',
        from: iso(now - 24 * HOUR),
        to: iso(Date.now() + HOUR),
        cycleFrom: iso(now - 24 * HOUR),
        cycleTo: iso(Date.now() + HOUR),
      };
      const quantity = async (customerId: string) => {
        const inv = await computeLines(t.db.orm.em.fork(), {
          invoiceKey: `six-${customerId}`,
          subscriptionId: 'six',
          customerId,
          subscriptionStart: period.from,
          arrears: period,
        });
        return inv.lines.find((l) => l.rateCardKey === 'calls')?.quantity;
      };
      // A: a-k1, a-s1, a-t1 and the late a-s2 (its time is A's); B: b-k1, b-s1; C: c-t1
      expect(await quantity(a.id)).toBe('4');
      expect(await quantity(b.id)).toBe('2');
      expect(await quantity(c.id)).toBe('1');
    });
  });

  // ---------------------------------------------------------------------------------------------------
  // item 11

  it('9.11 a customer holding a name as its key and as a subject lists each event once', async () => {
    const both = await ok(
      t.api
        .post(`${P}/customers`)
        .send({ key: 'eleven-both', name: 'Both', usage_attribution: { subject_keys: ['eleven-both'] } }),
      201,
    );
    for (const id of ['both-1', 'both-2'])
      await ok(
        t.api.post(`${P}/events`).send({
          specversion: '1.0',
          id,
          source: 'eleven',
          type: 'call',
          subject: 'eleven-both',
          time: iso(Date.now() - HOUR),
        }),
        202,
      );
    const page = await ok(t.api.get(`${P}/events?filter[customer_id]=${both.id}`), 200);
    expect(page.data.map((e: { event: { id: string } }) => e.event.id).sort()).toEqual(['both-1', 'both-2']);
  });

  it("9.11 a customer's event listing reads a bounded number of rows per owned name, whatever the table holds", async () => {
    const big = await ok(
      t.api
        .post(`${P}/customers`)
        .send({ key: 'eleven-big', name: 'Big', usage_attribution: { subject_keys: ['eleven-s'] } }),
      201,
    );
    // 20,000 events of the customer and 20,000 of others, newest last
    await sql(
      `insert into events (source, id, type, subject, time, data, specversion)
       select 'eleven', i::text, 'call', case i % 4 when 0 then 'eleven-big' when 1 then 'eleven-s' else 'eleven-other-' || (i % 50) end,
         now() - interval '1 second' * (40000 - i), '{}'::jsonb, '1.0' from generate_series(1, 40000) i`,
    );
    await sql('analyze events');
    // the statement listEvents runs for the page (captured), explained with its own parameters
    const em = t.db.orm.em.fork();
    const conn = em.getConnection();
    const spy = jest.spyOn(conn, 'execute');
    let issued: [string, unknown[]] | undefined;
    try {
      await listEvents(em, { customer_id: big.id, size: 10 });
      for (const [text, params] of spy.mock.calls as [string, unknown[]][])
        if (text.includes('from events e')) issued = [text, params];
    } finally {
      spy.mockRestore();
    }
    expect(issued).toBeDefined();
    const [plan] = await sql<{ 'QUERY PLAN': { Plan: Record<string, unknown> }[] }>(
      `explain (analyze, format json) ${issued![0]}`,
      issued![1],
    );
    // every row any plan node fetched from events: at most (size + 1) per owned name (2 names), plus sort slack
    const scanned: number[] = [];
    const walk = (n: Record<string, unknown>) => {
      if (n['Relation Name'] === 'events')
        scanned.push(Number(n['Actual Rows']) * Number(n['Actual Loops'] ?? 1));
      for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c);
    };
    walk(plan['QUERY PLAN'][0].Plan);
    expect(scanned.length).toBeGreaterThan(0);
    expect(scanned.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(2 * 11 + 40);
    // and the page is right: the 10 newest of the customer's, then the cursor continues without overlap
    const p1 = await ok(t.api.get(`${P}/events?filter[customer_id]=${big.id}&page[size]=10`), 200);
    const ids1 = p1.data.map((e: { event: { id: string } }) => Number(e.event.id));
    expect(ids1).toEqual([40000, 39997, 39996, 39993, 39992, 39989, 39988, 39985, 39984, 39981]);
    const p2 = await ok(
      t.api.get(`${P}/events?filter[customer_id]=${big.id}&page[size]=10&page[after]=${p1.meta.page.next}`),
      200,
    );
    expect(Number(p2.data[0].event.id)).toBe(39980);
  });
});
