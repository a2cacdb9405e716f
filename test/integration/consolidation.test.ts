/**
 * Consolidation (issue 11): a customer's pending lines — its subscriptions' closed periods and one-off
 * charges — are gathered by the customer's collection workflow onto ONE draft per currency. Real API, real
 * PostgreSQL, real worker on the time-skipping Temporal server.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import {
  advanceTo,
  createHarness,
  DAY,
  isoOf,
  month,
  TASK_QUEUE,
  waitFor,
  type Harness,
} from '../support/harness';
import { defaultPhase, fixtures, flatFeeRateCard, P } from '../support/api';
import { customerInvoicingSnapshot } from '../../src/billing/settings';
import { previewInvoice } from '../../src/billing/service';
import { maybeRecordWorkflowHistory, workflowRunHistories } from '../support/history';
import { signalCollection } from '../../src/billing/workflow-starts';
import { COLLECTION_HISTORY_LIMIT } from '../../workflows/collection';

jest.setTimeout(120_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Inv {
  id: string;
  currency: string;
  status: string;
  subscription_id: string | null;
  lines: { name: string; amount: string; subscription_id: string | null; source_key: string | null }[];
}

/** The customer's invoices (not deleted) with their lines, by currency. */
async function invoicesOfCustomer(hh: Harness, customerId: string): Promise<Inv[]> {
  const em = hh.app.deps.orm.em.fork();
  const invs = await em.execute<any[]>(
    `select id, currency, status, subscription_id from invoices where customer_id = ? and status <> 'deleted'
      order by currency, created_at`,
    [customerId],
  );
  for (const i of invs)
    i.lines = await em.execute<any[]>(
      `select name, amount::text as amount, subscription_id, source_key from invoice_lines where invoice_id = ?
        order by position`,
      [i.id],
    );
  return invs;
}

async function twoFlatPlans(hh: Harness, currencies: [string, string] = ['USD', 'USD']) {
  const f = fixtures(hh.app);
  await f.plan('alpha', defaultPhase([flatFeeRateCard('10', 'alpha-fee', 'Alpha fee')]), {
    currency: currencies[0],
  });
  await f.plan('beta', defaultPhase([flatFeeRateCard('20', 'beta-fee', 'Beta fee')]), {
    currency: currencies[1],
  });
  return f;
}

