/** The subscriptions API: validation, errors, listing, plan changes, and the workflow's query. */
import type { Client } from '@temporalio/client';
import { getStateQuery } from '../../workflows/definitions';
import { createTestApp, type TestApp } from '../support/app';
import { createHarness, DAY, advanceTo, settle, workflowHandle, type Harness } from '../support/harness';
import { maybeRecordHistory } from '../support/history';
import { defaultPhase, fixtures, P } from '../support/api';

jest.setTimeout(120_000);

const rateCard = (amount: string) => ({
  key: 'platform',
  name: 'Platform fee',
  billing_cadence: 'P1M',
  price: { type: 'flat', amount },
});

describe('with a running worker', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    const f = fixtures(h.app);
    await f.customer('acme-inc');
    await f.customer('globex');
    await f.plan('basic', defaultPhase([rateCard('10')]));
    await f.plan('pro', defaultPhase([rateCard('50')]));
    // a draft (unpublished) version 2 of pro
    await h.app.api.post(`${P}/plans`).send({
      key: 'pro',
      name: 'Pro v2',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: defaultPhase([rateCard('60')]),
    });
  });
  afterAll(async () => {
    await h?.close();
  });
  const defaultProfileId = async (): Promise<string> =>
    (await h.app.api.get(`${P}/profiles?page[size]=100`).expect(200)).body.data.find(
      (p: { default: boolean }) => p.default,
    ).id;

  it('rejects unknown customers and plans, bad bodies and non-active versions', async () => {
    const post = (body: unknown) => h.app.api.post(`${P}/subscriptions`).send(body as object);
    const noCustomer = await post({ customer: { key: 'nobody' }, plan: { key: 'basic' } });
    expect(noCustomer.status).toBe(404);
    expect(noCustomer.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((await post({ customer: { key: 'acme-inc' }, plan: { key: 'nope' } })).status).toBe(404);
    const draft = await post({ customer: { key: 'acme-inc' }, plan: { key: 'pro', version: 2 } });
    expect(draft.status).toBe(400);
    expect(draft.body.detail).toMatch(/draft, not active/);
    const bad = await post({ customer: {}, plan: { key: 'basic' }, billing_anchor: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field).sort()).toEqual([
      'body.billing_anchor',
      'body.customer',
    ]);
    expect((await h.app.api.get(`${P}/subscriptions/01ARZ3NDEKTSV4RRFFQ69G5FAV`)).status).toBe(404);
  });

  it('creates with search attributes and memo, lists with filters, and answers the getState query', async () => {
    const f = fixtures(h.app);
    const anchor = '2026-01-01T00:00:00.000Z';
    const s1 = await f.subscribe({
      customer: { key: 'acme-inc' },
      plan: { key: 'basic' },
      billing_anchor: anchor,
    });
    const s2 = await f.subscribe({ customer: { key: 'globex' }, plan: { key: 'pro' } });
    expect(s1.billing_anchor).toBe(anchor);
    // the first period ends on the anchor grid (the 1st of a month)
    expect(new Date(s1.current_period.to).getUTCDate()).toBe(1);
    expect(s1.next_billing_at).toBe(s1.current_period.to);

    const desc = await workflowHandle(h, s1.id).describe();
    const sa = Object.fromEntries(desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]));
    expect(sa).toEqual({
      TallyCustomerKey: 'acme-inc',
      TallyPlanKey: 'basic',
      TallyPlanVersion: 1,
      TallySubscriptionStatus: 'active',
      TallyBillingProfileId: await defaultProfileId(),
      TallyNextBillingAt: new Date(s1.current_period.to),
    });
    expect(await desc.staticSummary()).toBe('Subscription of customer acme-inc (Customer acme-inc)');
    expect(desc.memo).toEqual({ customer_name: 'Customer acme-inc' });

    const state = await workflowHandle(h, s1.id).query(getStateQuery);
    expect(state).toMatchObject({
      status: 'active',
      plan: { key: 'basic', version: 1 },
      currentPeriod: { from: s1.current_period.from, to: s1.current_period.to },
      pendingInvoices: [],
    });

    const byKey = await h.app.api.get(`${P}/subscriptions?filter[customer_id]=globex`);
    expect(byKey.body.data.map((s: { id: string }) => s.id)).toEqual([s2.id]);
    const byPlan = await h.app.api.get(`${P}/subscriptions?filter[plan_key]=basic`);
    expect(byPlan.body.data.map((s: { id: string }) => s.id)).toEqual([s1.id]);
    const page = await h.app.api.get(`${P}/subscriptions?page[size]=1&page[number]=2`);
    expect(page.body.meta.page).toEqual({ number: 2, size: 1, total: 2 });
    expect(page.body.data).toHaveLength(1);
    const bad = await h.app.api.get(`${P}/subscriptions?filter[status]=sleeping`);
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters[0]).toMatchObject({ field: 'query.filter[status]', source: 'query' });

    // OpenMeter's deepObject filter forms and sort
    const ids = async (qs: string) => {
      const res = await h.app.api.get(`${P}/subscriptions?${qs}`);
      expect([qs, res.status]).toEqual([qs, 200]);
      return res.body.data.map((s: { id: string }) => s.id);
    };
    const acme = s1.customer_id as string;
    const globex = s2.customer_id as string;
    expect(await ids(`filter[customer_id][eq]=${acme}`)).toEqual([s1.id]);
    expect(await ids(`filter[customer_id][neq]=${acme}`)).toEqual([s2.id]);
    expect((await ids(`filter[customer_id][oeq]=${acme},${globex}&sort=id`)).sort()).toEqual(
      [s1.id, s2.id].sort(),
    );
    expect(await ids(`filter[id][eq]=${s2.id}`)).toEqual([s2.id]);
    expect(await ids(`filter[plan_key][oeq]=basic,pro&filter[status][eq]=active&sort=id desc`)).toEqual(
      [s1.id, s2.id].sort().reverse(),
    );
    expect(await ids(`filter[status][neq]=active`)).toEqual([]);
    const two = await ids('sort=active_from desc');
    expect([...two].reverse()).toEqual(await ids('sort=active_from asc'));
    const twoOps = await h.app.api.get(`${P}/subscriptions?filter[id][eq]=a&filter[id][neq]=b`);
    expect(twoOps.status).toBe(400);
    const badSort = await h.app.api.get(`${P}/subscriptions?sort=colour`);
    expect([badSort.status, badSort.body.invalid_parameters[0].field]).toEqual([400, 'query.sort']);
  });

  it('changes plan immediately (new plan key in the row and the search attributes)', async () => {
    const f = fixtures(h.app);
    const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'basic' } });
    await advanceTo(h, Date.parse(sub.active_from) + 3 * DAY, [sub.id]);
    const same = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'basic' }, timing: 'immediate' });
    expect(same.status).toBe(409);
    expect(same.body.detail).toMatch(/already on plan basic/);
    const res = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'pro' }, timing: 'immediate' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan: { key: 'pro', version: 1 }, name: 'Plan pro' });
    expect(Date.parse(res.body.current_period.from)).toBeGreaterThan(Date.parse(sub.active_from));
    const desc = await workflowHandle(h, sub.id).describe();
    const sa = Object.fromEntries(desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]));
    expect(sa).toMatchObject({ TallyPlanKey: 'pro', TallyPlanVersion: 1 });
    const missing = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'nope' }, timing: 'immediate' });
    expect(missing.status).toBe(404);
    const noTiming = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'basic' } });
    expect(noTiming.status).toBe(400);
  });

  it('shows operators the customer, plan, next billing and what is pending (current details, search attributes)', async () => {
    const f = fixtures(h.app);
    await f.customer('vandelay');
    const sub = await f.subscribe({ customer: { key: 'vandelay' }, plan: { key: 'basic' } });
    await advanceTo(h, Date.parse(sub.active_from) + 2 * DAY, [sub.id]);
    const handle = workflowHandle(h, sub.id);
    const attributes = async () =>
      Object.fromEntries(
        (await handle.describe()).typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]),
      );
    const details = async () =>
      (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';

    expect(await attributes()).toMatchObject({
      TallyCustomerKey: 'vandelay',
      TallyBillingProfileId: await defaultProfileId(),
      TallyNextBillingAt: new Date(sub.current_period.to),
    });
    const first = await details();
    expect(first).toContain('**Customer** `vandelay`');
    expect(first).toContain('**Plan** `basic` v1, phase `default`');
    expect(first).toContain(`**Current period** ${sub.current_period.from} → ${sub.current_period.to}`);
    expect(first).toContain(`**Next billing** ${sub.current_period.to}`);
    expect(first).toContain('**Pending change** none');

    // a change at the next billing cycle is pending; the customer moves to another billing profile
    await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'pro' }, timing: 'next_billing_cycle' })
      .expect(200);
    await settle(h, [sub.id]);
    expect(await details()).toContain('**Pending change** change to `pro` v1 at the next billing cycle');
    const eu = await h.app.api
      .post(`${P}/profiles`)
      .send({ name: 'EU entity', supplier: { name: 'Tally EU' }, default: false })
      .expect(201);
    const customer = (await h.app.api.get(`${P}/customers/vandelay`).expect(200)).body;
    await h.app.api
      .put(`${P}/customers/${customer.id}/billing`)
      .send({ billing_profile: { id: eu.body.id } })
      .expect(200);

    // past the boundary: on pro, the next boundary a period later, billed under the new profile
    await advanceTo(h, Date.parse(sub.current_period.to) + DAY, [sub.id]);
    const moved = (await h.app.api.get(`${P}/subscriptions/${sub.id}`).expect(200)).body;
    expect(moved.plan.key).toBe('pro');
    expect(Date.parse(moved.current_period.to)).toBeGreaterThan(Date.parse(sub.current_period.to));
    expect(await attributes()).toMatchObject({
      TallyPlanKey: 'pro',
      TallyBillingProfileId: eu.body.id,
      TallyNextBillingAt: new Date(moved.current_period.to),
    });
    const second = await details();
    expect(second).toContain('**Plan** `pro` v1');
    expect(second).toContain(`**Next billing** ${moved.current_period.to}`);
    expect(second).toContain('**Pending change** none');

    // ended: nothing bills next
    await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' }).expect(200);
    await settle(h, [sub.id]);
    const ended = await attributes();
    expect(ended.TallySubscriptionStatus).toBe('canceled');
    expect(ended).not.toHaveProperty('TallyNextBillingAt');
    expect(await details()).toContain('**Next billing** none (ended)');
    await maybeRecordHistory(h, sub.id, 'subscription-operator-attributes');
  });

  it('refuses a plan in another currency', async () => {
    const f = fixtures(h.app);
    await f.plan('euro', defaultPhase([rateCard('9')]), {
      currency: 'EUR',
    });
    const sub = await f.subscribe({ customer: { key: 'globex' }, plan: { key: 'basic' } });
    const res = await h.app.api
      .post(`${P}/subscriptions/${sub.id}/change`)
      .send({ plan: { key: 'euro' }, timing: 'next_billing_cycle' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/priced in EUR, the subscription in USD/);
    expect((await f.get(sub.id)).pending_changes).toEqual([]);
  });

  it('refuses to delete a customer with an active subscription until it is canceled', async () => {
    const f = fixtures(h.app);
    await f.customer('initech');
    const sub = await f.subscribe({ customer: { key: 'initech' }, plan: { key: 'basic' } });
    const refused = await h.app.api.delete(`${P}/customers/initech`);
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/problem\+json/);
    expect(refused.body.detail).toContain(sub.id);
    await h.app.api.get(`${P}/customers/initech`).expect(200);
    await h.app.api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' }).expect(200);
    await h.app.api.delete(`${P}/customers/initech`).expect(204);
  });

  it("accepts OpenMeter's create and change bodies: labels and modes stored and filterable, change answers current/next", async () => {
    const f = fixtures(h.app);
    await f.customer('umbrella');
    const created = await h.app.api
      .post(`${P}/subscriptions`)
      .send({
        customer: { key: 'umbrella' },
        plan: { key: 'basic' },
        labels: { env: 'prod', team: 'growth' },
        settlement_mode: 'credit_then_invoice',
        cost_basis_mode: 'dynamic',
      })
      .expect(201);
    expect(created.body).toMatchObject({
      labels: { env: 'prod', team: 'growth' },
      settlement_mode: 'credit_then_invoice',
      cost_basis_mode: 'dynamic',
      cost_basis_pins: [],
      plan_id: created.body.plan.id,
    });
    expect(created.body.phases).toEqual([
      expect.objectContaining({
        key: 'default',
        active_from: created.body.active_from,
        items: [expect.objectContaining({ rate_card: expect.objectContaining({ key: 'platform' }) })],
      }),
    ]);
    const byLabel = await h.app.api.get(`${P}/subscriptions?filter[labels.env]=prod`).expect(200);
    expect(byLabel.body.data.map((s: { id: string }) => s.id)).toEqual([created.body.id]);
    expect(
      (await h.app.api.get(`${P}/subscriptions?filter[labels.env][neq]=prod`)).body.data,
    ).not.toContainEqual(expect.objectContaining({ id: created.body.id }));
    const badLabel = await h.app.api.post(`${P}/subscriptions`).send({
      customer: { key: 'umbrella' },
      plan: { key: 'basic' },
      labels: { 'not a key!': 'x' },
    });
    expect(badLabel.status).toBe(400);

    const wrong = await h.app.api
      .post(`${P}/subscriptions/${created.body.id}/change`)
      .send({ customer: { key: 'acme-inc' }, plan: { key: 'pro' }, timing: 'next_billing_cycle' });
    expect([wrong.status, wrong.body.invalid_parameters[0].field]).toEqual([400, 'body.customer']);
    const changed = await h.app.api
      .post(`${P}/subscriptions/${created.body.id}/change`)
      .send({
        customer: { id: created.body.customer_id },
        plan: { key: 'pro' },
        timing: 'next_billing_cycle',
        labels: { ignored: 'yes' },
        cost_basis_mode: 'dynamic',
      })
      .expect(200);
    expect(changed.body.current.id).toBe(created.body.id);
    expect(changed.body.next.pending_changes).toEqual([
      expect.objectContaining({ type: 'change', timing: 'next_billing_cycle' }),
    ]);
    // the timeline: the current plan's phase ends where the scheduled change starts, the new plan's follows
    const boundary = changed.body.current_period.to;
    type Phase = { key: string; active_from: string; active_to?: string; items: unknown[] };
    expect(
      changed.body.phases.map((p: Phase) => [p.key, p.active_from, p.active_to, p.items.length]),
    ).toEqual([
      ['default', created.body.active_from, boundary, 1],
      ['default', boundary, undefined, 1],
    ]);
    expect(changed.body.phases[1].items[0].rate_card.price).toMatchObject({ amount: '50' });
    expect(changed.body.labels).toEqual({ env: 'prod', team: 'growth' });
  });

  it('refuses to delete a plan version that live subscriptions are on, naming how many', async () => {
    const f = fixtures(h.app);
    const plan = await f.plan('seats', defaultPhase([rateCard('7')]));
    await f.customer('hooli');
    await f.customer('pied-piper');
    const a = await f.subscribe({ customer: { key: 'hooli' }, plan: { key: 'seats' } });
    const b = await f.subscribe({ customer: { key: 'pied-piper' }, plan: { key: 'seats' } });
    const refused = await h.app.api.delete(`${P}/plans/${plan.id}`);
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/problem\+json/);
    expect(refused.body).toMatchObject({ type: 'https://httpstatuses.com/409', subscriptions_count: 2 });
    expect(refused.body.detail).toMatch(/2 live subscription/);
    // nothing changed: the version is still active and subscribable
    expect((await h.app.api.get(`${P}/plans/${plan.id}`).expect(200)).body.status).toBe('active');
    await h.app.api.post(`${P}/subscriptions/${a.id}/cancel`).send({ timing: 'immediate' }).expect(200);
    const still = await h.app.api.delete(`${P}/plans/${plan.id}`);
    expect([still.status, still.body.subscriptions_count]).toEqual([409, 1]);
    await h.app.api.post(`${P}/subscriptions/${b.id}/cancel`).send({ timing: 'immediate' }).expect(200);
    await h.app.api.delete(`${P}/plans/${plan.id}`).expect(204);
    expect((await h.app.api.get(`${P}/plans/${plan.id}`).expect(200)).body.status).toBe('archived');
  });
});

