import { NotFoundError } from '../../src/lib/errors';
import { createTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app.close();
});

const base = {
  name: 'Tokens',
  key: 'tokens',
  aggregation: 'sum',
  event_type: 'prompt',
  value_property: '$.usage.tokens',
  dimensions: { model: '$.model' },
};

describe('meters API', () => {
  it('creates a meter (201) and reads it back by id and by key', async () => {
    const res = await app.api.post('/v3/openmeter/meters').send({
      ...base,
      description: 'LLM tokens',
      labels: { team: 'ai' },
      events_from: '2026-01-01T00:00:00Z',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      key: 'tokens',
      name: 'Tokens',
      description: 'LLM tokens',
      labels: { team: 'ai' },
      aggregation: 'sum',
      event_type: 'prompt',
      value_property: '$.usage.tokens',
      dimensions: { model: '$.model' },
      events_from: '2026-01-01T00:00:00.000Z',
    });
    expect(res.body.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Date.parse(res.body.created_at)).not.toBeNaN();
    const byId = await app.api.get(`/v3/openmeter/meters/${res.body.id}`).expect(200);
    expect(byId.body).toEqual(res.body);
    const byKey = await app.api.get('/v3/openmeter/meters/tokens').expect(200);
    expect(byKey.body).toEqual(res.body);
  });

  it('answers 409 for a key already used by a live meter', async () => {
    const res = await app.api.post('/v3/openmeter/meters').send({ ...base, name: 'Other' });
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it.each([
    ['a key with uppercase', { key: 'Tokens' }, 'body.key'],
    ['a key with a hyphen', { key: 'my-meter' }, 'body.key'],
    ['an unknown aggregation', { key: 'k1', aggregation: 'median' }, 'body.aggregation'],
    ['a sum without value_property', { key: 'k2', value_property: undefined }, 'body.value_property'],
    ['a wildcard JSONPath', { key: 'k3', value_property: '$.items[*].n' }, 'body.value_property'],
    ['a recursive JSONPath', { key: 'k4', value_property: '$..n' }, 'body.value_property'],
    ['a path without $', { key: 'k5', value_property: 'usage.tokens' }, 'body.value_property'],
    ['a bad dimension path', { key: 'k6', dimensions: { model: '$[?(@.a)]' } }, 'body.dimensions.model'],
    ['a reserved dimension name', { key: 'k7', dimensions: { subject: '$.s' } }, 'body.dimensions.subject'],
    ['an unknown property', { key: 'k8', color: 'red' }, 'body.color'],
    ['a bad events_from', { key: 'k9', events_from: 'last week' }, 'body.events_from'],
    ['a missing event_type', { key: 'k10', event_type: undefined }, 'body.event_type'],
  ])('rejects %s with 400 naming the field', async (_n, over, field) => {
    const res = await app.api.post('/v3/openmeter/meters').send({ ...base, ...over });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.invalid_parameters.map((p: { field: string }) => p.field)).toContain(field);
  });

  it('accepts a count meter without value_property', async () => {
    const res = await app.api
      .post('/v3/openmeter/meters')
      .send({ name: 'Calls', key: 'calls', aggregation: 'count', event_type: 'call' });
    expect(res.status).toBe(201);
    expect(res.body.value_property).toBeUndefined();
  });

  it('lists meters with page pagination and filter[key]', async () => {
    for (const k of ['list_a', 'list_b', 'list_c']) {
      await app.api
        .post('/v3/openmeter/meters')
        .send({ name: k, key: k, aggregation: 'count', event_type: 'x' })
        .expect(201);
    }
    const all = await app.api.get('/v3/openmeter/meters?page[size]=2&page[number]=1').expect(200);
    expect(all.body.data).toHaveLength(2);
    const total = all.body.meta.page.total as number;
    expect(total).toBeGreaterThanOrEqual(5);
    const keys: string[] = [];
    for (let n = 1; n <= Math.ceil(total / 2); n++) {
      const p = await app.api.get(`/v3/openmeter/meters?page[size]=2&page[number]=${n}`).expect(200);
      expect(p.body.meta.page).toEqual({ number: n, size: 2, total });
      keys.push(...p.body.data.map((m: { key: string }) => m.key));
    }
    expect(new Set(keys).size).toBe(total);
    expect(keys).toEqual(expect.arrayContaining(['tokens', 'calls', 'list_a', 'list_b', 'list_c']));
    const one = await app.api.get('/v3/openmeter/meters?filter[key]=list_b').expect(200);
    expect(one.body.data.map((m: { key: string }) => m.key)).toEqual(['list_b']);
    expect(one.body.meta.page.total).toBe(1);
    const eq = await app.api.get('/v3/openmeter/meters?filter[key][eq]=list_c').expect(200);
    expect(eq.body.data.map((m: { key: string }) => m.key)).toEqual(['list_c']);
  });

  it('updates name, description, labels and dimensions with PUT; the rest is immutable', async () => {
    const created = await app.api
      .post('/v3/openmeter/meters')
      .send({ ...base, key: 'upd' })
      .expect(201);
    const res = await app.api
      .put(`/v3/openmeter/meters/${created.body.id}`)
      .send({ name: 'Renamed', description: 'new text', dimensions: { model: '$.model', tier: '$.tier' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: created.body.id,
      key: 'upd',
      name: 'Renamed',
      description: 'new text',
      aggregation: 'sum',
      dimensions: { model: '$.model', tier: '$.tier' },
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.updated_at));
    const again = await app.api.get('/v3/openmeter/meters/upd').expect(200);
    expect(again.body.name).toBe('Renamed');
    const bad = await app.api.put(`/v3/openmeter/meters/${created.body.id}`).send({ aggregation: 'max' });
    expect(bad.status).toBe(400);
    const badPath = await app.api.put('/v3/openmeter/meters/upd').send({ dimensions: { x: 'nope' } });
    expect(badPath.status).toBe(400);
  });

  it('deletes (204, soft): the meter is gone, its key can be reused', async () => {
    const created = await app.api
      .post('/v3/openmeter/meters')
      .send({ ...base, key: 'del' })
      .expect(201);
    await app.api.delete(`/v3/openmeter/meters/${created.body.id}`).expect(204);
    const gone = await app.api.get(`/v3/openmeter/meters/${created.body.id}`);
    expect(gone.status).toBe(404);
    expect(gone.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await app.api.get('/v3/openmeter/meters/del')).status).toBe(404);
    expect((await app.api.delete(`/v3/openmeter/meters/${created.body.id}`)).status).toBe(404);
    expect((await app.api.put(`/v3/openmeter/meters/${created.body.id}`).send({ name: 'x' })).status).toBe(
      404,
    );
    expect((await app.api.post(`/v3/openmeter/meters/${created.body.id}/query`).send({})).status).toBe(404);
    const list = await app.api.get('/v3/openmeter/meters?filter[key]=del').expect(200);
    expect(list.body.data).toEqual([]);
    const reused = await app.api
      .post('/v3/openmeter/meters')
      .send({ ...base, key: 'del' })
      .expect(201);
    expect(reused.body.id).not.toBe(created.body.id);
    const rows = await app.db.orm.em
      .getConnection()
      .execute<{ n: string }[]>(`select count(*) as n from meters where key = 'del'`);
    expect(Number(rows[0].n)).toBe(2);
  });

  it('protects what features bill: no delete while a live feature uses the meter, no removing a filtered dimension', async () => {
    const meter = await app.api
      .post('/v3/openmeter/meters')
      .send({ ...base, key: 'guarded', dimensions: { model: '$.model', region: '$.region' } })
      .expect(201);
    const feature = await app.api
      .post('/v3/openmeter/features')
      .send({
        key: 'gpt-tokens',
        name: 'GPT tokens',
        meter: { id: meter.body.id, filters: { model: { eq: 'gpt' } } },
      })
      .expect(201);
    const noDim = await app.api
      .put(`/v3/openmeter/meters/${meter.body.id}`)
      .send({ dimensions: { region: '$.region' } });
    expect(noDim.status).toBe(409);
    expect(noDim.body.detail).toMatch(/gpt-tokens \(model\)/);
    // removing an unused dimension is fine
    await app.api
      .put(`/v3/openmeter/meters/${meter.body.id}`)
      .send({ dimensions: { model: '$.model' } })
      .expect(200);
    const del = await app.api.delete(`/v3/openmeter/meters/${meter.body.id}`);
    expect(del.status).toBe(409);
    expect(del.headers['content-type']).toMatch(/problem\+json/);
    expect(del.body.detail).toMatch(/gpt-tokens/);
    await app.api.delete(`/v3/openmeter/features/${feature.body.id}`).expect(204);
    await app.api.delete(`/v3/openmeter/meters/${meter.body.id}`).expect(204);
    // billing still reads a deleted meter by id (plans already sold may bill it)
    const { aggregateUsage } = await import('../../src/metering/service');
    const value = await aggregateUsage(app.db.orm.em.fork(), {
      meterId: meter.body.id,
      subjects: ['nobody'],
      from: new Date('2026-01-01T00:00:00Z'),
      to: new Date('2026-02-01T00:00:00Z'),
    });
    expect(value).toBe('0');
    await expect(
      aggregateUsage(app.db.orm.em.fork(), {
        meterId: 'guarded',
        subjects: ['nobody'],
        from: new Date('2026-01-01T00:00:00Z'),
        to: new Date('2026-02-01T00:00:00Z'),
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it("formats the meter's own instants like every resource (UTC, milliseconds); events_from keeps what was sent", async () => {
    const created = await app.api
      .post('/v3/openmeter/meters')
      .send({ ...base, key: 'instants', events_from: '2026-01-01T00:00:00.123456Z' })
      .expect(201);
    expect(created.body.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(created.body.updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(created.body.events_from).toBe('2026-01-01T00:00:00.123456Z');
    const sql = (text: string) => app.db.orm.em.getConnection().execute(text, [created.body.id]);
    await sql(
      `update meters set created_at = '2026-03-04T05:06:07.123456Z', updated_at = '2026-03-04T05:06:08.999999Z'
        where id = ?`,
    );
    const read = await app.api.get(`/v3/openmeter/meters/${created.body.id}`).expect(200);
    expect(read.body).toMatchObject({
      created_at: '2026-03-04T05:06:07.123Z',
      updated_at: '2026-03-04T05:06:08.999Z',
      events_from: '2026-01-01T00:00:00.123456Z',
    });
    const listed = await app.api.get('/v3/openmeter/meters?filter[key]=instants').expect(200);
    expect(listed.body.data).toEqual([read.body]);
    await app.api.delete(`/v3/openmeter/meters/${created.body.id}`).expect(204);
    await sql(`update meters set deleted_at = '2026-03-05T00:00:00.000999Z' where id = ?`);
    const { getMeter } = await import('../../src/metering/service');
    const deleted = await getMeter(app.db.orm.em.fork(), created.body.id, { includeDeleted: true });
    expect(deleted.deleted_at).toBe('2026-03-05T00:00:00.000Z');
    expect(Date.parse(deleted.updated_at)).toBeGreaterThan(Date.parse(read.body.updated_at));
  });

  it('answers 404 for an unknown meter and 401 without a token', async () => {
    expect((await app.api.get('/v3/openmeter/meters/01ARZ3NDEKTSV4RRFFQ69G5FAV')).status).toBe(404);
    expect((await app.api.get('/v3/openmeter/meters/no_such_meter')).status).toBe(404);
    const res = await app.raw.get('/v3/openmeter/meters');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
