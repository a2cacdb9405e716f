/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Entitlement access derived from subscription rows (inserted directly, as the workflow's activities
 * write them), against real PostgreSQL: the service with an explicit `now`, and the HTTP API.
 */
import { Pool } from 'pg';
import { newId } from '../../src/lib/ids';
import { createEntitlementsService } from '../../src/entitlements/service';
import { createTestApp, type TestApp } from '../support/app';
import { ok, P } from '../support/api';

let app: TestApp;
let svc: ReturnType<typeof createEntitlementsService>;

beforeAll(async () => {
  app = await createTestApp();
  svc = createEntitlementsService(app.deps);
});
afterAll(async () => {
  await app?.close();
});

const customer = (key: string, subject_keys: string[] = []) =>
  ok(
    app.api
      .post(`${P}/customers`)
      .send({ key, name: `Customer ${key}`, usage_attribution: { subject_keys } }),
    201,
  );

async function ingest(events: { subject: string; time: string | Date; type?: string; data?: unknown }[]) {
  await ok(
    app.api
      .post(`${P}/events`)
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(
        events.map((e) => ({
          specversion: '1.0',
          id: newId(),
          source: 'entitlements-test',
          type: e.type ?? 'api_call',
          subject: e.subject,
          time: new Date(e.time).toISOString(),
          data: e.data ?? {},
        })),
      ),
    202,
  );
}

const times = (n: number, subject: string, time: string | Date, data?: unknown) =>
  Array.from({ length: n }, () => ({ subject, time, data }));