describe('consolidation', () => {
  it('two subscriptions ending together → ONE invoice with both; a charge rides along; once only', async () => {
    h = await createHarness({ collectionPeriod: 'PT1H' });
    const f = await twoFlatPlans(h);
    const customer = await f.customer('acme-inc');
    const s1 = await f.subscribe({ customer: { id: customer.id }, plan: { key: 'alpha' } });
    const a = Date.parse(s1.active_from);
    const s2 = await f.subscribe({
      customer: { id: customer.id },
      plan: { key: 'beta' },
      billing_anchor: s1.active_from,
    });
    // a one-off charge, with an Idempotency-Key: the same request again answers the same charge
    // for the first month: due at its end, with the subscriptions' periods
    const body = {
      name: 'Setup',
      amount_before_proration: '5',
      description: 'onboarding',
      service_period: { from: isoOf(a), to: isoOf(month(a, 1)) },
    };
    const c1 = await h.app.api
      .post(`${P}/customers/${customer.id}/charges`)
      .set('Idempotency-Key', 'charge-1')
      .send(body);
    expect(c1.status).toBe(201);
    expect(c1.body).toMatchObject({ type: 'flat_fee', status: 'created', currency: 'USD', name: 'Setup' });
    const c2 = await h.app.api
      .post(`${P}/customers/${customer.id}/charges`)
      .set('Idempotency-Key', 'charge-1')
      .send(body);
    expect(c2.body.id).toBe(c1.body.id);
    const other = await h.app.api
      .post(`${P}/customers/${customer.id}/charges`)
      .set('Idempotency-Key', 'charge-1')
      .send({ ...body, amount_before_proration: '6' });
    expect(other.status).toBe(422);
    const list = await h.app.api.get(`${P}/customers/${customer.id}/charges`);
    expect(list.body.data.map((c: any) => c.id)).toEqual([c1.body.id]);

    await advanceTo(h, month(a, 1) + 61 * 60_000, [s1.id, s2.id], 7 * DAY);
    const invs = await waitFor(async () => {
      const l = await invoicesOfCustomer(h!, customer.id);
      return l.length >= 1 && l[0].lines.length >= 3 && l;
    });
    expect(invs).toHaveLength(1);
    expect(invs[0].subscription_id).toBeNull();
    expect(invs[0].lines.map((l) => [l.name, l.amount, l.subscription_id])).toEqual(
      expect.arrayContaining([
        ['Setup', '5.00', null],
        ['Alpha fee', '10.00', s1.id],
        ['Beta fee', '20.00', s2.id],
      ]),
    );
    const got = await h.app.api.get(`${P}/customers/${customer.id}/charges/${c1.body.id}`);
    expect(got.body).toMatchObject({ status: 'final', invoice: { id: invs[0].id } });
    const del = await h.app.api.delete(`${P}/customers/${customer.id}/charges/${c1.body.id}`);
    expect(del.status).toBe(409);

    // the next month: one invoice again, the charge not billed twice
    await advanceTo(h, month(a, 2) + 61 * 60_000, [s1.id, s2.id], 7 * DAY);
    const after = await waitFor(async () => {
      const l = await invoicesOfCustomer(h!, customer.id);
      return l.length === 2 && l;
    });
    expect(after[1].lines.map((l) => l.name).sort()).toEqual(['Alpha fee', 'Beta fee']);
    await maybeRecordWorkflowHistory(h, `collection-${customer.id}`, 'collection-two-subscriptions');
  });

  it('different currencies → two invoices', async () => {
    h = await createHarness({ collectionPeriod: 'PT1H' });
    const f = await twoFlatPlans(h, ['USD', 'EUR']);
    const customer = await f.customer('acme-inc');
    const s1 = await f.subscribe({ customer: { id: customer.id }, plan: { key: 'alpha' } });
    const a = Date.parse(s1.active_from);
    const s2 = await f.subscribe({
      customer: { id: customer.id },
      plan: { key: 'beta' },
      billing_anchor: s1.active_from,
    });
    await advanceTo(h, month(a, 1) + 61 * 60_000, [s1.id, s2.id], 7 * DAY);
    const invs = await waitFor(async () => {
      const l = await invoicesOfCustomer(h!, customer.id);
      return l.length === 2 && l;
    });
    expect(invs.map((i) => [i.currency, i.subscription_id, i.lines.map((l) => l.amount)])).toEqual([
      ['EUR', s2.id, ['20.00']],
      ['USD', s1.id, ['10.00']],
    ]);
    // the preview (at workflow time) asks which currency, then shows that currency's lines only
    const at = new Date(month(a, 1) + 2 * 3600_000);
    const em = h.app.deps.orm.em.fork();
    await expect(previewInvoice(em, customer.id, at)).rejects.toThrow(/several currencies \(EUR, USD\)/);
    const eur = await previewInvoice(em, customer.id, at, 'EUR');
    expect(eur.currency).toBe('EUR');
    expect(eur.lines?.map((l) => l.subscription?.id)).toEqual([s2.id]);
    const bad = await h.app.api.get(`${P}/customers/${customer.id}/invoices/preview?currency=eur`);
    expect(bad.status).toBe(400);
  });

  it('anchored alignment: subscriptions with different boundaries meet on one invoice at the anchor', async () => {
    let anchor = '';
    h = await createHarness({
      collectionPeriod: 'PT1H',
      invoicing: async (em, customerId) => {
        const s = await customerInvoicingSnapshot(em, customerId);
        return {
          ...s,
          workflow: {
            ...s.workflow,
            collection: {
              interval: 'PT1H',
              alignment: { type: 'anchored', recurring_period: { anchor, interval: 'P1M' } },
            },
          },
        };
      },
    });
    const f = await twoFlatPlans(h);
    const customer = await f.customer('acme-inc');
    const s1 = await f.subscribe({ customer: { id: customer.id }, plan: { key: 'alpha' } });
    const a = Date.parse(s1.active_from);
    anchor = isoOf(a + 10 * DAY); // the customer's invoices go out on the 10th day of each month
    const s2 = await f.subscribe({
      customer: { id: customer.id },
      plan: { key: 'beta' },
      billing_anchor: isoOf(a + 5 * DAY), // its boundaries: 5 days after s1's
    });
    // s2's short first period ends on day 5: invoiced at the anchor (day 10), not before
    await advanceTo(h, a + 9 * DAY, [s1.id, s2.id], 2 * DAY);
    expect(await invoicesOfCustomer(h, customer.id)).toEqual([]);
    await advanceTo(h, a + 10 * DAY + 61 * 60_000, [s1.id, s2.id], DAY);
    const first = await waitFor(async () => {
      const l = await invoicesOfCustomer(h!, customer.id);
      return l.length === 1 && l;
    });
    expect(first[0].lines.map((l) => l.subscription_id)).toEqual([s2.id]);
    // s1's period ends at month 1, s2's at month 1 + 5 days: neither before the anchor, then both on one
    await advanceTo(h, month(a, 1) + 9 * DAY, [s1.id, s2.id], 2 * DAY);
    expect(await invoicesOfCustomer(h, customer.id)).toHaveLength(1);
    await advanceTo(h, month(a, 1) + 10 * DAY + 61 * 60_000, [s1.id, s2.id], DAY);
    const invs = await waitFor(async () => {
      const l = await invoicesOfCustomer(h!, customer.id);
      return l.length === 2 && l;
    });
    expect(invs[1].subscription_id).toBeNull();
    expect(invs[1].lines.map((l) => [l.subscription_id, l.amount]).sort()).toEqual(
      [
        [s1.id, '10.00'],
        [s2.id, '20.00'],
      ].sort(),
    );
  });

  it('invoice now: drafts from the pending lines at once; nothing pending is a 400', async () => {
    h = await createHarness({ collectionPeriod: 'P1D' });
    const f = fixtures(h.app);
    const customer = await f.customer('acme-inc');
    const none = await h.app.api.post(`${P}/billing/invoices/invoice`).send({ customer_id: customer.id });
    expect(none.status).toBe(400);
    expect(none.body.detail).toMatch(/no pending lines/);
    const c = await h.app.api
      .post(`${P}/customers/${customer.id}/charges`)
      .send({ name: 'Consulting', amount_before_proration: '120.5' });
    expect(c.status).toBe(201);
    const res = await h.app.api.post(`${P}/billing/invoices/invoice`).send({ customer_id: customer.id });
    expect(res.status).toBe(201);
    expect(res.body).toHaveLength(1);
    expect(res.body[0]).toMatchObject({ status: 'draft', currency: 'USD' });
    expect(res.body[0].lines.map((l: any) => [l.name, l.totals.total])).toEqual([['Consulting', '120.50']]);
    // its workflow carries it on (default profile: auto advance, no draft period)
    await waitFor(async () => {
      const r = await h!.app.api.get(`${P}/billing/invoices/${res.body[0].id}`);
      return r.body.status === 'paid';
    });
    const again = await h.app.api.post(`${P}/billing/invoices/invoice`).send({ customer_id: customer.id });
    expect(again.status).toBe(400);
    // a deleted customer gets no charge
    expect((await h.app.api.delete(`${P}/customers/${customer.id}`)).status).toBeLessThan(300);
    const gone = await h.app.api
      .post(`${P}/customers/${customer.id}/charges`)
      .send({ name: 'Late', amount_before_proration: '1' });
    expect(gone.status).toBe(404);
  });

  it('a gathering activity that fails after its commit is retried: one invoice', async () => {
    let failures = 0;
    h = await createHarness({
      collectionPeriod: 'PT1H',
      activities: (real) => ({
        ...real,
        async gatherPendingLines(input) {
          const r = await real.gatherPendingLines(input);
          if (r.invoiceIds.length && failures === 0) {
            failures++;
            throw new Error('worker lost after the commit');
          }
          return r;
        },
      }),
    });
    const f = await twoFlatPlans(h);
    const customer = await f.customer('acme-inc');
    const s1 = await f.subscribe({ customer: { id: customer.id }, plan: { key: 'alpha' } });
    const a = Date.parse(s1.active_from);
    const s2 = await f.subscribe({
      customer: { id: customer.id },
      plan: { key: 'beta' },
      billing_anchor: s1.active_from,
    });
    await advanceTo(h, month(a, 1) + 61 * 60_000, [s1.id, s2.id], 7 * DAY);
    await waitFor(() => Promise.resolve(failures === 1));
    await advanceTo(h, month(a, 1) + 2 * 3600_000, [s1.id, s2.id], 600_000);
    const invs = await waitFor(async () => {
      const l = await invoicesOfCustomer(h!, customer.id);
      return l.length >= 1 && l[0].status === 'paid' && l;
    });
    expect(invs).toHaveLength(1);
    expect(invs[0].lines).toHaveLength(2);
    await maybeRecordWorkflowHistory(h, `collection-${customer.id}`, 'collection-gather-retried');
  });

  it('the collection workflow keeps its history bounded: it continues as new, carrying the due instants', async () => {
    h = await createHarness({ collectionPeriod: 'PT1M' });
    const customer = await fixtures(h.app).customer('acme-inc');
    const t0 = await h.env.currentTimeMs();
    // 60 collection instants a minute apart (nothing pending: each wake gathers nothing)
    for (let i = 1; i <= 60; i++)
      await signalCollection(h.env.client, TASK_QUEUE, customer.id, isoOf(t0 + i * 60_000));
    await h.env.client.workflow.getHandle(`collection-${customer.id}`).result();
    expect(await h.env.currentTimeMs()).toBeGreaterThanOrEqual(t0 + 60 * 60_000);
    const runs = await workflowRunHistories(h, `collection-${customer.id}`);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const r of runs) expect(r.events?.length ?? 0).toBeLessThanOrEqual(COLLECTION_HISTORY_LIMIT + 30);
    // every instant was waited for: the activity ran once per wake, across the runs (a local attempt, one
    // marker each: none failed, so no remote attempt)
    const events = runs.flatMap((r) => r.events ?? []);
    const localType = (e: (typeof events)[number]) => {
      const m = e.markerRecordedEventAttributes;
      const data = m?.markerName === 'core_local_activity' ? m.details?.data?.payloads?.[0]?.data : undefined;
      return data
        ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type: string }).activity_type
        : '';
    };
    expect(events.filter((e) => localType(e) === 'gatherPendingLines')).toHaveLength(60);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
  });
});

