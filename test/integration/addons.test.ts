/**
 * Catalog add-ons and plan add-ons over HTTP (real PostgreSQL): versions (draft → publish → archive,
 * next version, key + version), the validator's 400s naming fields, the offer rules and nothing changed
 * after a refused request.
 */
import { newId } from '../../src/lib/ids';
import { createTestApp, type TestApp } from '../support/app';

let app: TestApp;
let tokensId: string;
let seatsId: string;
let planId: string;

const fields = (res: { body: { invalid_parameters?: { field: string }[] } }) =>
  (res.body.invalid_parameters ?? []).map((p) => p.field);

beforeAll(async () => {
  app = await createTestApp();
  const meterId = newId();
  await app.deps.orm.em.fork().execute(
    `insert into meters (id, key, name, aggregation, event_type, value_property, dimensions)
       values (?, 'addon_tokens', 'tokens', 'sum', 'tokens', '$.tokens', '{}'::jsonb)`,
    [meterId],
  );
  tokensId = (
    await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'addon-tokens', name: 'Tokens', meter: { id: meterId } })
      .expect(201)
  ).body.id;
  seatsId = (
    await app.api.post('/v3/openmeter/features').send({ key: 'addon-seats', name: 'Seats' }).expect(201)
  ).body.id;
  const plan = await app.api
    .post('/v3/openmeter/plans')
    .send({
      key: 'addon-plan',
      name: 'Plan',
      currency: 'USD',
      billing_cadence: 'P1M',
      phases: [
        { key: 'trial', name: 'Trial', duration: 'P14D', rate_cards: [] },
        {
          key: 'default',
          name: 'Default',
          rate_cards: [
            {
              key: 'base',
              name: 'Base',
              billing_cadence: 'P1M',
              payment_term: 'in_advance',
              price: { type: 'flat', amount: '20' },
            },
            {
              key: 'tokens',
              name: 'Tokens',
              feature: { id: tokensId },
              billing_cadence: 'P1M',
              price: { type: 'unit', amount: '0.01' },
              entitlement: { type: 'metered', limit: 1000 },
            },
          ],
        },
      ],
    })
    .expect(201);
  planId = plan.body.id;
  await app.api.post(`/v3/openmeter/plans/${planId}/publish`).expect(200);
});
afterAll(async () => {
  await app?.close();
});

const seatsAddon = (over: Record<string, unknown> = {}) => ({
  key: 'seats',
  name: 'Seats',
  instance_type: 'multiple',
  currency: 'USD',
  rate_cards: [
    {
      key: 'seat',
      name: 'Seat',
      feature: { id: 'addon-seats' },
      billing_cadence: 'P1M',
      payment_term: 'in_advance',
      price: { type: 'flat', amount: '5' },
      entitlement: { type: 'boolean' },
    },
  ],
  ...over,
});

