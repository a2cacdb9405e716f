/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Subscription add-ons through the real workflow on the time-skipping server: bought mid-period (the
 * add-on's in-advance fee prorated, hand-computed), its quantity changed at the next billing cycle, canceled
 * immediately; entitlements granted and removed as the API call answers (the same switch as billing); the
 * timeline views; and every refused request naming its field with nothing changed.
 */
import Decimal from 'decimal.js';
import {
  advanceTo,
  createHarness,
  DAY,
  invoicesOf,
  isoOf,
  month,
  waitFor,
  type Harness,
} from '../support/harness';
import { fixtures, ok, P } from '../support/api';
import { maybeRecordHistory } from '../support/history';

jest.setTimeout(180_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const platform = {
  key: 'platform',
  name: 'Platform fee',
  billing_cadence: 'P1M',
  payment_term: 'in_advance',
  price: { type: 'flat', amount: '30' },
};

async function setup(hh: Harness) {
  const f = fixtures(hh.app);
  const seatsFeature = await f.feature({ key: 'seats', name: 'Seats' });
  const { feature: calls } = await f.meteredFeature();
  const plan = await f.plan('team', [
    {
      key: 'default',
      name: 'Default',
      rate_cards: [
        platform,
        {
          key: 'calls',
          name: 'Calls',
          feature: { id: calls.id },
          billing_cadence: 'P1M',
          price: { type: 'unit', amount: '0.10' },
          entitlement: { type: 'metered', limit: 100 },
        },
      ],
    },
  ]);
  const addon = async (body: Record<string, unknown>, offer?: Record<string, unknown>) => {
    const a = await ok(hh.app.api.post(`${P}/addons`).send({ currency: 'USD', ...body }), 201);
    await ok(hh.app.api.post(`${P}/addons/${a.id}/publish`), 200);
    if (offer)
      await ok(
        hh.app.api
          .post(`${P}/plans/${plan.id}/addons`)
          .send({ name: body.name, addon: { id: a.id }, from_plan_phase: 'default', ...offer }),
        201,
      );
    return a;
  };
  const seats = await addon(
    {
      key: 'seats',
      name: 'Seats',
      instance_type: 'multiple',
      rate_cards: [
        {
          key: 'seat',
          name: 'Seat',
          feature: { id: seatsFeature.id },
          billing_cadence: 'P1M',
          payment_term: 'in_advance',
          price: { type: 'flat', amount: '10' },
          entitlement: { type: 'boolean' },
        },
      ],
    },
    { max_quantity: 5 },
  );
  // single-instance: extends the plan's calls item (+50 calls), and a one-time setup fee
  const moreCalls = await addon(
    {
      key: 'more-calls',
      name: 'More calls',
      instance_type: 'single',
      rate_cards: [
        {
          key: 'calls',
          name: 'More calls',
          feature: { id: calls.id },
          billing_cadence: 'P1M',
          price: { type: 'free' },
          entitlement: { type: 'metered', limit: 50 },
        },
      ],
    },
    {},
  );
  const customer = await f.customer('acme-inc');
  const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'team' } });
  return { f, plan, seats, moreCalls, customer, sub };
}

async function access(hh: Harness, customer: string): Promise<Record<string, any>> {
  const body = await ok(hh.app.api.get(`${P}/customers/${customer}/entitlement-access`), 200);
  return Object.fromEntries(body.data.map((e: any) => [e.feature_key, e]));
}

const invoices = (hh: Harness, id: string, n: number) =>
  waitFor(async () => {
    const list = await invoicesOf(hh.app, id);
    return list.length === n && list;
  });

/** x × (to − from) / (cycleTo − cycleFrom), rounded to cents */
const prorated = (x: number, from: number, to: number, cycleFrom: number, cycleTo: number) =>
  new Decimal(x)
    .times(to - from)
    .div(cycleTo - cycleFrom)
    .toDecimalPlaces(2, Decimal.ROUND_HALF_UP);