describe("charges: OpenMeter's CreateChargeFlatFeeRequest and list (issue 13)", () => {
  it('takes the whole request: bills what Tally acts on, stores and shows the rest, refuses usage_based', async () => {
    h = await createHarness({ collectionPeriod: 'P1D' });
    const customer = await fixtures(h.app).customer('acme-inc');
    const url = `${P}/customers/${customer.id}/charges`;
    const period = { from: '2030-01-01T00:00:00.000Z', to: '2030-02-01T00:00:00.000Z' };
    const terms = {
      settlement_mode: 'credit_only',
      payment_term: 'in_advance',
      proration_configuration: { mode: 'prorate_prices' },
      tax_config: { behavior: 'exclusive', stripe: { code: 'txcd_10000000' } },
      discounts: { percentage: 10 },
      unique_reference_id: 'order-42',
      feature_id: 'some-feature',
      full_service_period: { from: '2030-01-01T00:00:00.000Z', to: '2030-03-01T00:00:00.000Z' },
      billing_period: { from: '2029-12-15T00:00:00.000Z', to: '2030-01-15T00:00:00.000Z' },
    };
    const c = await h.app.api.post(url).send({
      type: 'flat_fee',
      name: 'Onboarding',
      labels: { team: 'sales', 'deal.id': 'D-7' },
      currency: 'USD',
      invoice_at: period.from,
      service_period: period,
      amount_before_proration: { amount: '12.345', currency: 'USD' },
      ...terms,
    });
    expect(c.status).toBe(201);
    const expected = {
      type: 'flat_fee',
      name: 'Onboarding',
      labels: { team: 'sales', 'deal.id': 'D-7' },
      lifecycle_controller: 'system',
      currency: 'USD',
      status: 'created',
      service_period: period,
      ...terms,
      amount_before_proration: { amount: '12.345', currency: 'USD' },
      // prorate_prices: January's share of January–February, 12.345 × 31 / 59 = 6.4862… (not discounted:
      // discounts are stored only)
      amount_after_proration: { amount: '6.49', currency: 'USD' },
      price: { type: 'flat', amount: '12.345' },
    };
    expect(c.body).toMatchObject(expected);
    expect((await h.app.api.get(`${url}/${c.body.id}`).expect(200)).body).toEqual(c.body);
    // every field OpenMeter's BillingChargeFlatFee requires, and every field the served document's Charge does
    const served = (await h.app.raw.get('/openapi.json').expect(200)).body.components.schemas.Charge;
    const openmeterRequired = ['id', 'name', 'created_at', 'updated_at', 'type', 'customer'].concat(
      ['lifecycle_controller', 'currency', 'status', 'invoice_at', 'service_period', 'full_service_period'],
      ['billing_period', 'settlement_mode', 'payment_term', 'proration_configuration'],
      ['amount_after_proration', 'price'],
    );
    for (const k of [...openmeterRequired, ...(served.required as string[])])
      expect(c.body).toHaveProperty(k);

    // Tally's earlier string form still works; absent terms show what Tally does
    const plain = await h.app.api
      .post(url)
      .send({ name: 'Support', amount_before_proration: '3', service_period: period });
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({
      labels: {},
      invoice_at: period.to,
      settlement_mode: 'credit_then_invoice',
      payment_term: 'in_arrears',
      proration_configuration: { mode: 'no_proration' },
      full_service_period: period,
      billing_period: period,
      amount_after_proration: { amount: '3', currency: 'USD' },
    });
    for (const k of ['tax_config', 'discounts', 'unique_reference_id', 'feature_id'])
      expect(plain.body).not.toHaveProperty(k);
    for (const k of served.required as string[]) expect(plain.body).toHaveProperty(k);

    // refused, each by name, and nothing stored
    const refusals: [object, string, RegExp][] = [
      // prorating needs a service period inside the full one
      [
        {
          amount_before_proration: '1',
          proration_configuration: { mode: 'prorate_prices' },
          full_service_period: period,
        },
        'body.service_period',
        /required to prorate/,
      ],
      [
        {
          amount_before_proration: '1',
          proration_configuration: { mode: 'prorate_prices' },
          service_period: terms.full_service_period,
          full_service_period: period,
        },
        'body.service_period',
        /inside the full service period/,
      ],
      [
        { currency: 'USD', amount_before_proration: { amount: '1', currency: 'EUR' } },
        'body.amount_before_proration.currency',
        /charge's currency/,
      ],
      [
        { amount_before_proration: { amount: '0', currency: 'USD' } },
        'body.amount_before_proration.amount',
        /greater than 0/,
      ],
      [{ amount_before_proration: { amount: '1' } }, 'body.amount_before_proration.currency', /./],
      [{ amount_before_proration: '-1' }, 'body.amount_before_proration', /./],
      [
        { amount_before_proration: '1', proration_configuration: { mode: 'sometimes' } },
        'body.proration_configuration.mode',
        /./,
      ],
      [{ amount_before_proration: '1', labels: { 'kong-x': 'y' } }, 'body.labels.kong-x', /reserved prefix/],
      [
        {
          type: 'usage_based',
          feature_id: 'f',
          price: { type: 'unit', amount: '1' },
          settlement_mode: 'credit_then_invoice',
        },
        'body.type',
        /usage_based charges are not supported/,
      ],
    ];
    for (const [body, field, reason] of refusals) {
      const res = await h.app.api.post(url).send({ name: 'Bad', ...body });
      expect([res.status, res.body.invalid_parameters]).toEqual([
        400,
        [expect.objectContaining({ field, reason: expect.stringMatching(reason) })],
      ]);
    }
    // unique_reference_id names one live charge: a retry is refused, naming the charge it made
    const again = await h.app.api
      .post(url)
      .send({ name: 'Onboarding again', amount_before_proration: '1', unique_reference_id: 'order-42' });
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/problem\+json/);
    expect(again.body).toMatchObject({
      charge_id: c.body.id,
      invalid_parameters: [expect.objectContaining({ field: 'body.unique_reference_id', rule: 'invalid' })],
    });
    const all = await h.app.api.get(url).expect(200);
    expect(all.body.data.map((x: any) => x.name)).toEqual(['Onboarding', 'Support']);

    // invoiced: the prorated amount, no discount; the plain one in full
    const inv = await h.app.api
      .post(`${P}/billing/invoices/invoice`)
      .send({ customer_id: customer.id, as_of: period.to });
    expect(inv.status).toBe(201);
    expect(inv.body[0].lines.map((l: any) => [l.name, l.totals.total]).sort()).toEqual([
      ['Onboarding', '6.49'],
      ['Support', '3.00'],
    ]);

    // racing requests with one reference: one charge, the others refused naming it
    const race = await Promise.all(
      [1, 2, 3].map(() =>
        h!.app.api
          .post(url)
          .send({ name: 'Race', amount_before_proration: '5', unique_reference_id: 'order-43' }),
      ),
    );
    const made = race.filter((r) => r.status === 201);
    expect(race.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const r of race.filter((x) => x.status === 409)) expect(r.body.charge_id).toBe(made[0].body.id);
    // a deleted charge frees its reference
    await h.app.api.delete(`${url}/${made[0].body.id}`).expect(204);
    const reused = await h.app.api
      .post(url)
      .send({ name: 'Race', amount_before_proration: '5', unique_reference_id: 'order-43' });
    expect(reused.status).toBe(201);
  });

  it('lists a page, sorted, filtered by status; deleted ones only when asked for', async () => {
    h = await createHarness({ collectionPeriod: 'P1D' });
    const customer = await fixtures(h.app).customer('acme-inc');
    const url = `${P}/customers/${customer.id}/charges`;
    const ids: string[] = [];
    // created in this order; their service periods in the reverse order; only c0 due in 2030
    for (let i = 0; i < 5; i++) {
      const from = isoOf(Date.parse('2030-01-01T00:00:00Z') + (5 - i) * DAY);
      const res = await h.app.api.post(url).send({
        name: `c${i}`,
        amount_before_proration: { amount: String(i + 1), currency: 'USD' },
        service_period: { from, to: from },
        invoice_at: i === 0 ? '2030-01-01T00:00:00Z' : '2031-01-01T00:00:00Z',
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const names = async (query: string) => {
      const res = await h!.app.api.get(`${url}?${query}`);
      expect(res.status).toBe(200);
      return [res.body.data.map((c: any) => c.name), res.body.meta.page];
    };
    expect(await names('')).toEqual([['c0', 'c1', 'c2', 'c3', 'c4'], { number: 1, size: 100, total: 5 }]);
    expect((await names('expand=real_time_usage'))[0]).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(await names('page[size]=2&page[number]=2')).toEqual([
      ['c2', 'c3'],
      { number: 2, size: 2, total: 5 },
    ]);
    expect(await names('page[size]=2&page[number]=9')).toEqual([[], { number: 9, size: 2, total: 5 }]);
    expect((await names('sort=created_at desc'))[0]).toEqual(['c4', 'c3', 'c2', 'c1', 'c0']);
    expect((await names('sort=service_period.from'))[0]).toEqual(['c4', 'c3', 'c2', 'c1', 'c0']);
    expect((await names('sort=billing_period.from desc'))[0]).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect((await names('sort=id'))[0]).toEqual([...ids].sort().map((id) => `c${ids.indexOf(id)}`));

    // c0 invoiced (final), c1 deleted
    await h.app.api.delete(`${url}/${ids[1]}`).expect(204);
    const inv = await h.app.api
      .post(`${P}/billing/invoices/invoice`)
      .send({ customer_id: customer.id, as_of: '2030-06-01T00:00:00Z' });
    expect(inv.status).toBe(201);
    expect(inv.body[0].lines.map((l: any) => l.name)).toEqual(['c0']);
    expect(await names('')).toEqual([['c0', 'c2', 'c3', 'c4'], { number: 1, size: 100, total: 4 }]);
    expect((await names('filter[status]=final'))[0]).toEqual(['c0']);
    expect((await names('filter[status][eq]=deleted'))[0]).toEqual(['c1']);
    expect((await names('filter[status][oeq]=created,deleted'))[0]).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect((await names('filter[status][neq]=created'))[0]).toEqual(['c0', 'c1']);
    expect((await names('filter[status]=active'))[0]).toEqual([]);

    for (const [query, field] of [
      ['sort=amount', 'query.sort'],
      ['filter[status]=pending', 'query.filter[status]'],
      ['filter[name]=c0', 'query.filter[name]'],
      ['page[size]=0', 'query.page[size]'],
    ]) {
      const res = await h.app.api.get(`${url}?${query}`);
      expect([res.status, res.body.invalid_parameters?.map((p: any) => p.field)]).toEqual([400, [field]]);
    }
  });
});
