/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
import type { IssueInvoiceInput } from '../../src/billing/contract';
import { issueInvoice } from '../../src/billing/service';
import { newId } from '../../src/lib/ids';
import { createTestApp, type TestApp } from '../support/app';
import { defaultPhase, fixtures, ok, P } from '../support/api';

let app: TestApp;
const em = () => app.deps.orm.em.fork();

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

async function createCustomer(key: string, subjects: string[] = []) {
  return ok(
    app.api.post(`${P}/customers`).send({
      key,
      name: `Customer ${key}`,
      currency: 'USD',
      ...(subjects.length ? { usage_attribution: { subject_keys: subjects } } : {}),
    }),
    201,
  );
}

const createMeter = (body: Record<string, unknown>) => fixtures(app).meter(body);
const createFeature = (body: Record<string, unknown>) => fixtures(app).feature(body);
/** creates and publishes plan `key` with one phase `default` */
const createPlan = (key: string, rateCards: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  fixtures(app).plan(key, defaultPhase(rateCards), extra);

async function ingest(events: { type: string; subject: string; time: string; data: unknown }[]) {
  await ok(
    app.api
      .post(`${P}/events`)
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(events.map((e) => ({ specversion: '1.0', id: newId(), source: 'billing-test', ...e }))),
    202,
  );
}

async function insertSubscription(s: {
  customerId: string;
  customerKey: string;
  plan: { id: string; key: string; version: number };
  activeFrom: Date;
  periodStart: Date;
  periodEnd: Date;
  status?: string;
}) {
  const id = newId();
  await em().execute(
    `insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
        billing_anchor, active_from, phase_key, phase_started_at, current_period_start, current_period_end,
        workflow_id)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'default', ?, ?, ?, ?)`,
    [
      id,
      s.customerId,
      s.customerKey,
      s.plan.id,
      s.plan.key,
      s.plan.version,
      s.status ?? 'active',
      s.activeFrom,
      s.activeFrom,
      s.activeFrom,
      s.periodStart,
      s.periodEnd,
      `subscription-${id}`,
    ],
  );
  return id;
}

const JAN = { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' };

function arrearsInput(
  planId: string,
  customerId: string,
  over: Partial<IssueInvoiceInput> = {},
  period: { from: string; to: string } = JAN,
): IssueInvoiceInput {
  return {
    invoiceKey: `inv-${newId()}`,
    subscriptionId: over.subscriptionId ?? newId(),
    customerId,
    subscriptionStart: period.from,
    arrears: {
      planId,
      phaseKey: 'default',
      from: period.from,
      to: period.to,
      cycleFrom: period.from,
      cycleTo: period.to,
    },
    ...over,
  };
}

async function invoiceCount(where = 'true', params: unknown[] = []) {
  const [r] = await em().execute<{ n: string }[]>(
    `select count(*)::text as n from invoices where ${where}`,
    params,
  );
  return Number(r.n);
}

describe('issueInvoice', () => {
  let acme: any;
  let globex: any;
  let plan: any;

  beforeAll(async () => {
    acme = await createCustomer('acme', ['acme-svc']);
    globex = await createCustomer('globex');
    const meter = await createMeter({
      key: 'tokens',
      name: 'Tokens',
      aggregation: 'sum',
      event_type: 'llm',
      value_property: '$.tokens',
      dimensions: { model: '$.model' },
    });
    const feature = await createFeature({
      key: 'gpt_tokens',
      name: 'GPT tokens',
      meter: { id: meter.id, filters: { model: { eq: 'gpt' } } },
    });
    plan = await createPlan('tokens_plan', [
      {
        key: 'gpt_tokens',
        name: 'GPT tokens',
        feature: { id: feature.id },
        billing_cadence: 'P1M',
        price: { type: 'unit', amount: '0.5' },
      },
      {
        key: 'platform',
        name: 'Platform fee',
        billing_cadence: 'P1M',
        price: { type: 'flat', amount: '10' },
      },
    ]);
    const ev = (subject: string, time: string, tokens: number, model = 'gpt') => ({
      type: 'llm',
      subject,
      time,
      data: { tokens, model },
    });
    await ingest([
      ev('acme', '2026-01-05T00:00:00Z', 1000), // before the subscription start: not billed
      ev('acme', '2026-01-15T00:00:00Z', 3),
      ev('acme-svc', '2026-01-20T00:00:00Z', 4), // attributed through a subject key
      ev('acme', '2026-01-21T00:00:00Z', 500, 'other'), // excluded by the feature's meter filter
      ev('acme', '2026-02-01T00:00:00Z', 2000), // at the period end: next period (half-open)
      ev('globex', '2026-01-15T00:00:00Z', 100), // another customer
    ]);
  });

  it('bills usage in [max(from, subscription start), to) of the customer subjects only', async () => {
    const input = arrearsInput(plan.id, acme.id, { subscriptionStart: '2026-01-10T00:00:00.000Z' });
    const ref = await issueInvoice(em(), input);
    expect(ref).toMatchObject({ created: true, total: '13.50' });
    expect(ref.number).toMatch(/^INV-\d{6}$/);

    const inv = await ok(app.api.get(`${P}/billing/invoices/${ref.invoiceId}`), 200);
    expect(inv).toMatchObject({
      id: ref.invoiceId,
      number: ref.number,
      type: 'standard',
      status: 'issued',
      currency: 'USD',
      customer: { id: acme.id, key: 'acme', name: 'Customer acme' },
      subscription: { id: input.subscriptionId },
      service_period: { from: JAN.from, to: JAN.to },
      totals: { amount: '13.50', total: '13.50', taxes_total: '0.00', credits_total: '0.00' },
    });
    const usage = inv.lines.find((l: any) => l.feature_key === 'gpt_tokens');
    expect(usage).toMatchObject({
      name: 'GPT tokens',
      quantity: '7',
      unit_price: '0.5',
      service_period: { from: '2026-01-10T00:00:00.000Z', to: JAN.to },
      totals: { amount: '3.50', total: '3.50' },
      price: { type: 'unit', amount: '0.5' },
    });
    const flat = inv.lines.find((l: any) => l.rate_card_key === 'platform');
    expect(flat).toMatchObject({ quantity: '1', totals: { total: '10.00' }, feature_key: null });

    const other = await issueInvoice(em(), arrearsInput(plan.id, globex.id));
    expect(other.total).toBe('60.00'); // 100 × 0.5 + 10
  });

  it('same key twice → one invoice, same number (a retry after a write)', async () => {
    const input = arrearsInput(plan.id, acme.id);
    const first = await issueInvoice(em(), input);
    const retry = await issueInvoice(em(), { ...input });
    expect(first.created).toBe(true);
    expect(retry).toEqual({ ...first, created: false });
    expect(await invoiceCount('invoice_key = ?', [input.invoiceKey])).toBe(1);
    const [lines] = await em().execute<{ n: string }[]>(
      'select count(*)::text as n from invoice_lines where invoice_id = ?',
      [first.invoiceId],
    );
    expect(Number(lines.n)).toBe(2);
  });

  it('5 concurrent calls with one key → exactly one invoice; no number is consumed by the losers', async () => {
    const input = arrearsInput(plan.id, acme.id);
    const refs = await Promise.all(Array.from({ length: 5 }, () => issueInvoice(em(), input)));
    expect(refs.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(refs.map((r) => r.invoiceId)).size).toBe(1);
    expect(new Set(refs.map((r) => r.number)).size).toBe(1);
    expect(await invoiceCount('invoice_key = ?', [input.invoiceKey])).toBe(1);

    const next = await issueInvoice(em(), arrearsInput(plan.id, acme.id));
    expect(Number(next.number.slice(4))).toBe(Number(refs[0].number.slice(4)) + 1);
  });

  it('still issues the final invoice of a deleted customer (its key keeps attributing usage)', async () => {
    const gone = await createCustomer('gone-co', ['gone-svc']);
    await ingest([
      { type: 'llm', subject: 'gone-co', time: '2026-01-12T00:00:00Z', data: { tokens: 2, model: 'gpt' } },
    ]);
    await ok(app.api.delete(`${P}/customers/${gone.id}`), 204);
    const ref = await issueInvoice(em(), arrearsInput(plan.id, gone.id));
    expect(ref.total).toBe('11.00'); // 2 × 0.5 + 10
    const inv = await ok(app.api.get(`${P}/billing/invoices/${ref.invoiceId}`), 200);
    expect(inv.customer).toEqual({ id: gone.id, key: 'gone-co', name: 'Customer gone-co' });
  });

  it('rejects an input with no period', async () => {
    await expect(
      issueInvoice(em(), {
        invoiceKey: 'x',
        subscriptionId: 's',
        customerId: acme.id,
        subscriptionStart: JAN.from,
      }),
    ).rejects.toThrow(/arrears or an advance/);
  });
});

describe('tiered and flat invoices through the calculator', () => {
  let customer: any;
  let meterId: string;
  let featureId: string;

  beforeAll(async () => {
    customer = await createCustomer('tiered');
    const meter = await createMeter({
      key: 'calls',
      name: 'Calls',
      aggregation: 'count',
      event_type: 'call',
    });
    meterId = meter.id;
    featureId = (await createFeature({ key: 'calls', name: 'Calls', meter: { id: meterId } })).id;
    // 12 calls in January
    await ingest(
      Array.from({ length: 12 }, (_, i) => ({
        type: 'call',
        subject: 'tiered',
        time: `2026-01-${String(i + 2).padStart(2, '0')}T12:00:00Z`,
        data: {},
      })),
    );
  });

  const tiers = [
    { up_to_amount: '10', unit_price: { type: 'unit', amount: '1' } },
    { unit_price: { type: 'unit', amount: '0.5' }, flat_price: { type: 'flat', amount: '2' } },
  ];

  it('graduated: 10 × 1 + (2 flat + 2 × 0.5)', async () => {
    const plan = await createPlan('grad', [
      {
        key: 'calls',
        name: 'Calls',
        feature: { id: featureId },
        billing_cadence: 'P1M',
        price: { type: 'graduated', tiers },
      },
    ]);
    const ref = await issueInvoice(em(), arrearsInput(plan.id, customer.id));
    expect(ref.total).toBe('13.00');
    const inv = await ok(app.api.get(`${P}/billing/invoices/${ref.invoiceId}`), 200);
    expect(inv.lines[0]).toMatchObject({ quantity: '12', unit_price: null, totals: { total: '13.00' } });
    expect(inv.lines[0].detail.tiers).toHaveLength(2);
  });

  it('volume: all 12 at the second tier, 2 + 12 × 0.5', async () => {
    const plan = await createPlan('vol', [
      {
        key: 'calls',
        name: 'Calls',
        feature: { id: featureId },
        billing_cadence: 'P1M',
        price: { type: 'volume', tiers },
      },
    ]);
    const ref = await issueInvoice(em(), arrearsInput(plan.id, customer.id));
    expect(ref.total).toBe('8.00');
  });

  it('volume at exactly a tier bound (10 calls) uses the lower tier', async () => {
    const plan = await createPlan('vol_bound', [
      {
        key: 'calls',
        name: 'Calls',
        feature: { id: featureId },
        billing_cadence: 'P1M',
        price: { type: 'volume', tiers },
      },
    ]);
    // calls on Jan 2..11 = 10
    const ref = await issueInvoice(
      em(),
      arrearsInput(plan.id, customer.id, {}, { from: JAN.from, to: '2026-01-12T00:00:00.000Z' }),
    );
    expect(ref.total).toBe('10.00');
  });

  it('advance invoice: in-advance fee prorated for a late start; one-time fee billed once', async () => {
    const plan = await createPlan('seats', [
      {
        key: 'seat',
        name: 'Seat',
        billing_cadence: 'P1M',
        payment_term: 'in_advance',
        price: { type: 'flat', amount: '28' },
      },
      { key: 'setup', name: 'Setup', price: { type: 'flat', amount: '50' } },
    ]);
    const subscriptionId = newId();
    const feb = {
      planId: plan.id,
      phaseKey: 'default',
      cycleFrom: '2026-02-01T00:00:00.000Z',
      cycleTo: '2026-03-01T00:00:00.000Z',
    };
    const first = await issueInvoice(em(), {
      invoiceKey: `adv-${subscriptionId}-1`,
      subscriptionId,
      customerId: customer.id,
      subscriptionStart: '2026-02-15T00:00:00.000Z',
      advance: { ...feb, from: '2026-02-15T00:00:00.000Z', to: feb.cycleTo },
    });
    expect(first.total).toBe('64.00'); // 28 × 14/28 + 50
    const second = await issueInvoice(em(), {
      invoiceKey: `adv-${subscriptionId}-2`,
      subscriptionId,
      customerId: customer.id,
      subscriptionStart: '2026-02-15T00:00:00.000Z',
      advance: {
        planId: plan.id,
        phaseKey: 'default',
        from: '2026-03-01T00:00:00.000Z',
        to: '2026-04-01T00:00:00.000Z',
        cycleFrom: '2026-03-01T00:00:00.000Z',
        cycleTo: '2026-04-01T00:00:00.000Z',
      },
    });
    expect(second.total).toBe('28.00');
  });

  it('pro-rating disabled: the in-arrears fee is billed in full on a short period', async () => {
    const plan = await createPlan(
      'no_prorate',
      [{ key: 'base', name: 'Base', billing_cadence: 'P1M', price: { type: 'flat', amount: '31' } }],
      { pro_rating_enabled: false },
    );
    const on = await createPlan('prorate', [
      { key: 'base', name: 'Base', billing_cadence: 'P1M', price: { type: 'flat', amount: '31' } },
    ]);
    const short = {
      from: JAN.from,
      cycleFrom: JAN.from,
      cycleTo: JAN.to,
      to: '2026-01-11T00:00:00.000Z',
      phaseKey: 'default',
    };
    const a = await issueInvoice(em(), {
      ...arrearsInput(plan.id, customer.id),
      arrears: { ...short, planId: plan.id },
    });
    const b = await issueInvoice(em(), {
      ...arrearsInput(on.id, customer.id),
      arrears: { ...short, planId: on.id },
    });
    expect(a.total).toBe('31.00');
    expect(b.total).toBe('10.00');
  });
});

describe('invoice endpoints', () => {
  let c1: any;
  let c2: any;
  let plan: any;
  const ids: string[] = [];

  beforeAll(async () => {
    c1 = await createCustomer('list-one');
    c2 = await createCustomer('list-two');
    plan = await createPlan('listing', [
      { key: 'base', name: 'Base', billing_cadence: 'P1M', price: { type: 'flat', amount: '5' } },
    ]);
    for (const c of [c1, c1, c2]) ids.push((await issueInvoice(em(), arrearsInput(plan.id, c.id))).invoiceId);
  });

  it('lists invoices with totals and without lines, filtered by customer id or key', async () => {
    const byKey = await ok(app.api.get(`${P}/billing/invoices?filter[customer_id]=list-one`), 200);
    expect(byKey.data.map((i: any) => i.id)).toEqual(ids.slice(0, 2));
    expect(byKey.meta.page).toEqual({ number: 1, size: 100, total: 2 });
    expect(byKey.data[0].totals.total).toBe('5.00');
    expect(byKey.data[0].lines).toBeUndefined();
    const byId = await ok(app.api.get(`${P}/billing/invoices?filter[customer_id]=${c2.id}`), 200);
    expect(byId.data.map((i: any) => i.id)).toEqual([ids[2]]);
  });

  it('filters by status and paginates', async () => {
    const issued = await ok(
      app.api.get(`${P}/billing/invoices?filter[status]=issued&page[size]=1&page[number]=2`),
      200,
    );
    expect(issued.data).toHaveLength(1);
    expect(issued.meta.page.size).toBe(1);
    expect(issued.meta.page.total).toBeGreaterThanOrEqual(3);
    const paid = await ok(app.api.get(`${P}/billing/invoices?filter[status][oeq]=paid,voided`), 200);
    expect(paid.data).toEqual([]);
    const bad = await app.api.get(`${P}/billing/invoices?filter[status]=bogus`);
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('sorts by created_at desc', async () => {
    const r = await ok(
      app.api.get(`${P}/billing/invoices?filter[customer_id]=list-one&sort=created_at desc`),
      200,
    );
    expect(r.data.map((i: any) => i.id)).toEqual(ids.slice(0, 2).reverse());
  });

  it('404 problem+json for an unknown invoice', async () => {
    const r = await app.api.get(`${P}/billing/invoices/${newId()}`);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 404, title: 'Not Found' });
  });
});

describe('invoice preview', () => {
  it('tutorial: unique_count of active users since the subscription start', async () => {
    const customer = await createCustomer('tutorial-co');
    const meter = await createMeter({
      key: 'active_users',
      name: 'Active users',
      aggregation: 'unique_count',
      event_type: 'user_activity',
      value_property: '$.user_id',
    });
    const feature = await createFeature({
      key: 'active_users',
      name: 'active-users',
      meter: { id: meter.id },
    });
    const plan = await createPlan('tutorial', [
      {
        key: 'active_users',
        name: 'active-users',
        feature: { id: feature.id },
        billing_cadence: 'P1M',
        price: { type: 'unit', amount: '1' },
      },
    ]);
    const now = Date.now();
    const start = new Date(now - 3600_000);
    await insertSubscription({
      customerId: customer.id,
      customerKey: customer.key,
      plan,
      activeFrom: start,
      periodStart: start,
      periodEnd: new Date(start.getTime() + 30 * 86400_000),
    });
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    const ev = (user: string, time: string) => ({
      type: 'user_activity',
      subject: 'tutorial-co',
      time,
      data: { user_id: user },
    });
    await ingest([
      ev('early', at(2 * 3600_000)), // before the subscription start
      ev('u1', at(50 * 60_000)),
      ev('u2', at(40 * 60_000)),
      ev('u1', at(30 * 60_000)),
      ev('u3', at(20 * 60_000)),
    ]);

    const preview = await ok(app.api.get(`${P}/customers/tutorial-co/invoices/preview`), 200);
    expect(preview).toMatchObject({
      id: null,
      status: 'preview',
      currency: 'USD',
      customer: { id: customer.id },
    });
    const line = preview.lines.find((l: any) => l.name === 'active-users');
    expect(line).toMatchObject({ quantity: '3', unit_price: '1', totals: { total: '3.00' } });
    expect(preview.totals.total).toBe('3.00');
    expect(await invoiceCount('customer_id = ?', [customer.id])).toBe(0);
  });

  it('prorates in-arrears flat fees to now when pro-rating is enabled, ignores canceled subscriptions', async () => {
    const customer = await createCustomer('preview-flat');
    const plan = await createPlan('preview_flat', [
      { key: 'base', name: 'Base', billing_cadence: 'P1M', price: { type: 'flat', amount: '100' } },
      // already invoiced at the period start: neither charged again nor credited in a preview
      {
        key: 'seats',
        name: 'Seats',
        billing_cadence: 'P1M',
        payment_term: 'in_advance',
        price: { type: 'flat', amount: '50' },
      },
    ]);
    const now = Date.now();
    const start = new Date(now - 10 * 86400_000); // 10 of 40 days elapsed
    const base = {
      customerId: customer.id,
      customerKey: customer.key,
      plan,
      activeFrom: start,
      periodStart: start,
    };
    await insertSubscription({ ...base, periodEnd: new Date(start.getTime() + 40 * 86400_000) });
    await insertSubscription({
      ...base,
      periodEnd: new Date(start.getTime() + 40 * 86400_000),
      status: 'canceled',
    });
    const preview = await ok(app.api.get(`${P}/customers/${customer.id}/invoices/preview`), 200);
    expect(preview.lines.map((l: { name: string }) => l.name)).toEqual(['Base']);
    const total = Number(preview.totals.total);
    expect(total).toBeGreaterThanOrEqual(24.99);
    expect(total).toBeLessThanOrEqual(25.01);
  });

  it('404 for an unknown customer', async () => {
    const r = await app.api.get(`${P}/customers/nobody-here/invoices/preview`);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