describe('subscription add-ons', () => {
  it('bought mid-period, quantity changed next cycle, canceled: billed exactly, entitlements in step', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f, plan, seats, sub } = await setup(h);
    const a = Date.parse(sub.active_from);
    const m1 = month(a, 1);
    const m2 = month(a, 2);
    expect((await access(h, 'acme-inc')).seats).toBeUndefined();

    await advanceTo(h, a + 10 * DAY, [sub.id]);
    const bought = await ok(
      h.app.api
        .post(`${P}/subscriptions/${sub.id}/addons`)
        .send({ addon: { id: seats.id }, quantity: 3, timing: 'immediate' }),
      201,
    );
    const cut = Date.parse(bought.active_from);
    expect(cut).toBeGreaterThanOrEqual(a + 10 * DAY);
    expect(cut).toBeLessThan(a + 11 * DAY);
    expect(bought).toMatchObject({
      addon: { id: seats.id, key: 'seats', version: 1, instance_type: 'multiple' },
      name: 'Seats',
      quantity: 3,
      timeline: [{ active_from: isoOf(cut), quantity: 3 }],
      rate_cards: [{ rate_card: { key: 'seat' }, affected_subscription_item_ids: [expect.any(String)] }],
    });
    // entitlements: the seats feature is granted as the purchase answers
    expect((await access(h, 'acme-inc')).seats).toMatchObject({ has_access: true });

    // the subscription: its own version (derived from team v1), the seat item of origin addon from the cut
    const view = await f.get(sub.id);
    expect(view.plan).toMatchObject({ id: plan.id, key: 'team', version: 1 });
    expect(view.plan_version).toMatchObject({ key: 'team', version: 1, custom: true });
    expect(view.plan_version.id).not.toBe(plan.id);
    const items = view.phases.flatMap((p: any) => p.items);
    const seat = items.find((i: any) => i.rate_card.key === 'seat');
    expect(seat).toMatchObject({
      id: bought.rate_cards[0].affected_subscription_item_ids[0],
      rate_card: { price: { type: 'flat', amount: '30' } },
    });
    // the timeline: the seat item runs from the purchase, with its origin
    expect(seat).toMatchObject({ origin: 'addon', active_from: isoOf(cut) });
    expect(items.find((i: any) => i.rate_card.key === 'platform')).toMatchObject({ origin: 'plan' });

    // the invoice at the cut: the add-on's 3 × 10 for [cut, m1), prorated; the platform fee's unused part
    // credited and billed again under the new version (they cancel out)
    const invs = await invoices(h, sub.id, 2);
    expect(invs[0].total).toBe('30.00');
    const seatShare = prorated(30, cut, m1, a, m1);
    const platformShare = prorated(30, cut, m1, a, m1);
    const byKey = (inv: any) => inv.lines.map((l: any) => [l.rate_card_key, l.amount]).sort();
    expect(byKey(invs[1])).toEqual(
      [
        ['calls', '0.00'],
        ['platform', platformShare.negated().toFixed(2)],
        ['platform', platformShare.toFixed(2)],
        ['seat', seatShare.toFixed(2)],
      ].sort(),
    );
    expect(invs[1].total).toBe(seatShare.toFixed(2));
    expect(Number(seatShare)).toBeLessThan(30);

    // quantity 3 → 1 at the next billing cycle; a second request while it is pending: 409
    const down = await ok(
      h.app.api
        .patch(`${P}/subscriptions/${sub.id}/addons/${bought.id}`)
        .send({ quantity: 1, timing: 'next_billing_cycle' }),
      200,
    );
    expect(down.quantity).toBe(3);
    expect(down.timeline).toEqual([
      { active_from: isoOf(cut), active_to: isoOf(m1), quantity: 3 },
      { active_from: isoOf(m1), quantity: 1 },
    ]);
    const pending = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/addons/${bought.id}/cancel`)
      .send({ timing: 'immediate' });
    expect(pending.status).toBe(409);

    await advanceTo(h, m1 + 5 * DAY, [sub.id]);
    const invs2 = await invoices(h, sub.id, 3);
    // at m1: [cut, m1) in arrears (no usage), [m1, m2) in advance: platform 30 + one seat 10
    expect(byKey(invs2[2])).toEqual(
      [
        ['calls', '0.00'],
        ['platform', '30.00'],
        ['seat', '10.00'],
      ].sort(),
    );
    expect(invs2[2].total).toBe('40.00');
    const after = await ok(h.app.api.get(`${P}/subscriptions/${sub.id}/addons/${bought.id}`), 200);
    expect(after.quantity).toBe(1);

    // canceled immediately: the unused part of the seat credited, the seats feature removed
    const canceled = await ok(
      h.app.api.post(`${P}/subscriptions/${sub.id}/addons/${bought.id}/cancel`).send({ timing: 'immediate' }),
      200,
    );
    const cut2 = Date.parse(canceled.active_to);
    expect(cut2).toBeGreaterThanOrEqual(m1 + 5 * DAY);
    expect(canceled.quantity).toBe(0);
    expect(canceled.timeline).toEqual([
      { active_from: isoOf(cut), active_to: isoOf(m1), quantity: 3 },
      { active_from: isoOf(m1), active_to: isoOf(cut2), quantity: 1 },
      { active_from: isoOf(cut2), quantity: 0 },
    ]);
    expect((await access(h, 'acme-inc')).seats).toBeUndefined();
    const invs3 = await invoices(h, sub.id, 4);
    const seatBack = prorated(10, cut2, m2, m1, m2);
    const platformBack = prorated(30, cut2, m2, m1, m2);
    expect(byKey(invs3[3])).toEqual(
      [
        ['calls', '0.00'],
        ['platform', platformBack.negated().toFixed(2)],
        ['platform', platformBack.toFixed(2)],
        ['seat', seatBack.negated().toFixed(2)],
      ].sort(),
    );
    expect(invs3[3].total).toBe(seatBack.negated().toFixed(2));
    const itemsAfter = (await f.get(sub.id)).phases.flatMap((p: any) => p.items);
    const current = itemsAfter.filter((i: any) => i.rate_card.key === 'seat' && !i.active_to);
    expect(current).toEqual([]);

    const list = await ok(h.app.api.get(`${P}/subscriptions/${sub.id}/addons`), 200);
    expect(list.data.map((x: any) => [x.id, x.quantity])).toEqual([[bought.id, 0]]);
    // bought again after its cancelation: refused (one per add-on), the quantity goes up instead? no: canceled
    const again = await h.app.api
      .patch(`${P}/subscriptions/${sub.id}/addons/${bought.id}`)
      .send({ quantity: 2, timing: 'immediate' });
    expect(again.status).toBe(409);
    await maybeRecordHistory(h, sub.id, 'subscription-addon-lifecycle');
  });

  it('an add-on extending a plan item multiplies nothing and raises the limit; refused requests change nothing', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f, seats, moreCalls, sub } = await setup(h);
    const a = Date.parse(sub.active_from);
    const eur = await ok(
      h.app.api.post(`${P}/addons`).send({
        key: 'eur-seats',
        name: 'EUR seats',
        instance_type: 'multiple',
        currency: 'EUR',
        rate_cards: [{ key: 'x', name: 'X', billing_cadence: 'P1M', price: { type: 'flat', amount: '1' } }],
      }),
      201,
    );
    await ok(h.app.api.post(`${P}/addons/${eur.id}/publish`), 200);
    const notOffered = await ok(
      h.app.api.post(`${P}/addons`).send({
        key: 'other',
        name: 'Other',
        instance_type: 'single',
        currency: 'USD',
        rate_cards: [{ key: 'y', name: 'Y', billing_cadence: 'P1M', price: { type: 'flat', amount: '1' } }],
      }),
      201,
    );
    await ok(h.app.api.post(`${P}/addons/${notOffered.id}/publish`), 200);
    await advanceTo(h, a + 3 * DAY, [sub.id]);

    const before = await f.get(sub.id);
    const post = (body: Record<string, unknown>) =>
      h!.app.api
        .post(`${P}/subscriptions/${sub.id}/addons`)
        .send({ timing: 'immediate', quantity: 1, ...body });
    const field = (res: any) => res.body.invalid_parameters?.map((p: any) => p.field);
    const cases: [Record<string, unknown>, number, string[] | undefined, RegExp][] = [
      [{ addon: { id: notOffered.id } }, 400, ['body.addon.id'], /does not offer/],
      [{ addon: { id: eur.id } }, 400, ['body.addon.id'], /bills in EUR/],
      [{ addon: { id: seats.id }, quantity: 6 }, 400, ['body.quantity'], /at most 5/],
      [{ addon: { id: moreCalls.id }, quantity: 2 }, 400, ['body.quantity'], /single-instance/],
      [{ addon: { id: seats.id }, timing: isoOf(a - DAY) }, 400, ['body.timing'], /in the past/],
      [{ addon: { id: seats.id }, quantity: 0 }, 400, ['body.quantity'], /./],
      [{ addon: { id: '01JXXXXXXXXXXXXXXXXXXXXXXX' } }, 400, ['body.addon.id'], /not found/],
    ];
    for (const [body, status, fields, detail] of cases) {
      const res = await post(body);
      expect([res.status, field(res)]).toEqual([status, fields]);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(JSON.stringify(res.body)).toMatch(detail);
    }
    // nothing changed: same version, no add-on, no invoice but the start's
    const unchanged = await f.get(sub.id);
    expect(unchanged.plan_version).toEqual(before.plan_version);
    expect((await ok(h.app.api.get(`${P}/subscriptions/${sub.id}/addons`), 200)).data).toEqual([]);
    const versions = await h.app.deps.orm.em
      .fork()
      .execute<any[]>('select count(*)::int as n from plans where owner_subscription_id = ?', [sub.id]);
    expect(versions[0].n).toBe(0);

    // more calls: the plan's calls item keeps its price and gets 100 + 50 calls, from next cycle
    const more = await ok(post({ addon: { id: moreCalls.id }, timing: 'next_billing_cycle' }), 201);
    expect(more.quantity).toBe(0);
    expect(more.timeline).toEqual([{ active_from: isoOf(month(a, 1)), quantity: 1 }]);
    expect((await access(h, 'acme-inc')).calls).toMatchObject({ limit: '100' });
    await advanceTo(h, month(a, 1) + DAY, [sub.id]);
    expect((await access(h, 'acme-inc')).calls).toMatchObject({ limit: '150' });
    const items = (await f.get(sub.id)).phases.flatMap((p: any) => p.items);
    const calls = items.filter((i: any) => i.rate_card.key === 'calls' && !i.active_to);
    expect(calls).toHaveLength(1);
    expect(calls[0].rate_card).toMatchObject({
      price: { type: 'unit', amount: '0.10' },
      entitlement: { limit: 150 },
    });
    // the second month's invoice bills the calls at the plan's price, nothing more for the add-on
    const invs = await invoices(h, sub.id, 2);
    expect(invs[1].total).toBe('30.00');
    // bought already
    const dup = await post({ addon: { id: moreCalls.id } });
    expect(dup.status).toBe(409);
    // a plan change or migration would drop the add-on: refused while it is bought
    const change = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'team' }, timing: 'immediate' });
    expect([change.status, change.body.addons_count]).toEqual([409, 1]);
    expect(change.body.detail).toMatch(/cancel them before its plan is changed/);
  });
});
