/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 13: custom plans, per-rate-card overrides at creation and edits with timing, through the API and the
 * real workflow on the time-skipping server; every invoice compared with one computed by hand.
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
  type IssuedInvoice,
} from '../support/harness';
import { defaultPhase, fixtures, P, usageRateCard } from '../support/api';
import { maybeRecordHistory } from '../support/history';

jest.setTimeout(180_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const flat = (key: string, amount: string) => ({
  key,
  name: key,
  billing_cadence: 'P1M',
  payment_term: 'in_arrears',
  price: { type: 'flat', amount },
});

async function setup(hh: Harness) {
  const f = fixtures(hh.app);
  const customer = await f.customer('acme-inc');
  return { f, customer };
}

const invoices = (hh: Harness, id: string, n: number) =>
  waitFor(async () => {
    const list = await invoicesOf(hh.app, id);
    return list.length === n && list;
  }, 40_000);

/** amount × ms / cycle, rounded to cents as billing does (per line) */
const share = (amount: string, ms: number, cycle: number) =>
  new Decimal(amount).times(ms).div(cycle).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);

const amounts = (inv: IssuedInvoice) =>
  inv.lines.filter((l) => l.kind === 'flat' || l.kind === 'usage').map((l) => [l.rate_card_key, l.amount]);

const customVersions = async (hh: Harness): Promise<number> => {
  const [r] = await hh.app.deps.orm.em
    .fork()
    .execute<{ n: string }[]>("select count(*)::text as n from plans where status = 'custom'");
  return Number(r.n);
};

const patch = (hh: Harness, id: string, body: Record<string, unknown>) =>
  hh.app.api.patch(`${P}/subscriptions/${id}`).send(body);

describe('custom plan', () => {
  it('is billed over three cycles, never listed in the catalog, and says where its items came from', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const { feature } = await f.activeUsers();
    const usage = usageRateCard({
      featureId: feature.id,
      price: '2',
      key: 'active-users',
      name: 'Active users',
    });
    const customPlan = {
      name: 'Acme deal',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: defaultPhase([flat('platform', '25'), usage]),
    };

    // the same validator as a catalog plan, its fields named under custom_plan
    const bad = await h.app.api.post(`${P}/subscriptions`).send({
      customer: { key: 'acme-inc' },
      custom_plan: { ...customPlan, phases: defaultPhase([{ ...usage, feature: undefined }]) },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field)).toContain(
      'body.custom_plan.phases[0].rate_cards[0].feature',
    );
    const both = await h.app.api
      .post(`${P}/subscriptions`)
      .send({ customer: { key: 'acme-inc' }, plan: { key: 'x' }, custom_plan: customPlan });
    expect(both.status).toBe(400);
    expect(await customVersions(h)).toBe(0);

    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, custom_plan: customPlan });
    const a = Date.parse(sub.active_from);
    expect(sub.plan).toBeUndefined();
    expect(sub.plan_id).toBeUndefined();
    expect(sub.name).toBe('Acme deal');
    expect(sub.plan_version).toMatchObject({
      key: `custom-${sub.id.toLowerCase()}`,
      version: 1,
      custom: true,
    });
    expect(
      sub.phases[0].items.map((i: { origin: string; rate_card: { key: string } }) => [
        i.rate_card.key,
        i.origin,
      ]),
    ).toEqual([
      ['platform', 'custom'],
      ['active-users', 'custom'],
    ]);
    // never in the catalog
    const list = await h.app.api.get(`${P}/plans`);
    expect(list.body.data).toEqual([]);
    expect((await h.app.api.get(`${P}/plans/${sub.plan_version.id}`)).status).toBe(404);
    expect((await h.app.api.delete(`${P}/plans/${sub.plan_version.id}`)).status).toBe(404);
    // no catalog versions to migrate to
    const migrate = await h.app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({});
    expect(migrate.status).toBe(409);
    // it is on no catalog plan version: filter[plan_id] never matches it, [neq] always does
    const byPlanId = async (q: Record<string, string>) =>
      (await h!.app.api.get(`${P}/subscriptions`).query(q)).body.data.map((s: { id: string }) => s.id);
    expect(await byPlanId({ 'filter[plan_id]': sub.plan_version.id })).toEqual([]);
    expect(await byPlanId({ 'filter[plan_id][oeq]': sub.plan_version.id })).toEqual([]);
    expect(await byPlanId({ 'filter[plan_id][neq]': sub.plan_version.id })).toEqual([sub.id]);

    const req = (t: number, user: string) => ({
      type: 'request',
      subject: 'acme-inc',
      time: new Date(t),
      data: { user_id: user },
    });
    await f.ingest([
      req(a + DAY, 'u1'),
      req(a + 2 * DAY, 'u2'),
      req(a + 3 * DAY, 'u1'),
      req(month(a, 1) + DAY, 'u3'),
    ]);
    await advanceTo(h, month(a, 3) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 3);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(a), isoOf(month(a, 1)), '29.00'],
      [isoOf(month(a, 1)), isoOf(month(a, 2)), '27.00'],
      [isoOf(month(a, 2)), isoOf(month(a, 3)), '25.00'],
    ]);
    expect(amounts(invs[0])).toEqual([
      ['platform', '25.00'],
      ['active-users', '4.00'],
    ]);
  });
});

