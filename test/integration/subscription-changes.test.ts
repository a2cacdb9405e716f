/**
 * Plan migrations, cancelations and phases, through the API's Updates to the real workflow, on the
 * time-skipping server.
 */
import Decimal from 'decimal.js';
import {
  advanceTo,
  createHarness,
  DAY,
  invoicesOf,
  settle,
  waitFor,
  workflowHandle,
  type Harness,
  isoOf,
  month,
  collected,
} from '../support/harness';
import { defaultPhase, fixtures, P, usageRateCard } from '../support/api';
import { maybeRecordHistory } from '../support/history';

jest.setTimeout(120_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const req = (subject: string, time: number, user: string) => ({
  type: 'request',
  subject,
  time: new Date(time),
  data: { user_id: user },
});

async function setup(hh: Harness) {
  const f = fixtures(hh.app);
  const { feature } = await f.activeUsers();
  const usage = (amount: string) =>
    usageRateCard({ featureId: feature.id, price: amount, key: 'active-users', name: 'Active users' });
  const platform = (amount: string) => ({
    key: 'platform',
    name: 'Platform fee',
    billing_cadence: 'P1M',
    payment_term: 'in_arrears',
    price: { type: 'flat', amount },
  });
  const customer = await f.customer('acme-inc');
  return { f, usage, platform, customer };
}

const invoices = (hh: Harness, id: string, n: number) =>
  waitFor(async () => {
    const list = await invoicesOf(hh.app, id);
    return list.length === n && list;
  });

describe('migrations', () => {
  it('next_billing_cycle: v1 prices until the boundary, v2 after it', async () => {
    h = await createHarness();
    const { f, usage } = await setup(h);
    const v1 = await f.plan('starter', defaultPhase([usage('1')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'starter' } });
    const a = Date.parse(sub.active_from);
    const v2 = await f.plan('starter', defaultPhase([usage('2')]));
    expect(v2.version).toBe(2);
    await f.ingest([
      req('acme-inc', a + DAY, 'u1'),
      req('acme-inc', a + 2 * DAY, 'u2'),
      req('acme-inc', month(a, 1) + DAY, 'u1'),
      req('acme-inc', month(a, 1) + 2 * DAY, 'u2'),
      req('acme-inc', month(a, 1) + 3 * DAY, 'u3'),
    ]);
    await advanceTo(h, a + 5 * DAY, [sub.id]);

    // not newer than the current version → rejected
    const same = await h.app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({ target_version: 1 });
    expect(same.status).toBe(409);
    expect(same.headers['content-type']).toMatch(/problem\+json/);

    const res = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/migrate`)
      .send({ timing: 'next_billing_cycle' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      plan: { id: v1.id, version: 1 },
      pending_changes: [{ type: 'migrate', timing: 'next_billing_cycle', plan: { id: v2.id, version: 2 } }],
    });
    // a second change while one is scheduled: the workflow's validator says no
    const again = await h.app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({ timing: 'immediate' });
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/already scheduled/);

    await advanceTo(h, month(a, 2) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 2);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(a), isoOf(month(a, 1)), '2.00'],
      [isoOf(month(a, 1)), isoOf(month(a, 2)), '6.00'],
    ]);
    const now = await f.get(sub.id);
    expect(now).toMatchObject({ plan: { id: v2.id, key: 'starter', version: 2 }, pending_changes: [] });
    await maybeRecordHistory(h, sub.id, 'subscription-migrate-next-cycle');
  });

  it('immediate: the cut period is prorated under v1, the rest of the cycle under v2', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f, platform } = await setup(h);
    await f.plan('pro', defaultPhase([platform('30')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    const v2 = await f.plan('pro', defaultPhase([platform('60')]));
    await advanceTo(h, a + 10 * DAY, [sub.id]);
    const res = await h.app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({ timing: 'immediate' });
    expect(res.status).toBe(200);
    expect(res.body.plan).toEqual({ id: v2.id, key: 'pro', version: 2 });
    const cut = Date.parse(res.body.current_period.from);
    expect(cut).toBeGreaterThanOrEqual(a + 10 * DAY);
    expect(res.body.current_period.to).toBe(isoOf(month(a, 1)));

    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 2);
    const cycle = new Decimal(month(a, 1) - a);
    const expected = (amount: number, ms: number) =>
      new Decimal(amount).times(ms).div(cycle).toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(a), isoOf(cut), expected(30, cut - a)],
      [isoOf(cut), isoOf(month(a, 1)), expected(60, month(a, 1) - cut)],
    ]);
    // a flat fee really was prorated (not the full amount)
    expect(Number(invs[0].total)).toBeLessThan(30);
    expect(Number(invs[1].total)).toBeLessThan(60);
  });
});

describe('in-advance fees on an immediate change', () => {
  it('credits the unused part of v1 and bills v2 for the rest of the cycle', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const seats = (amount: string) => ({
      key: 'seats',
      name: 'Seats',
      billing_cadence: 'P1M',
      payment_term: 'in_advance',
      price: { type: 'flat', amount },
    });
    await f.plan('team', defaultPhase([seats('100')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'team' } });
    const a = Date.parse(sub.active_from);
    await f.plan('team', defaultPhase([seats('200')]));
    await advanceTo(h, a + 10 * DAY, [sub.id]);
    const res = await h.app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({ timing: 'immediate' });
    expect(res.status).toBe(200);
    const cut = Date.parse(res.body.current_period.from);
    const end = month(a, 1);

    const invs = await invoices(h, sub.id, 2);
    const share = (amount: number) =>
      new Decimal(amount)
        .times(end - cut)
        .div(end - a)
        .toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
    // at the start: v1's fee for the whole first cycle
    expect(invs[0].total).toBe('100.00');
    // at the cut: v1's unused part back, v2 for the rest of the cycle
    expect(invs[1].lines.map((l) => [l.rate_card_key, l.amount])).toEqual([
      ['seats', share(100).negated().toFixed(2)],
      ['seats', share(200).toFixed(2)],
    ]);
    expect(invs[1].total).toBe(share(200).minus(share(100)).toFixed(2));
    // what the customer paid for the cycle: 100 for [a, cut) and 200 for [cut, end), prorated
    const paid = new Decimal(invs[0].total).plus(invs[1].total);
    expect(paid.toFixed(2)).toBe(new Decimal(100).minus(share(100)).plus(share(200)).toFixed(2));
  });
});

describe('cancelation', () => {
  it('immediate: bills the partial period once, ends the subscription and completes the workflow', async () => {
    h = await createHarness();
    const { f, usage } = await setup(h);
    await f.plan('starter', defaultPhase([usage('1')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'starter' } });
    const a = Date.parse(sub.active_from);
    await f.ingest([
      req('acme-inc', a + DAY, 'u1'),
      req('acme-inc', a + 2 * DAY, 'u2'),
      req('acme-inc', a + 20 * DAY, 'late'), // after the cancelation: not billed
    ]);
    await advanceTo(h, a + 10 * DAY, [sub.id]);
    const res = await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('inactive');
    const end = Date.parse(res.body.active_to);
    expect(end).toBeGreaterThanOrEqual(a + 10 * DAY);
    expect(res.body.current_period).toBeUndefined();

    const result = await workflowHandle(h, sub.id).result();
    await collected(h, sub.customer_id); // skips past the collection interval
    expect(result).toMatchObject({ status: 'canceled', pendingInvoices: [] });
    const invs = await invoicesOf(h.app, sub.id);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([[isoOf(a), isoOf(end), '2.00']]);

    const again = await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' });
    expect(again.status).toBe(409);
    const desc = await workflowHandle(h, sub.id).describe();
    expect(
      desc.typedSearchAttributes.getAll().find((p) => p.key.name === 'TallySubscriptionStatus')?.value,
    ).toBe('canceled');
    await maybeRecordHistory(h, sub.id, 'subscription-cancel-immediate');
  });

  it('next_billing_cycle: runs to the boundary, bills the last full period, then ends', async () => {
    h = await createHarness();
    const { f, usage } = await setup(h);
    await f.plan('starter', defaultPhase([usage('1')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'starter' } });
    const a = Date.parse(sub.active_from);
    await f.ingest([req('acme-inc', a + DAY, 'u1'), req('acme-inc', a + 25 * DAY, 'u2')]);

    const past = await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: isoOf(a - DAY) });
    expect(past.status).toBe(400);
    expect(past.body.detail).toMatch(/not in the future/);
    const bad = await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'tomorrow' });
    expect(bad.status).toBe(400);

    const res = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/cancel`)
      .send({ timing: 'next_billing_cycle' });
    expect(res.status).toBe(200);
    // running with its end scheduled: OpenMeter's `canceled`
    expect(res.body).toMatchObject({
      status: 'canceled',
      pending_changes: [{ type: 'cancel', timing: 'next_billing_cycle' }],
    });
    const dup = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/cancel`)
      .send({ timing: 'next_billing_cycle' });
    expect(dup.status).toBe(409);
    const later = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/cancel`)
      .send({ timing: isoOf(month(a, 1) + DAY) });
    expect(later.status).toBe(409);
    expect(later.body.detail).toMatch(/already scheduled/);

    await workflowHandle(h, sub.id).result();
    await collected(h, sub.customer_id);
    const invs = await invoicesOf(h.app, sub.id);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([[isoOf(a), isoOf(month(a, 1)), '2.00']]);
    const final = await f.get(sub.id);
    expect(final).toMatchObject({ status: 'inactive', active_to: isoOf(month(a, 1)), pending_changes: [] });
  });

  it('a scheduled cancelation brought forward: immediate after next_billing_cycle cuts now', async () => {
    h = await createHarness();
    const { f, usage } = await setup(h);
    await f.plan('starter', defaultPhase([usage('1')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'starter' } });
    const a = Date.parse(sub.active_from);
    await f.ingest([req('acme-inc', a + DAY, 'u1'), req('acme-inc', a + 20 * DAY, 'late')]);
    const scheduled = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/cancel`)
      .send({ timing: 'next_billing_cycle' });
    expect(scheduled.status).toBe(200);
    await advanceTo(h, a + 10 * DAY, [sub.id]);
    const now = await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' });
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ status: 'inactive', pending_changes: [] });
    const end = Date.parse(now.body.active_to);
    expect(end).toBeGreaterThanOrEqual(a + 10 * DAY);
    expect(end).toBeLessThan(month(a, 1));
    await workflowHandle(h, sub.id).result();
    await collected(h, sub.customer_id);
    const invs = await invoicesOf(h.app, sub.id);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([[isoOf(a), isoOf(end), '1.00']]);
  });

  it('at a timestamp: cuts exactly there', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f, platform } = await setup(h);
    await f.plan('pro', defaultPhase([platform('30')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    const at = a + 15 * DAY;
    const res = await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: isoOf(at) });
    expect(res.status).toBe(200);
    expect(res.body.pending_changes).toEqual([{ type: 'cancel', timing: isoOf(at) }]);
    await workflowHandle(h, sub.id).result();
    await collected(h, sub.customer_id);
    const invs = await invoicesOf(h.app, sub.id);
    const expected = new Decimal(30)
      .times(at - a)
      .div(month(a, 1) - a)
      .toDecimalPlaces(2, Decimal.ROUND_HALF_UP)
      .toFixed(2);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([[isoOf(a), isoOf(at), expected]]);
    expect((await f.get(sub.id)).active_to).toBe(isoOf(at));
  });
});

describe('phases', () => {
  it('a free P1M trial, then the paid phase from the first period end on', async () => {
    h = await createHarness();
    const { f, usage } = await setup(h);
    await f.plan('trial', [
      { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [] },
      { key: 'paid', name: 'Paid', rate_cards: [usage('1')] },
    ]);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'trial' } });
    expect(sub.phase.key).toBe('trial');
    const a = Date.parse(sub.active_from);
    await f.ingest([
      req('acme-inc', a + DAY, 'u1'),
      req('acme-inc', a + 2 * DAY, 'u2'),
      req('acme-inc', month(a, 1) + DAY, 'u1'),
      req('acme-inc', month(a, 1) + 2 * DAY, 'u2'),
      req('acme-inc', month(a, 1) + 3 * DAY, 'u3'),
    ]);
    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    expect(await f.get(sub.id)).toMatchObject({ phase: { key: 'paid', active_from: isoOf(month(a, 1)) } });
    await advanceTo(h, month(a, 2) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 2);
    expect(invs.map((i) => [i.from, i.to, i.total, i.lines.map((l) => l.quantity)])).toEqual([
      [isoOf(a), isoOf(month(a, 1)), '0.00', []],
      [isoOf(month(a, 1)), isoOf(month(a, 2)), '3.00', ['3']],
    ]);
    await settle(h, [sub.id]);
  });
});