async function subscribe(
  customerId: string,
  plan: { id: string; key: string; version: number },
  opts: {
    anchor: string;
    activeFrom?: string;
    activeTo?: string;
    status?: 'active' | 'canceled';
    phase?: string;
  },
) {
  const id = newId();
  const from = opts.activeFrom ?? opts.anchor;
  const [c] = await app.deps.orm.em
    .fork()
    .execute<{ key: string }[]>('select key from customers where id = ?', [customerId]);
  await app.deps.orm.em.fork().execute(
    `insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
       billing_anchor, active_from, active_to, phase_key, phase_started_at, workflow_id)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      customerId,
      c.key,
      plan.id,
      plan.key,
      plan.version,
      opts.status ?? 'active',
      opts.anchor,
      from,
      opts.activeTo ?? null,
      opts.phase ?? 'default',
      from,
      `subscription-${id}`,
    ],
  );
  return id;
}

let plan: { id: string; key: string; version: number };

beforeAll(async () => {
  const meter = await ok(
    app.api.post(`${P}/meters`).send({
      key: 'api_calls',
      name: 'API calls',
      aggregation: 'count',
      event_type: 'api_call',
      dimensions: { model: '$.model' },
    }),
    201,
  );
  const tokens = await ok(
    app.api.post(`${P}/meters`).send({
      key: 'tokens',
      name: 'Tokens',
      aggregation: 'sum',
      event_type: 'tokens',
      value_property: '$.n',
      dimensions: { model: '$.model' },
    }),
    201,
  );
  const feature = (body: Record<string, unknown>) => ok(app.api.post(`${P}/features`).send(body), 201);
  const calls = await feature({ key: 'api-calls', name: 'API calls', meter: { id: meter.id } });
  const soft = await feature({ key: 'soft-calls', name: 'Soft calls', meter: { id: meter.id } });
  const gpt = await feature({
    key: 'gpt-tokens',
    name: 'GPT tokens',
    meter: { id: tokens.id, filters: { model: { eq: 'gpt' } } },
  });
  const sso = await feature({ key: 'sso', name: 'SSO' });
  const seats = await feature({ key: 'seats-config', name: 'Seats config' });
  await feature({ key: 'not-in-plan', name: 'Not in plan' });
  const trialOnly = await feature({ key: 'trial-banner', name: 'Trial banner' });
  const flat = { type: 'flat', amount: '0' };
  const created = await ok(
    app.api.post(`${P}/plans`).send({
      key: 'pro',
      name: 'Pro',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: [
        {
          key: 'trial',
          name: 'Trial',
          duration: 'P14D',
          rate_cards: [
            {
              key: 'trial-banner',
              name: 'Trial banner',
              feature: { id: trialOnly.id },
              billing_cadence: 'P1M',
              price: flat,
              entitlement: { type: 'boolean' },
            },
          ],
        },
        {
          key: 'default',
          name: 'Default',
          rate_cards: [
            {
              key: 'api-calls',
              name: 'API calls',
              feature: { id: calls.id },
              billing_cadence: 'P1M',
              price: { type: 'unit', amount: '0.01' },
              entitlement: { type: 'metered', limit: 100 },
            },
            {
              key: 'soft-calls',
              name: 'Soft calls',
              feature: { id: soft.id },
              billing_cadence: 'P1M',
              price: { type: 'unit', amount: '0.01' },
              entitlement: { type: 'metered', limit: 100, is_soft_limit: true, usage_period: 'P1D' },
            },
            {
              key: 'gpt-tokens',
              name: 'GPT tokens',
              feature: { id: gpt.id },
              billing_cadence: 'P1M',
              price: { type: 'unit', amount: '0.001' },
              entitlement: { type: 'metered', limit: 1000 },
            },
            {
              key: 'sso',
              name: 'SSO',
              feature: { id: sso.id },
              billing_cadence: 'P1M',
              price: flat,
              entitlement: { type: 'boolean' },
            },
            {
              key: 'seats',
              name: 'Seats',
              feature: { id: seats.id },
              billing_cadence: 'P1M',
              price: { type: 'flat', amount: '10' },
              entitlement: { type: 'static', config: { seats: 5, tier: 'gold' } },
            },
            {
              key: 'platform',
              name: 'Platform',
              billing_cadence: 'P1M',
              price: { type: 'flat', amount: '5' },
            },
          ],
        },
      ],
    }),
    201,
  );
  plan = await ok(app.api.post(`${P}/plans/${created.id}/publish`), 200);
});

const byKey = <T extends { feature_key: string }>(data: T[]): Record<string, T> =>
  Object.fromEntries(data.map((e) => [e.feature_key, e]));

describe('metered entitlements', () => {
  it('a hard limit of 100 is exhausted at usage 100 and restored when the usage period resets', async () => {
    const c = await customer('hard-co');
    await subscribe(c.id, plan, { anchor: '2026-01-01T00:00:00Z' });
    await ingest(times(99, 'hard-co', '2026-01-05T10:00:00Z'));
    await ingest(times(3, 'hard-co', '2025-12-31T23:59:59Z')); // before the period (and the subscription)

    let e = byKey((await svc.customerAccess(c.id, new Date('2026-01-20T00:00:00Z'))).data)['api-calls'];
    expect(e).toMatchObject({ type: 'metered', has_access: true, limit: '100', usage: '99', balance: '1' });

    await ingest(times(1, 'hard-co', '2026-01-06T00:00:00Z'));
    e = byKey((await svc.customerAccess('hard-co', new Date('2026-01-20T00:00:00Z'))).data)['api-calls'];
    expect(e).toEqual({
      feature_key: 'api-calls',
      type: 'metered',
      has_access: false,
      is_soft_limit: false,
      limit: '100',
      usage: '100',
      balance: '0',
      overage: '0',
      usage_period: 'P1M',
      current_usage_period: { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
    });

    // the next usage period: nothing used yet, access back
    e = byKey((await svc.customerAccess(c.id, new Date('2026-02-03T00:00:00Z'))).data)['api-calls'];
    expect(e).toMatchObject({
      has_access: true,
      usage: '0',
      balance: '100',
      overage: '0',
      current_usage_period: { from: '2026-02-01T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' },
    });
  });

  it('a soft limit keeps access and reports the overage; its own usage_period (P1D) resets daily', async () => {
    const c = await customer('soft-co');
    await subscribe(c.id, plan, { anchor: '2026-01-01T06:00:00Z' });
    await ingest(times(120, 'soft-co', '2026-01-10T07:00:00Z'));
    const at = new Date('2026-01-10T12:00:00Z');
    const e = byKey((await svc.customerAccess(c.id, at)).data);
    expect(e['soft-calls']).toMatchObject({
      has_access: true,
      is_soft_limit: true,
      limit: '100',
      usage: '120',
      balance: '0',
      overage: '20',
      usage_period: 'P1D',
      current_usage_period: { from: '2026-01-10T06:00:00.000Z', to: '2026-01-11T06:00:00.000Z' },
    });
    // the same events exhaust the hard-limited feature on the same meter (monthly period)
    expect(e['api-calls']).toMatchObject({ has_access: false, usage: '120', overage: '20' });
    const nextDay = byKey((await svc.customerAccess(c.id, new Date('2026-01-11T07:00:00Z'))).data);
    expect(nextDay['soft-calls']).toMatchObject({ usage: '0', overage: '0', balance: '100' });
    expect(nextDay['api-calls']).toMatchObject({ usage: '120', has_access: false });
  });

  it('counts all the customer subjects, applies the feature meter filters, never before active_from', async () => {
    const c = await customer('multi-co', ['multi-a', 'multi-b']);
    // anchored on the 1st, started on the 10th
    await subscribe(c.id, plan, { anchor: '2026-03-01T00:00:00Z', activeFrom: '2026-03-10T00:00:00Z' });
    const tok = (subject: string, time: string, n: number, model: string) => ({
      subject,
      time,
      type: 'tokens',
      data: { n, model },
    });
    await ingest([
      tok('multi-co', '2026-03-09T23:59:59Z', 5000, 'gpt'), // before active_from
      tok('multi-a', '2026-03-11T00:00:00Z', 300, 'gpt'),
      tok('multi-b', '2026-03-12T00:00:00Z', 200.5, 'gpt'),
      tok('multi-b', '2026-03-12T00:00:00Z', 9000, 'claude'), // filtered out
      tok('other-subject', '2026-03-12T00:00:00Z', 9000, 'gpt'), // someone else
    ]);
    const e = byKey((await svc.customerAccess(c.id, new Date('2026-03-20T00:00:00Z'))).data)['gpt-tokens'];
    expect(e).toMatchObject({ has_access: true, limit: '1000', usage: '500.5', balance: '499.5' });
    expect(e.current_usage_period).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
    });
  });
});

describe('boolean, static, phases and subscription state', () => {
  it('boolean and static features have access; static config is a JSON string; features not in the plan are absent', async () => {
    const c = await customer('flags-co');
    await subscribe(c.id, plan, { anchor: '2026-01-01T00:00:00Z' });
    const data = (await svc.customerAccess(c.id, new Date('2026-01-02T00:00:00Z'))).data;
    expect(data.map((e) => e.feature_key)).toEqual([
      'api-calls',
      'gpt-tokens',
      'seats-config',
      'soft-calls',
      'sso',
    ]);
    const e = byKey(data);
    expect(e.sso).toEqual({ feature_key: 'sso', type: 'boolean', has_access: true });
    expect(e['seats-config']).toEqual({
      feature_key: 'seats-config',
      type: 'static',
      has_access: true,
      config: expect.any(String),
    });
    expect(JSON.parse(e['seats-config'].config as string)).toEqual({ seats: 5, tier: 'gold' });
    expect(e['not-in-plan']).toBeUndefined();
    expect(e['trial-banner']).toBeUndefined();
  });

  it('the phase in the subscription row decides: the trial phase grants only its own rate cards', async () => {
    const c = await customer('trial-co');
    await subscribe(c.id, plan, { anchor: '2026-01-01T00:00:00Z', phase: 'trial' });
    const data = (await svc.customerAccess(c.id, new Date('2026-01-02T00:00:00Z'))).data;
    expect(data).toEqual([{ feature_key: 'trial-banner', type: 'boolean', has_access: true }]);
  });

  it('no access without an active subscription: none, canceled, not yet started, ended', async () => {
    const none = await customer('none-co');
    const canceled = await customer('canceled-co');
    const future = await customer('future-co');
    const ended = await customer('ended-co');
    await subscribe(canceled.id, plan, { anchor: '2026-01-01T00:00:00Z', status: 'canceled' });
    await subscribe(future.id, plan, { anchor: '2026-02-01T00:00:00Z' });
    await subscribe(ended.id, plan, { anchor: '2026-01-01T00:00:00Z', activeTo: '2026-01-15T00:00:00Z' });
    const at = new Date('2026-01-20T00:00:00Z');
    for (const c of [none, canceled, future, ended])
      expect(await svc.customerAccess(c.id, at)).toEqual({ data: [] });
    // the ended subscription still granted access before active_to; the future one from active_from on
    expect((await svc.customerAccess(ended.id, new Date('2026-01-14T23:59:59Z'))).data).toHaveLength(5);
    expect((await svc.customerAccess(future.id, new Date('2026-02-01T00:00:00Z'))).data).toHaveLength(5);
  });
});

describe('HTTP API', () => {
  it('GET /customers/{id}/entitlement-access by id or key; unknown customer → 404 problem+json', async () => {
    const c = await customer('http-co');
    const now = Date.now();
    await subscribe(c.id, plan, { anchor: new Date(now - 24 * 3600_000).toISOString() });
    await ingest(times(100, 'http-co', new Date(now - 3600_000)));
    for (const ref of [c.id, 'http-co']) {
      const res = await app.api.get(`${P}/customers/${ref}/entitlement-access`);
      expect(res.status).toBe(200);
      const e = byKey(res.body.data);
      expect(e['api-calls']).toMatchObject({ has_access: false, usage: '100', limit: '100' });
      expect(e.sso).toEqual({ feature_key: 'sso', type: 'boolean', has_access: true });
    }
    const missing = await app.api.get(`${P}/customers/nobody/entitlement-access`);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(missing.body).toMatchObject({ status: 404, detail: expect.stringContaining('nobody') });
    const unauth = await app.raw.get(`${P}/customers/${c.id}/entitlement-access`);
    expect(unauth.status).toBe(401);
  });

  it('POST /entitlement-access/query: many customers in two SQL statements, subject keys, unknown keys, features', async () => {
    const now = Date.now();
    const anchor = new Date(now - 24 * 3600_000).toISOString();
    const keys: string[] = [];
    const ids: Record<string, string> = {};
    for (let i = 0; i < 30; i++) {
      const c = await customer(`q-${i}`, [`q-${i}-sub`]);
      ids[`q-${i}`] = c.id;
      keys.push(i % 2 === 0 ? `q-${i}` : `q-${i}-sub`);
      if (i !== 7) await subscribe(c.id, plan, { anchor });
    }
    // q-3 exhausts its hard limit through its subject
    await ingest(times(100, 'q-3-sub', new Date(now - 3600_000)));
    await ingest(times(40, 'q-4', new Date(now - 3600_000)));

    const conn = app.deps.orm.em.getConnection();
    const spy = jest.spyOn(conn, 'execute');
    // the access query's statements run as prepared statements on the read pool (src/db/prepared.ts)
    const poolSpy = jest.spyOn(Pool.prototype, 'query');
    const res = await app.api
      .post(`${P}/entitlement-access/query`)
      .send({ customer: { keys: [...keys, 'nobody', 'q-4'] } });
    // the access query's statements (the balance-threshold hook of the ingest above may look up its rules
    // meanwhile, on its own timer: not part of the query)
    const text = (c: unknown[]) =>
      typeof c[0] === 'string' ? c[0] : ((c[0] as { text?: string } | undefined)?.text ?? '');
    const statements = [...spy.mock.calls, ...poolSpy.mock.calls].filter(
      (c) => !text(c).includes('notification_rules'),
    ).length;
    spy.mockRestore();
    poolSpy.mockRestore();
    expect(res.status).toBe(200);
    expect(statements).toBe(2);
    expect(res.body.errors).toEqual([
      { code: 'customer_not_found', message: expect.stringContaining('nobody'), customer: 'nobody' },
    ]);
    expect(res.body.data).toHaveLength(30);
    const byCustomer = Object.fromEntries(res.body.data.map((d: any) => [d.customer.key, d]));
    expect(byCustomer['q-3']).toMatchObject({
      matched: ['q-3-sub'],
      customer: { id: ids['q-3'], key: 'q-3', name: 'Customer q-3' },
      updated_at: expect.any(String),
    });
    // OpenMeter's BillingCustomer requires created_at and updated_at: the customer's own
    const q3Customer = (await app.api.get(`${P}/customers/${ids['q-3']}`).expect(200)).body;
    expect(byCustomer['q-3'].customer).toEqual({
      id: ids['q-3'],
      key: 'q-3',
      name: 'Customer q-3',
      created_at: q3Customer.created_at,
      updated_at: q3Customer.updated_at,
    });
    expect(q3Customer.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(byCustomer['q-3'].features['api-calls']).toEqual({
      has_access: false,
      type: 'metered',
      limit: '100',
      usage: '100',
      balance: '0',
      reason: { code: 'usage_limit_reached', message: expect.any(String) },
    });
    expect(byCustomer['q-4'].matched).toEqual(['q-4']);
    expect(byCustomer['q-4'].features['api-calls']).toEqual({
      has_access: true,
      type: 'metered',
      limit: '100',
      usage: '40',
      balance: '60',
    });
    expect(byCustomer['q-5'].features.sso).toEqual({ has_access: true, type: 'boolean' });
    expect(byCustomer['q-7'].features).toEqual({}); // no subscription
    expect(Object.keys(byCustomer['q-0'].features).sort()).toEqual([
      'api-calls',
      'gpt-tokens',
      'seats-config',
      'soft-calls',
      'sso',
    ]);

    const narrowed = await ok(
      app.api
        .post(`${P}/entitlement-access/query`)
        .send({ customer: { keys: ['q-3', 'q-7'] }, feature: { keys: ['sso', 'api-calls', 'not-in-plan'] } }),
      200,
    );
    expect(narrowed.errors).toEqual([]);
    const [q3, q7] = narrowed.data;
    expect(q3.customer.key).toBe('q-3');
    expect(Object.keys(q3.features).sort()).toEqual(['api-calls', 'not-in-plan', 'sso']);
    expect(q3.features['not-in-plan']).toEqual({
      has_access: false,
      reason: { code: 'feature_unavailable', message: expect.any(String) },
    });
    expect(q3.features['api-calls'].has_access).toBe(false);
    expect(q7.features.sso).toMatchObject({ has_access: false, reason: { code: 'feature_unavailable' } });
  });

  it('validates the query body', async () => {
    const empty = await app.api.post(`${P}/entitlement-access/query`).send({ customer: { keys: [] } });
    expect(empty.status).toBe(400);
    expect(empty.body.invalid_parameters[0].field).toBe('body.customer.keys');
    const many = await app.api
      .post(`${P}/entitlement-access/query`)
      .send({ customer: { keys: Array.from({ length: 101 }, (_, i) => `k${i}`) } });
    expect(many.status).toBe(400);
    const extra = await app.api
      .post(`${P}/entitlement-access/query`)
      .send({ customer: { keys: ['a'] }, x: 1 });
    expect(extra.status).toBe(400);
  });
});
