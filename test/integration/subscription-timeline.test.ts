/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 13: the contract's timeline in a subscription's `phases[]` (past, current and scheduled) through a
 * plan change, a migration, edits and a cancelation, on the real workflow and the time-skipping server.
 */
import { advanceTo, createHarness, DAY, isoOf, month, settle, type Harness } from '../support/harness';
import { fixtures, ok, P } from '../support/api';
import { recordPeriod } from '../../src/subscriptions/service';

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

/** each phase as [key, from, to, items as [rate card key, origin, from, to]] */
const shape = (view: any) =>
  view.phases.map((p: any) => [
    p.key,
    p.active_from,
    p.active_to,
    p.items.map((i: any) => [i.rate_card.key, i.origin, i.active_from, i.active_to]),
  ]);
const ids = (view: any) => view.phases.map((p: any) => [p.id, p.items.map((i: any) => i.id)]);

describe('the timeline of the contract', () => {
  it('shows past, current and scheduled phases through a change, a migration, edits and a cancelation', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const hh = h;
    const f = fixtures(h.app);
    await f.customer('acme-inc');
    await f.plan('pro', [
      { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [flat('platform', '0')] },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '30')] },
    ]);
    await f.plan('team', [
      { key: 'onboarding', name: 'Onboarding', duration: 'P1M', rate_cards: [flat('platform', '40')] },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '50'), flat('support', '10')] },
    ]);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    const [m1, m2, m3, m4] = [1, 2, 3, 4].map((n) => isoOf(month(a, n)));
    const from = isoOf(a);
    expect(shape(sub)).toEqual([
      ['trial', from, m1, [['platform', 'plan', from, m1]]],
      ['default', m1, undefined, [['platform', 'plan', m1, undefined]]],
    ]);
    const post = (path: string, body: Record<string, unknown>) =>
      hh.app.api.post(`${P}/subscriptions/${sub.id}/${path}`).send(body);
    const get = () => f.get(sub.id);
    /** the same subscription in the list (the list loads segments and plans for the whole page) */
    const listed = async () =>
      (await hh.app.api.get(`${P}/subscriptions?filter[id][eq]=${sub.id}`).expect(200)).body.data[0];

    // 1. a plan change at the next billing cycle, made in pro's default phase: pro's phases end at the
    //    boundary, team's start there at its first phase
    await advanceTo(h, month(a, 1) + 5 * DAY, [sub.id]);
    const changed = await post('change', { plan: { key: 'team' }, timing: 'next_billing_cycle' });
    expect(changed.status).toBe(200);
    const scheduled = [
      ['trial', from, m1, [['platform', 'plan', from, m1]]],
      ['default', m1, m2, [['platform', 'plan', m1, m2]]],
      ['onboarding', m2, m3, [['platform', 'plan', m2, m3]]],
      [
        'default',
        m3,
        undefined,
        [
          ['platform', 'plan', m3, undefined],
          ['support', 'plan', m3, undefined],
        ],
      ],
    ];
    const afterChange = await get();
    expect(shape(afterChange)).toEqual(scheduled);
    expect(afterChange.phases.map((p: any) => p.name)).toEqual(['Trial', 'Default', 'Onboarding', 'Default']);
    expect(afterChange.phases[3].items[0].rate_card.price).toEqual({ type: 'flat', amount: '50' });
    expect(shape(await listed())).toEqual(scheduled);
    // ids: stable between reads, distinct per phase and item
    expect(ids(await get())).toEqual(ids(afterChange));
    const all = ids(afterChange).flatMap(([p, items]: [string, string[]]) => [p, ...items]);
    expect(new Set(all).size).toBe(all.length);

    // 2. past the boundary: pro's phases are past, team's current and ahead; the same ids
    await advanceTo(h, month(a, 2) + 5 * DAY, [sub.id]);
    const onTeam = await get();
    expect(onTeam.plan.key).toBe('team');
    expect(onTeam.phase).toEqual({ key: 'onboarding', active_from: m2 });
    expect(shape(onTeam)).toEqual(scheduled);
    expect(ids(onTeam)).toEqual(ids(afterChange));

    // 3. an immediate migration to team v2 inside onboarding: the phase goes on (its unchanged item too),
    //    v2's new item starts at the cut, v2's default follows
    await f.plan('team', [
      {
        key: 'onboarding',
        name: 'Onboarding',
        duration: 'P1M',
        rate_cards: [flat('platform', '40'), flat('setup', '5')],
      },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '55'), flat('support', '10')] },
    ]);
    const migrated = await post('migrate', { timing: 'immediate' });
    expect(migrated.status).toBe(200);
    const cut = migrated.body.current_period.from;
    expect(Date.parse(cut)).toBeGreaterThanOrEqual(month(a, 2) + 5 * DAY);
    const onV2 = [
      ['trial', from, m1, [['platform', 'plan', from, m1]]],
      ['default', m1, m2, [['platform', 'plan', m1, m2]]],
      [
        'onboarding',
        m2,
        m3,
        [
          ['platform', 'plan', m2, m3],
          ['setup', 'plan', cut, m3],
        ],
      ],
      [
        'default',
        m3,
        undefined,
        [
          ['platform', 'plan', m3, undefined],
          ['support', 'plan', m3, undefined],
        ],
      ],
    ];
    const v2 = await get();
    expect(v2.plan.version).toBe(2);
    expect(shape(v2)).toEqual(onV2);
    expect(v2.phases[3].items[0].rate_card.price).toEqual({ type: 'flat', amount: '55' });
    // the phases and items that were there keep their ids
    expect(v2.phases[2].id).toBe(onTeam.phases[2].id);
    expect(v2.phases[2].items[0].id).toBe(onTeam.phases[2].items[0].id);

    // 4. an edit at the next billing cycle (the end of onboarding): the edited version's default from there
    const edit = await hh.app.api.patch(`${P}/subscriptions/${sub.id}`).send({
      timing: 'next_billing_cycle',
      customizations: [
        {
          op: 'update_item',
          phase_key: 'default',
          item_key: 'platform',
          price: { type: 'flat', amount: '60' },
        },
      ],
    });
    expect(edit.status).toBe(200);
    const edited = [
      ...onV2.slice(0, 3),
      [
        'default',
        m3,
        undefined,
        [
          ['platform', 'edit', m3, undefined],
          ['support', 'plan', m3, undefined],
        ],
      ],
    ];
    const pendingEdit = await get();
    expect(pendingEdit.pending_changes).toEqual([{ type: 'edit', timing: 'next_billing_cycle' }]);
    expect(shape(pendingEdit)).toEqual(edited);
    expect(pendingEdit.phases[3].items[0].rate_card.price).toEqual({ type: 'flat', amount: '60' });
    await advanceTo(h, month(a, 3) + 5 * DAY, [sub.id]);
    const inDefault = await get();
    expect(inDefault.phase).toEqual({ key: 'default', active_from: m3 });
    expect(inDefault.pending_changes).toEqual([]);
    expect(shape(inDefault)).toEqual(edited);
    expect(ids(inDefault)).toEqual(ids(pendingEdit));

    // 5. an immediate edit inside default: the removed item ends at the cut, the rest goes on
    const removed = await hh.app.api.patch(`${P}/subscriptions/${sub.id}`).send({
      timing: 'immediate',
      customizations: [{ op: 'remove_item', phase_key: 'default', item_key: 'support' }],
    });
    expect(removed.status).toBe(200);
    const cut2 = removed.body.current_period.from;
    const lastPhase = (to: string | undefined) => [
      'default',
      m3,
      to,
      [
        ['support', 'plan', m3, cut2],
        ['platform', 'edit', m3, to],
      ],
    ];
    expect(shape(await get())).toEqual([...onV2.slice(0, 3), lastPhase(undefined)]);

    // 6. a cancelation at the next billing cycle ends the timeline there, and it stays so once it has ended
    const canceled = await post('cancel', { timing: 'next_billing_cycle' });
    expect(canceled.status).toBe(200);
    const ending = await get();
    expect(ending.active_to).toBe(m4);
    expect(shape(ending)).toEqual([...onV2.slice(0, 3), lastPhase(m4)]);
    await advanceTo(h, month(a, 4) + 5 * DAY, [sub.id]);
    const ended = await get();
    expect(ended.status).toBe('inactive');
    expect(ended.active_to).toBe(m4);
    expect(shape(ended)).toEqual([...onV2.slice(0, 3), lastPhase(m4)]);
    expect(shape(await listed())).toEqual(shape(ended));
    expect(ids(ended).slice(0, 3)).toEqual(ids(v2).slice(0, 3));
  });

  it('a scheduled migration at an instant inside a phase; a subscription without segments shows its version as before', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const hh = h;
    const f = fixtures(h.app);
    await f.customer('acme-inc');
    await f.customer('beta-inc');
    const phases = (trialPrice: string) => [
      { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [flat('platform', trialPrice)] },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '30')] },
    ];
    await f.plan('pro', phases('0'));
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const legacy = await f.subscribe({ customer: { key: 'beta-inc' }, plan: { key: 'pro' } });
    const a = Date.parse(sub.active_from);
    const m1 = isoOf(month(a, 1));
    await f.plan('pro', phases('1'));
    const t = isoOf(a + 10 * DAY);
    const res = await hh.app.api.post(`${P}/subscriptions/${sub.id}/migrate`).send({ timing: t });
    expect(res.status).toBe(200);
    // the trial goes on across the migration: its item changed, so the old one ends at t, the new starts
    const expected = [
      [
        'trial',
        isoOf(a),
        m1,
        [
          ['platform', 'plan', isoOf(a), t],
          ['platform', 'plan', t, m1],
        ],
      ],
      ['default', m1, undefined, [['platform', 'plan', m1, undefined]]],
    ];
    const pending = await f.get(sub.id);
    expect(shape(pending)).toEqual(expected);
    await advanceTo(h, a + 15 * DAY, [sub.id, legacy.id]);
    const after = await f.get(sub.id);
    expect(after.plan.version).toBe(2);
    expect(shape(after)).toEqual(expected);
    expect(ids(after)).toEqual(ids(pending));
    expect(after.phases[0].items[1].rate_card.price).toEqual({ type: 'flat', amount: '1' });

    // a subscription from before the segments: the current version's phases, as the row tells them
    await hh.app.deps.orm.em
      .fork()
      .execute('delete from subscription_plan_segments where subscription_id = ?', [legacy.id]);
    const old = await f.get(legacy.id);
    const b = isoOf(Date.parse(legacy.active_from));
    const n1 = isoOf(month(legacy.active_from, 1));
    expect(shape(old)).toEqual([
      ['trial', b, n1, [['platform', 'plan', b, n1]]],
      ['default', n1, undefined, [['platform', 'plan', n1, undefined]]],
    ]);
  });

  it('a page of subscriptions reads its timelines in a bounded number of queries (not one per row)', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const hh = h;
    const f = fixtures(h.app);
    const phases = [
      { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [flat('platform', '0')] },
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '30')] },
    ];
    await f.plan('pro', phases);
    await f.plan('team', phases);
    const subs: any[] = [];
    for (const key of ['c1', 'c2', 'c3', 'c4']) {
      await f.customer(key);
      subs.push(await f.subscribe({ customer: { key }, plan: { key: 'pro' } }));
    }
    // rows with several segments and pending switches to other versions
    for (const s of subs.slice(0, 2))
      await ok(
        hh.app.api
          .post(`${P}/subscriptions/${s.id}/change`)
          .send({ plan: { key: 'team' }, timing: 'immediate' }),
        200,
      );
    await ok(
      hh.app.api
        .post(`${P}/subscriptions/${subs[2].id}/change`)
        .send({ plan: { key: 'team' }, timing: 'next_billing_cycle' }),
      200,
    );
    const connection = hh.app.deps.orm.em.getConnection();
    const spy = jest.spyOn(connection, 'execute');
    // the list's own reads (the worker shares the connection: its invoices and notifications are not counted)
    const queries = async (size: number) => {
      await settle(
        hh,
        subs.map((s) => s.id),
      );
      spy.mockClear();
      const page = await ok(hh.app.api.get(`${P}/subscriptions?page[size]=${size}&sort=created_at`), 200);
      expect(page.data).toHaveLength(size);
      const ours = /subscriptions|subscription_plan_segments|"plans"/;
      return spy.mock.calls.filter(([sql]) => typeof sql === 'string' && ours.test(sql)).length;
    };
    try {
      const one = await queries(1);
      // the page, its segments, its plan versions, the count
      expect(one).toBe(4);
      expect(await queries(4)).toBe(one);
    } finally {
      spy.mockRestore();
    }
    const listed = (await ok(hh.app.api.get(`${P}/subscriptions?page[size]=4&sort=created_at`), 200)).data;
    expect(listed.map((s: any) => s.phases.length)).toEqual([3, 3, 3, 2]);
  });

  it('recordPeriod writes the segment of a switch once (a retried activity writes the same row); a row without segments gets the version it was on first', async () => {
    h = await createHarness({ collectionPeriod: 'PT0S' });
    const hh = h;
    const f = fixtures(h.app);
    await f.customer('acme-inc');
    await f.customer('beta-inc');
    await f.plan('pro', [{ key: 'default', name: 'Default', rate_cards: [flat('platform', '30')] }]);
    const team = await f.plan('team', [
      { key: 'default', name: 'Default', rate_cards: [flat('platform', '50')] },
    ]);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'pro' } });
    const legacy = await f.subscribe({ customer: { key: 'beta-inc' }, plan: { key: 'pro' } });
    const segments = async (id: string) =>
      hh.app.deps.orm.em
        .fork()
        .execute<{ since: string; plan_id: string; phase_key: string; phase_started_at: string }[]>(
          'select since, plan_id, phase_key, phase_started_at from subscription_plan_segments where subscription_id = ? order by since',
          [id],
        );
    const asIso = (rows: { since: string; plan_id: string; phase_key: string; phase_started_at: string }[]) =>
      rows.map((r) => [
        isoOf(new Date(r.since).getTime()),
        r.plan_id,
        r.phase_key,
        isoOf(new Date(r.phase_started_at).getTime()),
      ]);
    expect(asIso(await segments(sub.id))).toEqual([
      [sub.active_from, sub.plan_version.id, 'default', sub.active_from],
    ]);
    await hh.app.deps.orm.em
      .fork()
      .execute('delete from subscription_plan_segments where subscription_id = ?', [legacy.id]);

    const at = isoOf(Date.parse(sub.active_from) + 3 * DAY);
    const record = (s: any) => ({
      subscriptionId: s.id,
      plan: { id: team.id, key: 'team', version: 1 },
      planSince: at,
      phaseKey: 'default',
      phaseStartedAt: at,
      periodStart: at,
      periodEnd: s.current_period.to,
      nextPeriodEnd: null,
      pendingChange: null,
    });
    for (let i = 0; i < 2; i++) await recordPeriod(hh.app.deps.orm.em.fork(), record(sub));
    expect(asIso(await segments(sub.id))).toEqual([
      [sub.active_from, sub.plan_version.id, 'default', sub.active_from],
      [at, team.id, 'default', at],
    ]);
    for (let i = 0; i < 2; i++) await recordPeriod(hh.app.deps.orm.em.fork(), record(legacy));
    expect(asIso(await segments(legacy.id))).toEqual([
      [legacy.active_from, legacy.plan_version.id, 'default', legacy.active_from],
      [at, team.id, 'default', at],
    ]);
    // the view: pro up to the switch, team from it
    const view = await f.get(legacy.id);
    expect(
      view.phases.map((p: any) => [p.key, p.active_from, p.active_to, p.items[0].rate_card.price.amount]),
    ).toEqual([
      ['default', legacy.active_from, at, '30'],
      ['default', at, undefined, '50'],
    ]);
  });
});
