/**
 * Subscription workflows end to end: real API, real PostgreSQL, real worker and activities, on the
 * time-skipping Temporal server. Events carry explicit times inside the simulated periods.
 */
import {
  advanceTo,
  createHarness,
  DAY,
  invoicesOf,
  waitFor,
  workflowHandle,
  type Harness,
  isoOf,
  month,
} from '../support/harness';
import { defaultPhase, fixtures, P, usageRateCard } from '../support/api';
import { maybeRecordHistory, runHistories, workflowRunHistories } from '../support/history';
import { COLLECTION_HISTORY_LIMIT } from '../../workflows/collection';
import { HISTORY_LIMIT } from '../../workflows/subscription';
import { previewInvoice } from '../../src/billing/service';
import { currentPeriodOf } from '../../src/subscriptions/row-period';

/** The row's period columns as ISO-parsable strings (JSON form of timestamptz). */
async function rowDates(h: Harness, id: string) {
  const [r] = await h.app.deps.orm.em
    .fork()
    .execute<{ current_period_start: string; current_period_end: string; next_period_end: string | null }[]>(
      `select to_json(current_period_start) #>> '{}' as current_period_start,
       to_json(current_period_end) #>> '{}' as current_period_end,
       to_json(next_period_end) #>> '{}' as next_period_end
     from subscriptions where id = ?`,
      [id],
    );
  return r;
}