describe('overrides at creation', () => {
  it('bill the customized rate cards; the catalog plan stays as it is and cannot be deleted', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const v1 = await f.plan('pro', defaultPhase([flat('platform', '30'), flat('support', '10')]));

    // refused overrides store nothing
    const taken = await h.app.api.post(`${P}/subscriptions`).send({
      customer: { key: 'acme-inc' },
      plan: { key: 'pro' },
      customizations: [{ op: 'add_item', phase_key: 'default', rate_card: flat('platform', '5') }],
    });
    expect(taken.status).toBe(409);
    expect(taken.body.invalid_parameters[0].field).toBe('body.customizations[0].rate_card.key');
    const unknown = await h.app.api.post(`${P}/subscriptions`).send({
      customer: { key: 'acme-inc' },
      plan: { key: 'pro' },
      customizations: [{ op: 'remove_item', phase_key: 'default', item_key: 'nope' }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.invalid_parameters[0].field).toBe('body.customizations[0].item_key');
    expect(await customVersions(h)).toBe(0);

    const sub = await f.subscribe({
      customer: { key: 'acme-inc' },
      plan: { key: 'pro' },
      customizations: [
        {
          op: 'update_item',
          phase_key: 'default',
          item_key: 'platform',
          price: { type: 'flat', amount: '20' },
        },
        { op: 'remove_item', phase_key: 'default', item_key: 'support' },
        { op: 'add_item', phase_key: 'default', rate_card: flat('onboarding', '5') },
      ],
    });
    const a = Date.parse(sub.active_from);
    expect(sub.plan).toEqual({ id: v1.id, key: 'pro', version: 1 });
    expect(sub.plan_version).toMatchObject({ key: 'pro', version: 1, custom: true });
    expect(sub.plan_version.id).not.toBe(v1.id);
    expect(
      sub.phases[0].items.map((i: { origin: string; rate_card: { key: string; price: unknown } }) => [
        i.rate_card.key,
        i.origin,
        i.rate_card.price,
      ]),
    ).toEqual([
      ['platform', 'override', { type: 'flat', amount: '20' }],
      ['onboarding', 'override', { type: 'flat', amount: '5' }],
    ]);
    // the catalog plan is untouched, lists one version, and is in use
    const got = await h.app.api.get(`${P}/plans/${v1.id}`);
    expect(got.body.phases[0].rate_cards.map((rc: { key: string }) => rc.key)).toEqual([
      'platform',
      'support',
    ]);
    expect((await h.app.api.get(`${P}/plans`).query({ 'filter[key]': 'pro' })).body.data).toHaveLength(1);
    expect((await h.app.api.delete(`${P}/plans/${v1.id}`)).status).toBe(409);
    // filtering by the catalog plan's key finds it
    const byKey = await h.app.api.get(`${P}/subscriptions`).query({ 'filter[plan_key]': 'pro' });
    expect(byKey.body.data.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    // ... and by the catalog version's id, in every filter form (its own hidden version is no plan id)
    const byPlanId = async (q: Record<string, string>) =>
      (await h!.app.api.get(`${P}/subscriptions`).query(q)).body.data.map((s: { id: string }) => s.id);
    expect(await byPlanId({ 'filter[plan_id]': v1.id })).toEqual([sub.id]);
    expect(await byPlanId({ 'filter[plan_id][eq]': v1.id })).toEqual([sub.id]);
    expect(await byPlanId({ 'filter[plan_id][oeq]': `${v1.id},${sub.plan_version.id}` })).toEqual([sub.id]);
    expect(await byPlanId({ 'filter[plan_id][neq]': v1.id })).toEqual([]);
    expect(await byPlanId({ 'filter[plan_id]': sub.plan_version.id })).toEqual([]);
    expect(await byPlanId({ 'filter[plan_id][neq]': sub.plan_version.id })).toEqual([sub.id]);

    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    const [inv] = await invoices(h, sub.id, 1);
    expect(inv.total).toBe('25.00');
    expect(amounts(inv)).toEqual([
      ['platform', '20.00'],
      ['onboarding', '5.00'],
    ]);
  });
});

describe('edits', () => {
  it('immediate: new price and a new entitled item from the cut, entitlements at the same instant', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const sso = await f.feature({ key: 'sso', name: 'SSO' });
    await f.plan('pro', defaultPhase([flat('platform', '30')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    const access = async () =>
      (await h!.app.api.get(`${P}/customers/acme-inc/entitlement-access`)).body.data.map(
        (e: { feature_key: string }) => e.feature_key,
      );
    expect(await access()).toEqual([]);
    await advanceTo(h, a + 10 * DAY, [sub.id]);

    const res = await patch(h, sub.id, {
      timing: 'immediate',
      customizations: [
        {
          op: 'update_item',
          phase_key: 'default',
          item_key: 'platform',
          price: { type: 'flat', amount: '60' },
        },
        {
          op: 'add_item',
          phase_key: 'default',
          rate_card: {
            key: 'sso',
            name: 'SSO',
            feature: { id: sso.id },
            price: { type: 'free' },
            entitlement: { type: 'boolean' },
          },
        },
      ],
    });
    expect(res.status).toBe(200);
    const cut = Date.parse(res.body.current_period.from);
    expect(cut).toBeGreaterThanOrEqual(a + 10 * DAY);
    expect(res.body.plan.key).toBe('pro');
    expect(res.body.plan_version.custom).toBe(true);
    expect(res.body.pending_changes).toEqual([]);
    // the timeline: the old platform ends at the cut, the edited one and the new item start there
    expect(
      res.body.phases[0].items.map((i: any) => [i.rate_card.key, i.origin, i.active_from, i.active_to]),
    ).toEqual([
      ['platform', 'plan', isoOf(a), isoOf(cut)],
      ['platform', 'edit', isoOf(cut), undefined],
      ['sso', 'edit', isoOf(cut), undefined],
    ]);
    expect(res.body.phases[0].active_from).toBe(isoOf(a));
    // the entitlement switched with the plan version
    expect(await access()).toEqual(['sso']);

    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 2);
    const cycle = month(a, 1) - a;
    expect(invs.map((i) => [i.from, i.to])).toEqual([
      [isoOf(a), isoOf(cut)],
      [isoOf(cut), isoOf(month(a, 1))],
    ]);
    expect(amounts(invs[0])).toEqual([['platform', share('30', cut - a, cycle).toFixed(2)]]);
    expect(amounts(invs[1]).filter(([k]) => k === 'platform')).toEqual([
      ['platform', share('60', month(a, 1) - cut, cycle).toFixed(2)],
    ]);
    expect(invs[0].total).toBe(share('30', cut - a, cycle).toFixed(2));
    expect(invs[1].total).toBe(share('60', month(a, 1) - cut, cycle).toFixed(2));
    await maybeRecordHistory(h, sub.id, 'subscription-edit-immediate');
  });

  it('next_billing_cycle: an added item from the next period; unschedule_edit withdraws a scheduled edit', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const v1 = await f.plan('pro', defaultPhase([flat('platform', '30')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    await advanceTo(h, a + 5 * DAY, [sub.id]);
    const add = { op: 'add_item', phase_key: 'default', rate_card: flat('support', '10') };

    const first = await patch(h, sub.id, { timing: 'next_billing_cycle', customizations: [add] });
    expect(first.status).toBe(200);
    expect(first.body.pending_changes).toEqual([{ type: 'edit', timing: 'next_billing_cycle' }]);
    expect(first.body.plan_version).toMatchObject({ id: v1.id, custom: false });
    // one change at a time
    const again = await patch(h, sub.id, { timing: 'immediate', customizations: [add] });
    expect(again.status).toBe(409);
    const withdrawn = await patch(h, sub.id, { customizations: [{ op: 'unschedule_edit' }] });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body.pending_changes).toEqual([]);
    expect((await patch(h, sub.id, { customizations: [{ op: 'unschedule_edit' }] })).status).toBe(409);

    const res = await patch(h, sub.id, { timing: 'next_billing_cycle', customizations: [add] });
    expect(res.status).toBe(200);
    await advanceTo(h, month(a, 2) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 2);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(a), isoOf(month(a, 1)), '30.00'],
      [isoOf(month(a, 1)), isoOf(month(a, 2)), '40.00'],
    ]);
    expect(amounts(invs[1])).toEqual([
      ['platform', '30.00'],
      ['support', '10.00'],
    ]);
    const now = await f.get(sub.id);
    expect(now.pending_changes).toEqual([]);
    expect(now.phases[0].items.map((i: any) => [i.rate_card.key, i.origin, i.active_from])).toEqual([
      ['platform', 'plan', isoOf(a)],
      ['support', 'edit', isoOf(month(a, 1))],
    ]);
    await maybeRecordHistory(h, sub.id, 'subscription-edit-next-cycle');
  });

  it('timestamp: a removed item billed up to the instant, shown ending there', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    await f.plan('pro', defaultPhase([flat('platform', '30'), flat('support', '10')]));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    await advanceTo(h, a + 5 * DAY, [sub.id]);
    const t = a + 15 * DAY;
    const res = await patch(h, sub.id, {
      timing: isoOf(t),
      customizations: [{ op: 'remove_item', phase_key: 'default', item_key: 'support' }],
    });
    expect(res.status).toBe(200);
    expect(res.body.pending_changes).toEqual([{ type: 'edit', timing: isoOf(t) }]);
    // the contract does not end at a scheduled edit
    expect(res.body.phases[0].active_to).toBeUndefined();

    await advanceTo(h, month(a, 1) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 2);
    const cycle = month(a, 1) - a;
    expect(invs.map((i) => [i.from, i.to])).toEqual([
      [isoOf(a), isoOf(t)],
      [isoOf(t), isoOf(month(a, 1))],
    ]);
    expect(amounts(invs[0])).toEqual([
      ['platform', share('30', t - a, cycle).toFixed(2)],
      ['support', share('10', t - a, cycle).toFixed(2)],
    ]);
    expect(invs[0].total).toBe(
      share('30', t - a, cycle)
        .plus(share('10', t - a, cycle))
        .toFixed(2),
    );
    expect(amounts(invs[1])).toEqual([['platform', share('30', month(a, 1) - t, cycle).toFixed(2)]]);
    expect(invs[1].total).toBe(share('30', month(a, 1) - t, cycle).toFixed(2));
    const now = await f.get(sub.id);
    expect(
      now.phases[0].items.map((i: any) => [i.rate_card.key, i.origin, i.active_from, i.active_to]),
    ).toEqual([
      ['support', 'plan', isoOf(a), isoOf(t)],
      ['platform', 'plan', isoOf(a), undefined],
    ]);
  });

  it('stretch_phase: a longer trial at next_billing_cycle, a shorter one immediately', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    const phases = (trial: string) => [
      { key: 'trial', name: 'Trial', duration: trial, rate_cards: [flat('platform', '0')] },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '30')] },
    ];
    await f.plan('pro', phases('P1M'));
    await f.plan('team', phases('P2M'));
    const longer = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    // another customer: each invoice holds one subscription
    await f.customer('beta-inc');
    const shorter = await f.subscribe({ customer: { key: 'beta-inc' }, plan: { key: 'team' } });
    const a = Date.parse(longer.active_from);
    const b = Date.parse(shorter.active_from);
    await advanceTo(h, a + 5 * DAY, [longer.id, shorter.id]);

    const l = await patch(h, longer.id, {
      timing: 'next_billing_cycle',
      customizations: [{ op: 'stretch_phase', phase_key: 'trial', extend_by: 'P1M' }],
    });
    expect(l.status).toBe(200);
    const s = await patch(h, shorter.id, {
      timing: 'immediate',
      customizations: [{ op: 'stretch_phase', phase_key: 'trial', extend_by: '-P1M' }],
    });
    expect(s.status).toBe(200);
    const cut = Date.parse(s.body.current_period.from);
    expect(s.body.phases.map((p: any) => [p.key, p.active_from, p.active_to])).toEqual([
      ['trial', isoOf(b), isoOf(month(b, 1))],
      ['default', isoOf(month(b, 1)), undefined],
    ]);

    await advanceTo(h, month(a, 3) + 3600_000, [longer.id, shorter.id]);
    const li = await invoices(h, longer.id, 3);
    expect(li.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(a), isoOf(month(a, 1)), '0.00'],
      [isoOf(month(a, 1)), isoOf(month(a, 2)), '0.00'],
      [isoOf(month(a, 2)), isoOf(month(a, 3)), '30.00'],
    ]);
    const lv = await f.get(longer.id);
    expect(lv.phase.key).toBe('default');
    expect(lv.phases.map((p: any) => [p.key, p.active_from])).toEqual([
      ['trial', isoOf(a)],
      ['default', isoOf(month(a, 2))],
    ]);
    const si = await invoices(h, shorter.id, 4);
    expect(si.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(b), isoOf(cut), '0.00'],
      [isoOf(cut), isoOf(month(b, 1)), '0.00'],
      [isoOf(month(b, 1)), isoOf(month(b, 2)), '30.00'],
      [isoOf(month(b, 2)), isoOf(month(b, 3)), '30.00'],
    ]);
  });

  it('bad input: each refused with its field, and nothing changes', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    await f.plan('pro', [
      { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [flat('platform', '0')] },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '30')] },
    ]);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    await advanceTo(h, a + 2 * DAY, [sub.id]);
    const before = await f.get(sub.id);
    const versions = await customVersions(h);

    const cases: [Record<string, unknown>, number, string][] = [
      [
        { customizations: [{ op: 'remove_item', phase_key: 'nope', item_key: 'platform' }] },
        400,
        'body.customizations[0].phase_key',
      ],
      [
        { customizations: [{ op: 'remove_item', phase_key: 'trial', item_key: 'nope' }] },
        400,
        'body.customizations[0].item_key',
      ],
      // an item that would overlap the one already there
      [
        { customizations: [{ op: 'add_item', phase_key: 'trial', rate_card: flat('platform', '1') }] },
        409,
        'body.customizations[0].rate_card.key',
      ],
      [
        {
          timing: new Date(Date.now() - DAY).toISOString(),
          customizations: [{ op: 'add_item', phase_key: 'trial', rate_card: flat('x', '1') }],
        },
        400,
        'body.timing',
      ],
      // a trial shortened to end before the edit takes effect would leave a gap
      [
        {
          timing: 'next_billing_cycle',
          customizations: [{ op: 'stretch_phase', phase_key: 'trial', extend_by: '-P20D' }],
        },
        409,
        'body.customizations[0].extend_by',
      ],
      [
        { customizations: [{ op: 'stretch_phase', phase_key: 'default', extend_by: 'P1M' }] },
        400,
        'body.customizations[0].phase_key',
      ],
      [{ customizations: [{ op: 'add_phase', phase: { key: 'x' } }] }, 400, 'body.customizations[0].op'],
      [
        {
          customizations: [
            { op: 'add_item', phase_key: 'trial', rate_card: { ...flat('x', '1'), billing_cadence: 'P1Y' } },
          ],
        },
        400,
        'body.customizations[0].rate_card.billing_cadence',
      ],
    ];
    for (const [body, status, field] of cases) {
      const res = await patch(h, sub.id, body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), status]);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body.invalid_parameters.map((p: { field: string }) => p.field)).toContain(field);
    }
    expect(
      (
        await h.app.api
          .patch(`${P}/subscriptions/01JNOPE0000000000000000000`)
          .send({ customizations: [{ op: 'unschedule_edit' }] })
      ).status,
    ).toBe(404);
    const after = await f.get(sub.id);
    expect(after.plan_version).toEqual(before.plan_version);
    expect(after.pending_changes).toEqual([]);
    expect(after.phases).toEqual(before.phases);
    expect(await customVersions(h)).toBe(versions);

    // a canceled subscription cannot be edited
    await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' });
    const canceled = await patch(h, sub.id, {
      customizations: [{ op: 'add_item', phase_key: 'trial', rate_card: flat('x', '1') }],
    });
    expect(canceled.status).toBe(409);
  });
});

