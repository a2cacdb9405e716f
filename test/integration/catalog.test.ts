import { ConflictError, NotFoundError } from '../../src/lib/errors';
import { newId } from '../../src/lib/ids';
import { getFeature, getPlan, resolvePlan } from '../../src/catalog/service';
import { createTestApp, type TestApp } from '../support/app';

let app: TestApp;
let meterId: string;

async function insertMeter(key: string, dimensions: Record<string, string>): Promise<string> {
  const id = newId();
  await app.deps.orm.em.fork().execute(
    `insert into meters (id, key, name, aggregation, event_type, value_property, dimensions)
       values (?, ?, ?, 'sum', 'tokens', '$.tokens', ?::jsonb)`,
    [id, key, key, JSON.stringify(dimensions)],
  );
  return id;
}

beforeAll(async () => {
  app = await createTestApp();
  meterId = await insertMeter('tokens_total', { model: '$.model', region: '$.region' });
});
afterAll(async () => {
  await app?.close();
});

const fields = (res: { body: { invalid_parameters?: { field: string }[] } }) =>
  (res.body.invalid_parameters ?? []).map((p) => p.field);

describe('features', () => {
  it('creates, gets by id and key, lists with filters, archives', async () => {
    const created = await app.api
      .post('/v3/openmeter/features')
      .send({
        key: 'active-users',
        name: 'Active users',
        labels: { team: 'growth' },
        meter: { id: meterId, filters: { model: { in: ['gpt-4', 'gpt-5'] } } },
      })
      .expect(201);
    expect(created.body).toMatchObject({
      key: 'active-users',
      name: 'Active users',
      labels: { team: 'growth' },
      meter: { id: meterId, filters: { model: { in: ['gpt-4', 'gpt-5'] } } },
    });
    expect(created.body.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const staticFeature = await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'sso', name: 'Single sign-on' })
      .expect(201);
    expect(staticFeature.body.meter).toBeUndefined();

    // the meter may be named by its key; the feature stores and returns its id
    const byMeterKey = await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'gpt-tokens', name: 'Tokens', meter: { id: 'tokens_total' } })
      .expect(201);
    expect(byMeterKey.body.meter).toEqual({ id: meterId });
    await app.api.delete(`/v3/openmeter/features/${byMeterKey.body.id}`).expect(204);

    const byId = await app.api.get(`/v3/openmeter/features/${created.body.id}`).expect(200);
    expect(byId.body).toEqual(created.body);
    const byKey = await app.api.get('/v3/openmeter/features/active-users').expect(200);
    expect(byKey.body.id).toBe(created.body.id);

    const byMeter = await app.api.get(`/v3/openmeter/features?filter[meter_id]=${meterId}`).expect(200);
    expect(byMeter.body.data.map((f: { key: string }) => f.key)).toEqual(['active-users']);
    expect(byMeter.body.meta.page).toEqual({ number: 1, size: 100, total: 1 });
    const byKeyList = await app.api.get('/v3/openmeter/features?filter[key]=sso').expect(200);
    expect(byKeyList.body.data.map((f: { id: string }) => f.id)).toEqual([staticFeature.body.id]);
    const paged = await app.api.get('/v3/openmeter/features?page[size]=1&page[number]=2').expect(200);
    expect(paged.body.data).toHaveLength(1);
    expect(paged.body.meta.page.total).toBeGreaterThanOrEqual(2);

    await app.api.post('/v3/openmeter/features').send({ key: 'sso', name: 'again' }).expect(409);

    await app.api.delete(`/v3/openmeter/features/${staticFeature.body.id}`).expect(204);
    await app.api.get(`/v3/openmeter/features/${staticFeature.body.id}`).expect(410);
    await app.api.get('/v3/openmeter/features/sso').expect(404);
    const after = await app.api.get('/v3/openmeter/features?filter[key]=sso').expect(200);
    expect(after.body.data).toEqual([]);
    // the key is free again
    await app.api.post('/v3/openmeter/features').send({ key: 'sso', name: 'SSO v2' }).expect(201);

    // the service still finds archived features by id (plans keep referencing them)
    const archived = await getFeature(app.deps.orm.em.fork(), staticFeature.body.id);
    expect(archived.deleted_at).toBeDefined();
  });

  it('validates keys, unknown properties, meters and dimensions', async () => {
    let res = await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'Bad Key', name: 'x', extra: 1 })
      .expect(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(fields(res)).toEqual(expect.arrayContaining(['body.key', 'body.extra']));

    res = await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'nope', name: 'x', meter: { id: newId() } })
      .expect(400);
    expect(fields(res)).toEqual(['body.meter.id']);

    res = await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'nope', name: 'x', meter: { id: meterId, filters: { colour: { eq: 'red' } } } })
      .expect(400);
    expect(fields(res)).toEqual(['body.meter.filters.colour']);

    res = await app.api
      .post('/v3/openmeter/features')
      .send({ key: 'nope', name: 'x', meter: { id: meterId, filters: { model: { eq: 'a', in: ['b'] } } } })
      .expect(400);
    expect(fields(res)).toEqual(['body.meter.filters.model']);

    await app.api.get(`/v3/openmeter/features/${newId()}`).expect(404);
  });

  it("updates only the unit cost (OpenMeter's update-feature): set, unchanged when omitted, cleared by null", async () => {
    const f = (
      await app.api.post('/v3/openmeter/features').send({ key: 'tokens-cost', name: 'Tokens' }).expect(201)
    ).body;
    expect(f.unit_cost).toBeUndefined();
    const manual = { type: 'manual', amount: '0.002' };
    const set = await app.api.patch(`/v3/openmeter/features/${f.id}`).send({ unit_cost: manual }).expect(200);
    expect(set.body).toMatchObject({ id: f.id, key: 'tokens-cost', name: 'Tokens', unit_cost: manual });
    expect(Date.parse(set.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(f.updated_at));
    expect((await app.api.get(`/v3/openmeter/features/${f.id}`).expect(200)).body.unit_cost).toEqual(manual);
    // omitted: unchanged (by key too)
    const same = await app.api.patch('/v3/openmeter/features/tokens-cost').send({}).expect(200);
    expect(same.body.unit_cost).toEqual(manual);
    // only unit_cost can change: anything else is refused by name, nothing changes
    const other = await app.api.patch(`/v3/openmeter/features/${f.id}`).send({ name: 'Renamed' }).expect(400);
    expect(fields(other)).toEqual(['body.name']);
    expect((await app.api.get(`/v3/openmeter/features/${f.id}`).expect(200)).body.name).toBe('Tokens');
    const cleared = await app.api
      .patch(`/v3/openmeter/features/${f.id}`)
      .send({ unit_cost: null })
      .expect(200);
    expect(cleared.body.unit_cost).toBeUndefined();
    await app.api.patch(`/v3/openmeter/features/${newId()}`).send({ unit_cost: manual }).expect(404);
    await app.api.delete(`/v3/openmeter/features/${f.id}`).expect(204);
    await app.api.patch(`/v3/openmeter/features/${f.id}`).send({ unit_cost: manual }).expect(410);
  });
});

