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