describe('add-ons', () => {
  it('versions like plans: draft, update, publish, next version, archive, delete', async () => {
    const v1 = await app.api.post('/v3/openmeter/addons').send(seatsAddon()).expect(201);
    expect(v1.body).toMatchObject({
      key: 'seats',
      version: 1,
      status: 'draft',
      instance_type: 'multiple',
      currency: 'USD',
      rate_cards: [
        { key: 'seat', feature: { id: seatsId }, payment_term: 'in_advance', billing_cadence: 'P1M' },
      ],
    });
    expect(v1.body.effective_from).toBeUndefined();
    // one draft per key
    await app.api.post('/v3/openmeter/addons').send(seatsAddon()).expect(409);

    const updated = await app.api
      .put(`/v3/openmeter/addons/${v1.body.id}`)
      .send({ name: 'Seats!', instance_type: 'multiple', rate_cards: seatsAddon().rate_cards })
      .expect(200);
    expect(updated.body.name).toBe('Seats!');

    const pub = await app.api.post(`/v3/openmeter/addons/${v1.body.id}/publish`).expect(200);
    expect(pub.body.status).toBe('active');
    expect(pub.body.effective_from).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // active versions are immutable
    await app.api
      .put(`/v3/openmeter/addons/${v1.body.id}`)
      .send({ name: 'x', instance_type: 'multiple', rate_cards: seatsAddon().rate_cards })
      .expect(409);
    await app.api.post(`/v3/openmeter/addons/${v1.body.id}/publish`).expect(409);

    const v2 = await app.api
      .post('/v3/openmeter/addons')
      .send(seatsAddon({ name: 'Seats v2' }))
      .expect(201);
    expect(v2.body).toMatchObject({ version: 2, status: 'draft' });
    await app.api.post(`/v3/openmeter/addons/${v2.body.id}/publish`).expect(200);
    const old = await app.api.get(`/v3/openmeter/addons/${v1.body.id}`).expect(200);
    expect(old.body.status).toBe('archived');
    expect(old.body.effective_to).toBeDefined();

    const list = await app.api.get('/v3/openmeter/addons?filter[key]=seats&sort=version desc').expect(200);
    expect(list.body.data.map((a: { version: number }) => a.version)).toEqual([2, 1]);
    const active = await app.api
      .get('/v3/openmeter/addons?filter[status]=active&filter[key]=seats')
      .expect(200);
    expect(active.body.data.map((a: { id: string }) => a.id)).toEqual([v2.body.id]);

    await app.api.post(`/v3/openmeter/addons/${v2.body.id}/archive`).expect(200);
    await app.api.post(`/v3/openmeter/addons/${v2.body.id}/archive`).expect(409);
    await app.api.delete(`/v3/openmeter/addons/${v2.body.id}`).expect(204);
    await app.api.get(`/v3/openmeter/addons/${v2.body.id}`).expect(410);
    await app.api.get(`/v3/openmeter/addons/${newId()}`).expect(404);
  });

  it('filters the list by labels (filter[labels.<key>]), as plans', async () => {
    const gold = await app.api
      .post('/v3/openmeter/addons')
      .send(seatsAddon({ key: 'lbl-gold', labels: { tier: 'gold', team: 'core' } }))
      .expect(201);
    const silver = await app.api
      .post('/v3/openmeter/addons')
      .send(seatsAddon({ key: 'lbl-silver', labels: { tier: 'silver' } }))
      .expect(201);
    const bare = await app.api
      .post('/v3/openmeter/addons')
      .send(seatsAddon({ key: 'lbl-none' }))
      .expect(201);
    const ids = async (qs: string) =>
      (
        (await app.api.get(`/v3/openmeter/addons?filter[key][contains]=lbl-&${qs}`).expect(200)).body
          .data as { id: string }[]
      )
        .map((a) => a.id)
        .sort();
    expect(await ids('filter[labels.tier]=gold')).toEqual([gold.body.id]);
    expect(await ids('filter[labels.tier][neq]=gold')).toEqual([silver.body.id, bare.body.id].sort());
    expect(await ids('filter[labels.tier][exists]=true')).toEqual([gold.body.id, silver.body.id].sort());
    expect(await ids('filter[labels.tier][oeq]=gold,silver&filter[labels.team]=core')).toEqual([
      gold.body.id,
    ]);
    expect(await ids('filter[labels.team][exists]=false')).toEqual([silver.body.id, bare.body.id].sort());
    const bad = await app.api.get('/v3/openmeter/addons?filter[labels.tier][like]=g');
    expect(bad.status).toBe(400);
    expect(fields(bad)).toContain('query.filter[labels.tier][like]');
    for (const a of [gold, silver, bare])
      await app.api.delete(`/v3/openmeter/addons/${a.body.id}`).expect(204);
  });

  it('refuses invalid add-ons with every field named, storing nothing', async () => {
    const res = await app.api
      .post('/v3/openmeter/addons')
      .send(
        seatsAddon({
          key: 'bad-addon',
          rate_cards: [
            {
              key: 'u',
              name: 'U',
              feature: { id: tokensId },
              billing_cadence: 'P1M',
              price: { type: 'unit', amount: '1' },
            },
            {
              key: 'y',
              name: 'Y',
              billing_cadence: 'P1Y',
              price: { type: 'flat', amount: '1' },
              currency: 'EUR',
            },
          ],
        }),
      )
      .expect(400);
    expect(fields(res)).toEqual([
      'body.rate_cards[0].price.type',
      'body.rate_cards[1].billing_cadence',
      'body.rate_cards[1].currency',
    ]);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    const empty = await app.api
      .post('/v3/openmeter/addons')
      .send(seatsAddon({ key: 'bad-addon', rate_cards: [] }))
      .expect(400);
    expect(fields(empty)).toEqual(['body.rate_cards']);
    const schema = await app.api
      .post('/v3/openmeter/addons')
      .send(seatsAddon({ key: 'bad-addon', instance_type: 'many' }))
      .expect(400);
    expect(fields(schema)).toEqual(['body.instance_type']);
    const list = await app.api.get('/v3/openmeter/addons?filter[key]=bad-addon').expect(200);
    expect(list.body.data).toEqual([]);
  });
});

