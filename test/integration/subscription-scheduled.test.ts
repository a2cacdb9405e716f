/**
 * Scheduled subscriptions (issue 13): `active_from` in the future, `active_to`, unschedule-cancelation,
 * through the API and the real workflow on the time-skipping server.
 */
import Decimal from 'decimal.js';
import {
  advanceTo,
  collected,
  createHarness,
  DAY,
  invoicesOf,
  isoOf,
  month,
  waitFor,
  workflowHandle,
  type Harness,
} from '../support/harness';
import { defaultPhase, fixtures, P, usageRateCard } from '../support/api';
import { maybeRecordHistory } from '../support/history';
import { createEntitlementsService } from '../../src/entitlements/service';
import { previewInvoice } from '../../src/billing/service';

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
  const usage = usageRateCard({
    featureId: feature.id,
    price: '1',
    key: 'active-users',
    name: 'Active users',
  });
  const platform = {
    key: 'platform',
    name: 'Platform fee',
    billing_cadence: 'P1M',
    payment_term: 'in_arrears',
    price: { type: 'flat', amount: '30' },
  };
  const sso = await f.feature({ key: 'sso', name: 'SSO' });
  const ssoCard = {
    key: 'sso',
    name: 'SSO',
    feature: { id: sso.id },
    billing_cadence: 'P1M',
    price: { type: 'flat', amount: '0' },
    entitlement: { type: 'boolean' },
  };
  const customer = await f.customer('acme-inc');
  await f.plan('pro', defaultPhase([platform, usage, ssoCard]));
  return { f, customer };
}

const statusAttr = async (hh: Harness, id: string) =>
  (await workflowHandle(hh, id).describe()).typedSearchAttributes
    .getAll()
    .find((p) => p.key.name === 'TallySubscriptionStatus')?.value;

/** the timeline: [phase key, active_from, active_to] and each item's [key, active_from, active_to] */
interface Span {
  active_from: string;
  active_to?: string;
}
const timeline = (v: {
  phases: (Span & { key: string; items: (Span & { rate_card: { key: string } })[] })[];
}) =>
  v.phases.map((p) => [
    p.key,
    p.active_from,
    p.active_to ?? null,
    p.items.map((i) => [i.rate_card.key, i.active_from, i.active_to ?? null]),
  ]);

const prorated = (amount: string, part: number, whole: number) =>
  new Decimal(amount).times(part).div(whole).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);