describe('plans', () => {
  let meteredFeature: { id: string; key: string };
  let staticFeature: { id: string; key: string };

  beforeAll(async () => {
    meteredFeature = (
      await app.api
        .post('/v3/openmeter/features')
        .send({ key: 'tokens', name: 'Tokens', meter: { id: meterId } })
        .expect(201)
    ).body;
    staticFeature = (
      await app.api.post('/v3/openmeter/features').send({ key: 'seats', name: 'Seats' }).expect(201)
    ).body;
  });

  const planBody = (key: string, over: Record<string, unknown> = {}) => ({
    key,
    name: 'Pro',
    currency: 'USD',
    billing_cadence: 'P1M',
    phases: [
      {
        key: 'trial',
        name: 'Trial',
        duration: 'P14D',
        rate_cards: [{ key: 'platform', name: 'Platform', price: { type: 'free' } }],
      },
      {
        key: 'default',
        name: 'Default',
        rate_cards: [
          {
            key: 'platform',
            name: 'Platform fee',
            billing_cadence: 'P1M',
            payment_term: 'in_advance',
            price: { type: 'flat', amount: '49.00' },
          },
          {
            key: 'setup',
            name: 'Setup fee',
            price: { type: 'flat', amount: '100' },
          },
          {
            key: 'tokens',
            name: 'Tokens',
            feature: { id: meteredFeature.id },
            billing_cadence: 'P1M',
            price: {
              type: 'graduated',
              tiers: [
                { up_to_amount: '1000', unit_price: { type: 'unit', amount: '0' } },
                { unit_price: { type: 'unit', amount: '0.01' }, flat_price: { type: 'flat', amount: '5' } },
              ],
            },
            entitlement: { type: 'metered', limit: 1000000, is_soft_limit: true },
          },
          {
            key: 'seats',
            name: 'Seats',
            feature: { id: staticFeature.key },
            price: { type: 'free' },
            entitlement: { type: 'static', config: { max_seats: 5 } },
          },
        ],
      },
    ],
    ...over,
  });

  it('versions plans: draft v1 → active; v2 draft; one draft per key; publish v2 archives v1', async () => {
    const v1 = await app.api.post('/v3/openmeter/plans').send(planBody('pro')).expect(201);
    expect(v1.body).toMatchObject({
      key: 'pro',
      version: 1,
      status: 'draft',
      currency: 'USD',
      billing_cadence: 'P1M',
      pro_rating_enabled: true,
    });
    expect(v1.body.effective_from).toBeUndefined();
    const rcs = v1.body.phases[1].rate_cards;
    expect(rcs[0]).toMatchObject({ billing_cadence: 'P1M', payment_term: 'in_advance' });
    expect(rcs[1]).toMatchObject({ billing_cadence: null, payment_term: 'in_arrears' });
    // a feature given by key is stored by id
    expect(rcs[3].feature).toEqual({ id: staticFeature.id });
    expect(rcs[3].entitlement).toEqual({ type: 'static', config: { max_seats: 5 } });

    // no active version yet
    await expect(resolvePlan(app.deps.orm.em.fork(), { key: 'pro' })).rejects.toBeInstanceOf(ConflictError);

    // drafts are editable
    const edited = await app.api
      .put(`/v3/openmeter/plans/${v1.body.id}`)
      .send({ name: 'Pro (edited)', phases: planBody('pro').phases, pro_rating_enabled: false })
      .expect(200);
    expect(edited.body).toMatchObject({ name: 'Pro (edited)', pro_rating_enabled: false, version: 1 });

    const published = await app.api.post(`/v3/openmeter/plans/${v1.body.id}/publish`).expect(200);
    expect(published.body.status).toBe('active');
    expect(Date.parse(published.body.effective_from)).toBeGreaterThan(Date.now() - 60_000);
    expect(published.body.effective_to).toBeUndefined();

    // published versions are immutable
    await app.api
      .put(`/v3/openmeter/plans/${v1.body.id}`)
      .send({ name: 'x', phases: planBody('pro').phases })
      .expect(409);
    await app.api.post(`/v3/openmeter/plans/${v1.body.id}/publish`).expect(409);

    const v2 = await app.api
      .post('/v3/openmeter/plans')
      .send(planBody('pro', { name: 'Pro 2' }))
      .expect(201);
    expect(v2.body).toMatchObject({ key: 'pro', version: 2, status: 'draft' });
    await app.api.post('/v3/openmeter/plans').send(planBody('pro')).expect(409);

    let resolved = await resolvePlan(app.deps.orm.em.fork(), { key: 'pro' });
    expect(resolved.id).toBe(v1.body.id);

    const p2 = await app.api.post(`/v3/openmeter/plans/${v2.body.id}/publish`).expect(200);
    expect(p2.body).toMatchObject({ status: 'active', version: 2 });
    const old = await app.api.get(`/v3/openmeter/plans/${v1.body.id}`).expect(200);
    expect(old.body.status).toBe('archived');
    expect(old.body.effective_to).toBe(p2.body.effective_from);

    resolved = await resolvePlan(app.deps.orm.em.fork(), { key: 'pro' });
    expect(resolved).toMatchObject({ id: v2.body.id, version: 2, status: 'active' });
    expect((await resolvePlan(app.deps.orm.em.fork(), { key: 'pro', version: 1 })).id).toBe(v1.body.id);
    expect((await resolvePlan(app.deps.orm.em.fork(), { id: v1.body.id })).status).toBe('archived');
    await expect(resolvePlan(app.deps.orm.em.fork(), { key: 'missing' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await getPlan(app.deps.orm.em.fork(), v2.body.id)).phases).toEqual(p2.body.phases);

    // lists and filters
    const list = await app.api.get('/v3/openmeter/plans?filter[key]=pro').expect(200);
    expect(list.body.data.map((p: { version: number }) => p.version)).toEqual([1, 2]);
    const active = await app.api.get('/v3/openmeter/plans?filter[key]=pro&filter[status]=active').expect(200);
    expect(active.body.data.map((p: { id: string }) => p.id)).toEqual([v2.body.id]);
    const eur = await app.api.get('/v3/openmeter/plans?filter[currency]=EUR').expect(200);
    expect(eur.body.data).toEqual([]);
    await app.api.get('/v3/openmeter/plans?filter[status]=bogus').expect(400);

    // archive the active version: no active version remains
    const archived = await app.api.post(`/v3/openmeter/plans/${v2.body.id}/archive`).expect(200);
    expect(archived.body.status).toBe('archived');
    await app.api.post(`/v3/openmeter/plans/${v2.body.id}/archive`).expect(409);
    await expect(resolvePlan(app.deps.orm.em.fork(), { key: 'pro' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('deletes drafts; deleting an active version archives it', async () => {
    const d = await app.api.post('/v3/openmeter/plans').send(planBody('basic')).expect(201);
    await app.api.delete(`/v3/openmeter/plans/${d.body.id}`).expect(204);
    await app.api.get(`/v3/openmeter/plans/${d.body.id}`).expect(410);
    // a new draft can be created after the deletion
    const d2 = await app.api.post('/v3/openmeter/plans').send(planBody('basic')).expect(201);
    expect(d2.body.version).toBe(2);
    await app.api.post(`/v3/openmeter/plans/${d2.body.id}/publish`).expect(200);
    await app.api.delete(`/v3/openmeter/plans/${d2.body.id}`).expect(204);
    expect((await app.api.get(`/v3/openmeter/plans/${d2.body.id}`).expect(200)).body.status).toBe('archived');
    await app.api.get(`/v3/openmeter/plans/${newId()}`).expect(404);
  });

  it('names nested fields in validation errors', async () => {
    const body = planBody('bad');
    const phases = body.phases as { rate_cards: Record<string, unknown>[] }[];
    phases[1].rate_cards[2].price = {
      type: 'graduated',
      tiers: [{ up_to_amount: '-5', unit_price: { type: 'unit', amount: '1' } }, { up_to_amount: 'x' }],
    };
    phases[1].rate_cards[0].colour = 'red';
    const res = await app.api.post('/v3/openmeter/plans').send(body).expect(400);
    expect(fields(res)).toEqual(
      expect.arrayContaining([
        'body.phases[1].rate_cards[2].price.tiers[0].up_to_amount',
        'body.phases[1].rate_cards[2].price.tiers[1].up_to_amount',
        'body.phases[1].rate_cards[0].colour',
      ]),
    );
  });

  it('checks plan semantics', async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ billing_cadence: 'PT30S' }, ['body.billing_cadence']],
      [{ billing_cadence: 'monthly' }, ['body.billing_cadence']],
      [{ currency: 'usd' }, ['body.currency']],
      [{ phases: [] }, ['body.phases']],
      [
        {
          phases: [
            { key: 'a', name: 'A', rate_cards: [] },
            { key: 'b', name: 'B', rate_cards: [] },
          ],
        },
        ['body.phases[0].duration'],
      ],
      [
        {
          phases: [
            {
              key: 'a',
              name: 'A',
              rate_cards: [
                // usage price without a feature, one-time
                { key: 'u', name: 'U', price: { type: 'unit', amount: '1' } },
                // usage price on a static feature, other cadence, paid in advance
                {
                  key: 'v',
                  name: 'V',
                  feature: { id: staticFeature.id },
                  billing_cadence: 'P1Y',
                  payment_term: 'in_advance',
                  price: { type: 'unit', amount: '1' },
                },
                // entitlement without feature
                { key: 'w', name: 'W', price: { type: 'free' }, entitlement: { type: 'boolean' } },
                // metered entitlement on a static feature; unknown feature
                {
                  key: 'x',
                  name: 'X',
                  feature: { id: staticFeature.id },
                  price: { type: 'free' },
                  entitlement: { type: 'metered' },
                },
                { key: 'y', name: 'Y', feature: { id: newId() }, price: { type: 'free' } },
                // tiers: descending bounds, open middle tier, tier without a price
                {
                  key: 'z',
                  name: 'Z',
                  feature: { id: meteredFeature.id },
                  billing_cadence: 'P1M',
                  price: {
                    type: 'volume',
                    tiers: [
                      { up_to_amount: '10', unit_price: { type: 'unit', amount: '1' } },
                      { up_to_amount: '10.0', unit_price: { type: 'unit', amount: '1' } },
                      { unit_price: { type: 'unit', amount: '1' } },
                      { up_to_amount: '100' },
                    ],
                  },
                },
                { key: 'z', name: 'dup', price: { type: 'free' } },
              ],
            },
          ],
        },
        [
          'body.phases[0].rate_cards[0].feature',
          'body.phases[0].rate_cards[0].billing_cadence',
          'body.phases[0].rate_cards[1].feature.id',
          'body.phases[0].rate_cards[1].billing_cadence',
          'body.phases[0].rate_cards[1].payment_term',
          'body.phases[0].rate_cards[2].entitlement',
          'body.phases[0].rate_cards[3].entitlement',
          'body.phases[0].rate_cards[4].feature.id',
          'body.phases[0].rate_cards[5].price.tiers[1].up_to_amount',
          'body.phases[0].rate_cards[5].price.tiers[2].up_to_amount',
          'body.phases[0].rate_cards[5].price.tiers[3]',
          'body.phases[0].rate_cards[6].key',
        ],
      ],
      [
        {
          phases: [
            {
              key: 'a',
              name: 'A',
              rate_cards: [{ key: 'f', name: 'F', price: { type: 'flat', amount: '-1' } }],
            },
          ],
        },
        ['body.phases[0].rate_cards[0].price.amount'],
      ],
      [
        {
          // a yearly flat fee on a monthly plan would be charged every month
          phases: [
            {
              key: 'a',
              name: 'A',
              rate_cards: [
                {
                  key: 'f',
                  name: 'F',
                  billing_cadence: 'P1Y',
                  payment_term: 'in_advance',
                  price: { type: 'flat', amount: '1200' },
                },
              ],
            },
          ],
        },
        ['body.phases[0].rate_cards[0].billing_cadence'],
      ],
      [
        {
          phases: [
            {
              key: 'a',
              name: 'A',
              rate_cards: [{ key: 'f', name: 'F', price: { type: 'package', amount: '1' } }],
            },
          ],
        },
        ['body.phases[0].rate_cards[0].price.type'],
      ],
    ];
    for (const [over, want] of cases) {
      const res = await app.api.post('/v3/openmeter/plans').send(planBody('semantics', over));
      expect({ over, status: res.status }).toEqual({ over, status: 400 });
      expect(fields(res).sort()).toEqual([...want].sort());
    }
    // nothing was created
    const list = await app.api.get('/v3/openmeter/plans?filter[key]=semantics').expect(200);
    expect(list.body.data).toEqual([]);
  });

  it('allows exactly one draft when creates race', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => app.api.post('/v3/openmeter/plans').send(planBody('race'))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const list = await app.api.get('/v3/openmeter/plans?filter[key]=race').expect(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ version: 1, status: 'draft' });
  });

  it('loads the features of a plan in ONE query, whatever the number of rate cards', async () => {
    // 12 features named by id and by key; one archived and its key reused by a live feature
    const made: { id: string; key: string }[] = [];
    for (let i = 0; i < 12; i++)
      made.push(
        (
          await app.api
            .post('/v3/openmeter/features')
            .send({ key: `many-${i}`, name: `Many ${i}`, ...(i % 2 ? { meter: { id: meterId } } : {}) })
            .expect(201)
        ).body,
      );
    const old = (
      await app.api.post('/v3/openmeter/features').send({ key: 'reused', name: 'old' }).expect(201)
    ).body;
    await app.api.delete(`/v3/openmeter/features/${old.id}`).expect(204);
    const live = (
      await app.api.post('/v3/openmeter/features').send({ key: 'reused', name: 'new' }).expect(201)
    ).body;
    const rateCards: Record<string, unknown>[] = made.map((f, i) => ({
      key: `rc-${i}`,
      name: `RC ${i}`,
      feature: { id: i < 6 ? f.id : f.key },
      ...(i % 2
        ? { billing_cadence: 'P1M', price: { type: 'unit', amount: '0.5' } }
        : { price: { type: 'free' }, entitlement: { type: 'boolean' } }),
    }));
    rateCards.push({ key: 'rc-reused', name: 'Reused', feature: { id: 'reused' }, price: { type: 'free' } });
    // the same feature twice, once by id (lower-case: ids are case-insensitive) and once by key
    rateCards.push({
      key: 'rc-again',
      name: 'Again',
      feature: { id: made[0].id.toLowerCase() },
      price: { type: 'free' },
    });

    const conn = app.deps.orm.em.getConnection();
    const spy = jest.spyOn(conn, 'execute');
    const featureQueries = () =>
      spy.mock.calls.filter(([sql]) => typeof sql === 'string' && /\bfrom features\b/.test(sql)).length;
    try {
      const body = {
        ...planBody('many'),
        phases: [{ key: 'default', name: 'Default', rate_cards: rateCards }],
      };
      const created = await app.api.post('/v3/openmeter/plans').send(body).expect(201);
      expect(featureQueries()).toBe(1);
      const stored = created.body.phases[0].rate_cards.map(
        (rc: { feature: { id: string } }) => rc.feature.id,
      );
      expect(stored).toEqual([...made.map((f) => f.id), live.id, made[0].id]);

      // an archived feature named by id is refused, in the same single query
      spy.mockClear();
      const bad = {
        ...planBody('many-bad'),
        phases: [
          {
            key: 'default',
            name: 'Default',
            rate_cards: [
              ...rateCards,
              { key: 'rc-old', name: 'Old', feature: { id: old.id }, price: { type: 'free' } },
            ],
          },
        ],
      };
      const res = await app.api.post('/v3/openmeter/plans').send(bad).expect(400);
      expect(res.body.invalid_parameters).toEqual([
        {
          field: `body.phases[0].rate_cards[${rateCards.length}].feature.id`,
          rule: 'invalid',
          reason: `feature ${old.id} not found`,
          source: 'body',
        },
      ]);
      expect(featureQueries()).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('serves the catalog paths in the OpenAPI document', async () => {
    const doc = await app.raw.get('/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v3/openmeter/features', '/v3/openmeter/plans/{planId}/publish']),
    );
    expect(doc.body.components.schemas.BillingPlan.required).toContain('phases');
  });

  it('rejects key/currency changes in PUT (not part of the update body)', async () => {
    const d = await app.api.post('/v3/openmeter/plans').send(planBody('editable')).expect(201);
    const res = await app.api
      .put(`/v3/openmeter/plans/${d.body.id}`)
      .send({ name: 'x', currency: 'EUR', phases: planBody('editable').phases })
      .expect(400);
    expect(fields(res)).toEqual(['body.currency']);
  });
});