describe('plan add-ons', () => {
  let addonId: string;
  beforeAll(async () => {
    addonId = (
      await app.api
        .post('/v3/openmeter/addons')
        .send(seatsAddon({ key: 'seats-offer' }))
        .expect(201)
    ).body.id;
  });

  it('offers only a published add-on; then lists, gets, updates and withdraws the offer', async () => {
    const body = { name: 'Seats', addon: { id: addonId }, from_plan_phase: 'default', max_quantity: 10 };
    const draft = await app.api.post(`/v3/openmeter/plans/${planId}/addons`).send(body).expect(409);
    expect(draft.body.detail).toMatch(/only a published \(active\) add-on/);
    await app.api.post(`/v3/openmeter/addons/${addonId}/publish`).expect(200);

    const created = await app.api.post(`/v3/openmeter/plans/${planId}/addons`).send(body).expect(201);
    expect(created.body).toMatchObject({
      addon: { id: addonId },
      from_plan_phase: 'default',
      max_quantity: 10,
    });
    // once per plan version
    await app.api.post(`/v3/openmeter/plans/${planId}/addons`).send(body).expect(409);

    const list = await app.api.get(`/v3/openmeter/plans/${planId}/addons`).expect(200);
    expect(list.body.data.map((o: { id: string }) => o.id)).toEqual([created.body.id]);
    await app.api.get(`/v3/openmeter/plans/${planId}/addons/${created.body.id}`).expect(200);

    const upd = await app.api
      .put(`/v3/openmeter/plans/${planId}/addons/${created.body.id}`)
      .send({ name: 'Seats', from_plan_phase: 'trial' })
      .expect(200);
    expect(upd.body.from_plan_phase).toBe('trial');
    expect(upd.body.max_quantity).toBeUndefined();
    const badUpd = await app.api
      .put(`/v3/openmeter/plans/${planId}/addons/${created.body.id}`)
      .send({ name: 'Seats', from_plan_phase: 'gold' })
      .expect(400);
    expect(fields(badUpd)).toEqual(['body.from_plan_phase']);
    expect(
      (await app.api.get(`/v3/openmeter/plans/${planId}/addons/${created.body.id}`)).body.from_plan_phase,
    ).toBe('trial');

    // an add-on offered by a live plan version cannot be deleted
    const del = await app.api.delete(`/v3/openmeter/addons/${addonId}`).expect(409);
    expect(del.body.plans_count).toBe(1);

    await app.api.delete(`/v3/openmeter/plans/${planId}/addons/${created.body.id}`).expect(204);
    await app.api.get(`/v3/openmeter/plans/${planId}/addons/${created.body.id}`).expect(404);
    // offered again after the withdrawal
    await app.api.post(`/v3/openmeter/plans/${planId}/addons`).send(body).expect(201);
  });

  it('refuses incompatible offers naming the field', async () => {
    const mk = async (over: Record<string, unknown>) => {
      const a = await app.api.post('/v3/openmeter/addons').send(seatsAddon(over)).expect(201);
      await app.api.post(`/v3/openmeter/addons/${a.body.id}/publish`).expect(200);
      return a.body.id as string;
    };
    const eur = await mk({ key: 'eur-seats', currency: 'EUR' });
    const single = await mk({ key: 'single-seats', instance_type: 'single' });
    const clash = await mk({
      key: 'more-tokens',
      instance_type: 'single',
      rate_cards: [
        {
          key: 'more',
          name: 'More',
          feature: { id: tokensId },
          billing_cadence: 'P1M',
          price: { type: 'flat', amount: '3' },
        },
      ],
    });
    const overlay = await mk({
      key: 'base-extra',
      instance_type: 'single',
      rate_cards: [
        { key: 'base', name: 'Base', billing_cadence: 'P1M', price: { type: 'flat', amount: '3' } },
      ],
    });
    const post = (addon: string, over: Record<string, unknown> = {}) =>
      app.api
        .post(`/v3/openmeter/plans/${planId}/addons`)
        .send({ name: 'x', addon: { id: addon }, from_plan_phase: 'default', ...over });

    expect(fields(await post(eur).expect(400))).toEqual(['body.addon.id']);
    expect(fields(await post(single, { max_quantity: 2 }).expect(400))).toEqual(['body.max_quantity']);
    expect(fields(await post(clash).expect(400))).toEqual(['body.addon.rate_cards[0].feature.id']);
    // same key as the plan's in-advance base fee, but in arrears: not compatible
    const ov = await post(overlay).expect(400);
    expect(fields(ov)).toEqual(['body.addon.rate_cards[0]']);
    expect(JSON.stringify(ov.body)).toMatch(/payment term/);
    expect(fields(await post(newId()).expect(400))).toEqual(['body.addon.id']);
    await app.api
      .post(`/v3/openmeter/plans/${newId()}/addons`)
      .send({ name: 'x', addon: { id: eur }, from_plan_phase: 'default' })
      .expect(404);

    const list = await app.api.get(`/v3/openmeter/plans/${planId}/addons?page[size]=100`).expect(200);
    const offered = list.body.data.map((o: { addon: { id: string } }) => o.addon.id);
    for (const id of [eur, single, clash, overlay]) expect(offered).not.toContain(id);
  });
});