describe('scheduled subscriptions', () => {
  it('active_from in the future: scheduled until then, nothing billed before; active_to ends it there', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const now = await h.env.currentTimeMs();
    const start = now + 10 * DAY;
    const end = month(start, 1) + 15 * DAY;
    const res = await h.app.api.post(`${P}/subscriptions`).send({
      customer: { key: 'acme-inc' },
      plan: { key: 'pro' },
      active_from: isoOf(start),
      active_to: isoOf(end),
    });
    expect(res.status).toBe(201);
    const sub = res.body;
    expect(sub).toMatchObject({ status: 'scheduled', active_from: isoOf(start), active_to: isoOf(end) });
    expect(sub.current_period).toBeUndefined();
    expect(sub.pending_changes).toEqual([{ type: 'cancel', timing: isoOf(end) }]);
    expect(sub.phases[0]).toMatchObject({ active_from: isoOf(start), active_to: isoOf(end) });
    expect(await statusAttr(h, sub.id)).toBe('scheduled');

    // the list filters by OpenMeter's statuses
    const scheduled = await h.app.api.get(`${P}/subscriptions?filter[status][eq]=scheduled`);
    expect(scheduled.body.data.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    const active = await h.app.api.get(`${P}/subscriptions?filter[status][eq]=active`);
    expect(active.body.data).toEqual([]);

    // a plan change conflicts with the scheduled end (active_to); a cancelation before the start is
    // refused (immediate cancels it)
    const change = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'pro' }, timing: 'immediate' });
    expect(change.status).toBe(409);
    const early = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/cancel`)
      .send({ timing: isoOf(now + DAY) });
    expect(early.status).toBe(400);
    expect(early.body.detail).toMatch(/not after the subscription's start/);

    await f.ingest([
      req('acme-inc', now + 2 * DAY, 'before'), // before the start: never billed
      req('acme-inc', start + DAY, 'u1'),
      req('acme-inc', month(start, 1) + DAY, 'u1'),
      req('acme-inc', month(start, 1) + 2 * DAY, 'u2'),
      req('acme-inc', end + DAY, 'after'), // after active_to: never billed
    ]);
    await advanceTo(h, start - DAY, [sub.id]);
    expect((await f.get(sub.id)).status).toBe('scheduled');
    expect(await invoicesOf(h.app, sub.id)).toEqual([]);
    // not yet active: no entitlements (even asked at an instant after active_from, while still scheduled)
    const access = createEntitlementsService(h.app.deps);
    expect((await access.customerAccess('acme-inc', new Date(start - DAY))).data).toEqual([]);
    expect((await access.customerAccess('acme-inc', new Date(start + DAY))).data).toEqual([]);
    // ... and the preview has nothing of it
    const before = await previewInvoice(h.app.deps.orm.em.fork(), 'acme-inc', new Date(start + 2 * DAY));
    expect(before.lines ?? []).toEqual([]);

    await advanceTo(h, start + DAY, [sub.id]);
    // running with its end (active_to) scheduled: OpenMeter's `canceled`
    const started = await waitFor(async () => {
      const v = await f.get(sub.id);
      return v.status === 'canceled' && v;
    });
    expect(started.active_to).toBe(isoOf(end));
    const running = await h.app.api.get(`${P}/subscriptions?filter[status][eq]=canceled`);
    expect(running.body.data.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    const notActive = await h.app.api.get(`${P}/subscriptions?filter[status][neq]=canceled`);
    expect(notActive.body.data).toEqual([]);
    expect(started.current_period).toEqual({ from: isoOf(start), to: isoOf(month(start, 1)) });
    // the timeline once started: the one phase from the start to active_to, every item over it
    const over = (f: string, t: string | null) => ['platform', 'active-users', 'sso'].map((k) => [k, f, t]);
    expect(timeline(started)).toEqual([
      ['default', isoOf(start), isoOf(end), over(isoOf(start), isoOf(end))],
    ]);
    expect(await statusAttr(h, sub.id)).toBe('active');
    expect((await access.customerAccess('acme-inc', new Date(start + DAY))).data).toEqual([
      expect.objectContaining({ feature_key: 'sso', has_access: true }),
    ]);
    const after = await previewInvoice(h.app.deps.orm.em.fork(), 'acme-inc', new Date(start + 2 * DAY));
    expect(after.lines?.length).toBeGreaterThan(0);

    const result = await workflowHandle(h, sub.id).result();
    expect(result).toMatchObject({ status: 'canceled', activeTo: isoOf(end) });
    await collected(h, sub.customer_id);
    const second = prorated('30', end - month(start, 1), month(start, 2) - month(start, 1)).plus(2);
    const invs = await invoicesOf(h.app, sub.id);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(start), isoOf(month(start, 1)), '31.00'],
      [isoOf(month(start, 1)), isoOf(end), second.toFixed(2)],
    ]);
    const ended = await f.get(sub.id);
    expect(ended).toMatchObject({ status: 'inactive', active_to: isoOf(end) });
    expect(timeline(ended)).toEqual([['default', isoOf(start), isoOf(end), over(isoOf(start), isoOf(end))]]);
    const ids = async (q: string) =>
      (await h!.app.api.get(`${P}/subscriptions?${q}`)).body.data.map((s: { id: string }) => s.id);
    expect(await ids('filter[status]=inactive')).toEqual([sub.id]);
    expect(await ids('filter[status][oeq]=active,inactive')).toEqual([sub.id]);
    expect(await ids('filter[status][oeq]=active,canceled,scheduled')).toEqual([]);
    await maybeRecordHistory(h, sub.id, 'subscription-scheduled-start-active-to');
  });

  it('a scheduled subscription canceled before its start: nothing billed, the workflow ends', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    await setup(h);
    const now = await h.env.currentTimeMs();
    const res = await h.app.api
      .post(`${P}/subscriptions`)
      .send({ customer: { key: 'acme-inc' }, plan: { key: 'pro' }, active_from: isoOf(now + 5 * DAY) });
    expect(res.body.status).toBe('scheduled');
    // a scheduled subscription is live: its customer cannot be deleted
    const del = await h.app.api.delete(`${P}/customers/${res.body.customer_id}`);
    expect(del.status).toBe(409);
    const cancel = await h.app.api
      .post(`${P}/subscriptions/${res.body.id}/cancel`)
      .send({ timing: 'immediate' });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'inactive', active_to: isoOf(now + 5 * DAY) });
    expect(await workflowHandle(h, res.body.id).result()).toMatchObject({ status: 'canceled' });
    await advanceTo(h, now + 40 * DAY, []);
    expect(await invoicesOf(h.app, res.body.id)).toEqual([]);
  });

  it('refuses an active_to not after the start and an active_from in the past, naming the field', async () => {
    h = await createHarness();
    await setup(h);
    const now = await h.env.currentTimeMs();
    const base = { customer: { key: 'acme-inc' }, plan: { key: 'pro' } };
    const before = await h.app.api
      .post(`${P}/subscriptions`)
      .send({ ...base, active_from: isoOf(now + 5 * DAY), active_to: isoOf(now + 5 * DAY) });
    expect(before.status).toBe(400);
    expect(before.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'body.active_to' })]);
    const past = await h.app.api
      .post(`${P}/subscriptions`)
      .send({ ...base, active_from: isoOf(now - 2 * DAY) });
    expect(past.status).toBe(400);
    expect(past.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'body.active_from' })]);
    const list = await h.app.api.get(`${P}/subscriptions`);
    expect(list.body.data).toEqual([]);
  });
});

describe('unschedule-cancelation', () => {
  it('withdraws a scheduled cancelation: the subscription bills on; 409 when none is scheduled', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    const none = await h.app.api.post(`${P}/subscriptions/${sub.id}/unschedule-cancelation`);
    expect(none.status).toBe(409);
    expect(none.headers['content-type']).toMatch(/problem\+json/);

    const cancel = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/cancel`)
      .send({ timing: 'next_billing_cycle' });
    expect(cancel.body).toMatchObject({ status: 'canceled', active_to: isoOf(month(a, 1)) });
    const items = (f: string, t: string | null) => ['platform', 'active-users', 'sso'].map((k) => [k, f, t]);
    const endsAt = isoOf(month(a, 1));
    expect(timeline(cancel.body)).toEqual([['default', isoOf(a), endsAt, items(isoOf(a), endsAt)]]);
    await advanceTo(h, a + 10 * DAY, [sub.id]);
    const res = await h.app.api.post(`${P}/subscriptions/${sub.id}/unschedule-cancelation`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'active', pending_changes: [] });
    expect(res.body.active_to).toBeUndefined();
    // withdrawn: the timeline runs on again
    expect(timeline(res.body)).toEqual([['default', isoOf(a), null, items(isoOf(a), null)]]);
    const again = await h.app.api.post(`${P}/subscriptions/${sub.id}/unschedule-cancelation`);
    expect(again.status).toBe(409);

    await advanceTo(h, month(a, 2) + DAY, [sub.id]);
    const invs = await waitFor(async () => {
      const list = await invoicesOf(h!.app, sub.id);
      return list.length === 2 && list;
    });
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(a), isoOf(month(a, 1)), '30.00'],
      [isoOf(month(a, 1)), isoOf(month(a, 2)), '30.00'],
    ]);
    expect((await f.get(sub.id)).status).toBe('active');
    await maybeRecordHistory(h, sub.id, 'subscription-unschedule-cancelation');

    // a canceled subscription: 409
    await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' });
    const gone = await h.app.api.post(`${P}/subscriptions/${sub.id}/unschedule-cancelation`);
    expect(gone.status).toBe(409);
  });
});