jest.setTimeout(120_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function activeUsersSetup(hh: Harness, customerKey = 'acme-inc') {
  const f = fixtures(hh.app);
  const { meter, feature } = await f.activeUsers();
  const plan = await f.meteredPlan('starter', {
    featureId: feature.id,
    price: '1',
    key: 'active-users',
    name: 'Active users',
  });
  const customer = await f.customer(customerKey);
  return { f, meter, feature, plan, customer };
}

const req = (subject: string, time: number, user: string) => ({
  type: 'request',
  subject,
  time: new Date(time),
  data: { user_id: user },
});

describe('subscription billing cycles', () => {
  it('tutorial: four events by three users → the first invoice bills active-users quantity 3', async () => {
    h = await createHarness();
    const { f, plan, customer } = await activeUsersSetup(h);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'starter' } });
    expect(sub).toMatchObject({
      customer_id: customer.id,
      plan: { id: plan.id, key: 'starter', version: 1 },
      status: 'active',
      billing_cadence: 'P1M',
      phase: { key: 'default' },
      pending_changes: [],
    });
    const a = Date.parse(sub.active_from);
    expect(sub.current_period).toEqual({ from: sub.active_from, to: new Date(month(a, 1)).toISOString() });
    await f.ingest([
      req('acme-inc', a + 1 * DAY, 'alice'),
      req('acme-inc', a + 2 * DAY, 'bob'),
      req('acme-inc', a + 3 * DAY, 'alice'),
      req('acme-inc', a + 4 * DAY, 'carol'),
    ]);
    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    const invs = await waitFor(async () => {
      const list = await invoicesOf(h!.app, sub.id);
      return list.length === 1 && list;
    });
    expect(invs[0]).toMatchObject({
      from: sub.active_from,
      to: new Date(month(a, 1)).toISOString(),
      total: '3.00',
    });
    expect(invs[0].lines).toEqual([
      expect.objectContaining({ rate_card_key: 'active-users', quantity: '3' }),
    ]);
    // the row moved on to the second period
    const after = await f.get(sub.id);
    expect(after.current_period).toEqual({
      from: new Date(month(a, 1)).toISOString(),
      to: new Date(month(a, 2)).toISOString(),
    });
    await maybeRecordHistory(h, sub.id, 'subscription-first-cycle');
  });

  it('three monthly cycles bill three invoices; unique_count restarts each period; earlier events never billed', async () => {
    h = await createHarness();
    const { f, customer, plan } = await activeUsersSetup(h);
    const sub = await f.subscribe({ customer: { id: customer.id }, plan: { id: plan.id } });
    const a = Date.parse(sub.active_from);
    await f.ingest([
      req('acme-inc', a - 2 * DAY, 'early-1'), // before the start: never billed
      req('acme-inc', a - 1, 'early-2'),
      req('acme-inc', a + DAY, 'alice'),
      req('acme-inc', a + 2 * DAY, 'bob'),
      req('acme-inc', month(a, 1) + DAY, 'alice'),
      req('acme-inc', month(a, 1) + 2 * DAY, 'carol'),
      req('acme-inc', month(a, 1) + 3 * DAY, 'dave'),
      req('acme-inc', month(a, 2) + DAY, 'alice'),
      req('acme-inc', month(a, 2) + 5 * DAY, 'alice'),
    ]);
    await advanceTo(h, month(a, 3) + 3600_000, [sub.id]);
    const invs = await waitFor(async () => {
      const list = await invoicesOf(h!.app, sub.id);
      return list.length === 3 && list;
    });
    expect(invs.map((i) => [i.from, i.to, i.lines.map((l) => l.quantity), i.total])).toEqual([
      [new Date(a).toISOString(), new Date(month(a, 1)).toISOString(), ['2'], '2.00'],
      [new Date(month(a, 1)).toISOString(), new Date(month(a, 2)).toISOString(), ['3'], '3.00'],
      [new Date(month(a, 2)).toISOString(), new Date(month(a, 3)).toISOString(), ['1'], '1.00'],
    ]);
    expect(new Set(invs.map((i) => i.invoice_key)).size).toBe(3);
    const list = await h.app.api.get(`${P}/subscriptions?filter[customer_id]=acme-inc&filter[status]=active`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    // three cycles fit in one run (the workflow continues as new only once its history is long)
    const history = await workflowHandle(h, sub.id).fetchHistory();
    expect(history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId).toBeFalsy();
    await maybeRecordHistory(h, sub.id, 'subscription-three-cycles');
  });

  it('history stays bounded: the workflow continues as new once a run passes HISTORY_LIMIT events, nothing billed twice or lost', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const f = fixtures(h.app);
    const { feature } = await f.meteredFeature({ event_type: 'request' });
    const plan = await f.plan(
      'daily',
      defaultPhase([usageRateCard({ featureId: feature.id, price: '1', cadence: 'P1D' })]),
      { billing_cadence: 'P1D' },
    );
    const customer = await f.customer('acme-inc');
    const sub = await f.subscribe({ customer: { id: customer.id }, plan: { id: plan.id } });
    const a = Date.parse(sub.active_from);
    const days = 20;
    // day d gets d + 1 events, so each invoice's quantity names its period
    await f.ingest(
      Array.from({ length: days }, (_, d) =>
        Array.from({ length: d + 1 }, (_, i) => req('acme-inc', a + d * DAY + 1000 * (i + 1), `u${i}`)),
      ).flat(),
    );
    await advanceTo(h, a + days * DAY + 1000, [sub.id], 2 * DAY);
    const invs = await waitFor(async () => {
      const list = await invoicesOf(h!.app, sub.id);
      return list.length >= days && list;
    });
    expect(invs.map((i) => [i.from, i.lines[0]?.quantity])).toEqual(
      Array.from({ length: days }, (_, d) => [isoOf(a + d * DAY), String(d + 1)]),
    );
    expect(new Set(invs.map((i) => i.invoice_key)).size).toBe(days);

    // the chain of runs: several, none much longer than the limit
    const lengths = (await runHistories(h, sub.id)).map((r) => r.events?.length ?? 0);
    expect(lengths.length).toBeGreaterThanOrEqual(2);
    expect(lengths.length).toBeLessThan(days);
    for (const n of lengths) expect(n).toBeLessThanOrEqual(HISTORY_LIMIT + 30);
    // the customer's collection workflow: a run ends once nothing is pending (the next hand-over starts
    // it again), a long-lived one continues as new: every run stays short
    const collection = await workflowRunHistories(h, `collection-${customer.id}`);
    for (const r of collection)
      expect(r.events?.length ?? 0).toBeLessThanOrEqual(COLLECTION_HISTORY_LIMIT + 30);

    // search attributes and memo survive continue-as-new
    const desc = await workflowHandle(h, sub.id).describe();
    const sa = Object.fromEntries(desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]));
    expect(sa).toMatchObject({ TallyCustomerKey: 'acme-inc', TallySubscriptionStatus: 'active' });
    expect(desc.memo).toEqual({ customer_name: 'Customer acme-inc' });
    await maybeRecordHistory(h, sub.id, 'subscription-daily-runs');
  });

  it('a period is recorded and handed over at its end; in the late-usage window the preview shows it pending, late events count', async () => {
    h = await createHarness({ collectionPeriod: 'PT1H' });
    const { f, customer, plan } = await activeUsersSetup(h);
    const sub = await f.subscribe({ customer: { id: customer.id }, plan: { id: plan.id } });
    const a = Date.parse(sub.active_from);
    const B = month(a, 1);
    const row = async () => {
      const r = await rowDates(h!, sub.id);
      return [r.current_period_start, r.current_period_end, r.next_period_end].map(
        (d) => d && new Date(d).toISOString(),
      );
    };
    expect(await row()).toEqual([isoOf(a), isoOf(B), isoOf(month(a, 2))]);
    await f.ingest([req('acme-inc', a + DAY, 'alice'), req('acme-inc', B + 60_000, 'bob')]);

    // inside the collection interval: the period was recorded and handed over at B, no invoice yet ...
    await advanceTo(h, B + 30 * 60_000, [sub.id], 7 * DAY);
    await waitFor(async () => (await row())[0] === isoOf(B));
    expect(await row()).toEqual([isoOf(B), isoOf(month(a, 2)), isoOf(month(a, 3))]);
    expect(await invoicesOf(h.app, sub.id)).toEqual([]);
    const [pending] = await h.app.deps.orm.em
      .fork()
      .execute<{ line_key: string; invoice_id: string | null }[]>(
        'select line_key, invoice_id from billing_pending_lines where subscription_id = ?',
        [sub.id],
      );
    expect(pending).toEqual({ line_key: `${sub.id}:${isoOf(a)}`, invoice_id: null });
    // a late event for the closed period (within the window)
    await f.ingest([req('acme-inc', a + 2 * DAY, 'carol')]);
    // ... and the preview shows what the next invoice carries: the pending period (alice, carol) and the
    // open one (bob)
    const preview = await previewInvoice(h.app.deps.orm.em.fork(), customer.id, new Date(B + 30 * 60_000));
    expect(preview.service_period).toEqual({ from: isoOf(a), to: isoOf(B + 30 * 60_000) });
    expect(preview.lines?.map((l) => [l.service_period.from, l.quantity])).toEqual([
      [isoOf(a), '2'],
      [isoOf(B), '1'],
    ]);

    // once collected: the invoice for the closed period counts the late event
    await advanceTo(h, B + 61 * 60_000, [sub.id], 7 * DAY);
    const invs = await waitFor(async () => {
      const list = await invoicesOf(h!.app, sub.id);
      return list.length === 1 && list;
    });
    expect(invs.map((i) => [i.from, i.to, i.lines[0]?.quantity])).toEqual([[isoOf(a), isoOf(B), '2']]);
    expect(currentPeriodOf(await rowDates(h, sub.id), new Date(B + 61 * 60_000))).toEqual({
      from: new Date(B),
      to: new Date(month(a, 2)),
    });
  });

  it('in-advance flat fees: invoiced at the start, then with each closed period for the next one', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const f = fixtures(h.app);
    await f.customer('acme-inc');
    await f.plan('seat', [
      {
        key: 'default',
        name: 'Default',
        rate_cards: [
          {
            key: 'seat',
            name: 'Seat',
            billing_cadence: 'P1M',
            payment_term: 'in_advance',
            price: { type: 'flat', amount: '20' },
          },
        ],
      },
    ]);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'seat' } });
    const a = Date.parse(sub.active_from);
    const first = await waitFor(async () => {
      const l = await invoicesOf(h!.app, sub.id);
      return l.length === 1 && l;
    });
    expect(first[0]).toMatchObject({ from: isoOf(a), to: isoOf(month(a, 1)), total: '20.00' });
    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    const invs = await waitFor(async () => {
      const l = await invoicesOf(h!.app, sub.id);
      return l.length === 2 && l;
    });
    expect(invs[1].total).toBe('20.00');
    expect(invs[1].lines).toEqual([
      expect.objectContaining({ rate_card_key: 'seat', from: isoOf(month(a, 1)), to: isoOf(month(a, 2)) }),
    ]);
  });
});