describe('when the workflow cannot be started', () => {
  let app: TestApp;
  afterEach(async () => {
    await app?.close();
  });

  async function seed(a: TestApp) {
    const f = fixtures(a);
    await f.customer('acme-inc');
    await f.plan('basic', defaultPhase([rateCard('10')]));
  }
  const count = async (a: TestApp) =>
    Number(
      (
        await a.deps.orm.em.fork().execute<{ n: string }[]>('select count(*)::text as n from subscriptions')
      )[0].n,
    );

  it('answers 503 and leaves no orphan row', async () => {
    const failing = {
      workflow: { start: () => Promise.reject(new Error('Temporal is down')) },
    } as unknown as Client;
    app = await createTestApp({ temporal: failing });
    await seed(app);
    const res = await app.api
      .post(`${P}/subscriptions`)
      .send({ customer: { key: 'acme-inc' }, plan: { key: 'basic' } });
    expect(res.status).toBe(503);
    // the driver's text is logged, never answered
    expect(res.body.detail).toBe('could not start the subscription workflow (Temporal unavailable); retry');
    expect(await count(app)).toBe(0);
  });

  it('answers 503 without a Temporal client', async () => {
    app = await createTestApp();
    await seed(app);
    const res = await app.api
      .post(`${P}/subscriptions`)
      .send({ customer: { key: 'acme-inc' }, plan: { key: 'basic' } });
    expect(res.status).toBe(503);
    expect(await count(app)).toBe(0);
  });
});