describe('before a scheduled start', () => {
  it('a plan change and an edit, immediate, replace the contract from the start; billed as such', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const { f } = await setup(h);
    await f.plan('pro', defaultPhase([flat('platform', '30')]));
    const team = await f.plan('team', defaultPhase([flat('platform', '50'), flat('support', '10')]));
    const start = Date.parse(new Date(Date.now() + 10 * DAY).toISOString());
    const sub = await f.subscribe({
      customer: { key: 'acme-inc' },
      plan: { key: 'pro' },
      active_from: isoOf(start),
    });
    expect(sub.status).toBe('scheduled');
    // a timestamp at or before the start is refused
    const early = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'team' }, timing: isoOf(start - DAY) });
    expect(early.status).toBe(400);

    const changed = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'team' }, timing: 'immediate' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      status: 'scheduled',
      plan: { id: team.id, key: 'team', version: 1 },
      pending_changes: [],
      active_from: isoOf(start),
    });
    const edited = await patch(h, sub.id, {
      customizations: [{ op: 'remove_item', phase_key: 'default', item_key: 'support' }],
    });
    expect(edited.status).toBe(200);
    expect(edited.body.status).toBe('scheduled');
    expect(edited.body.plan).toEqual({ id: team.id, key: 'team', version: 1 });
    // replaced from the start: nothing ends at an edit instant
    expect(edited.body.phases[0].items.map((i: any) => [i.rate_card.key, i.origin, i.active_from])).toEqual([
      ['platform', 'plan', isoOf(start)],
    ]);

    await advanceTo(h, month(start, 1) + 3600_000, [sub.id]);
    const invs = await invoices(h, sub.id, 1);
    expect(invs.map((i) => [i.from, i.to, i.total])).toEqual([
      [isoOf(start), isoOf(month(start, 1)), '50.00'],
    ]);
    expect(amounts(invs[0])).toEqual([['platform', '50.00']]);
  });
});
