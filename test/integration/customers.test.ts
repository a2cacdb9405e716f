import { NotFoundError } from '../../src/lib/errors';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  customerAtSql,
  customerForSubject,
  getCustomer,
  subjectsOf,
  subjectWindows,
} from '../../src/customers/service';
import { createTestApp, type TestApp } from '../support/app';

const BASE = '/v3/openmeter/customers';

describe('customers API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const em = (): EntityManager => t.deps.orm.em.fork();
  const create = (body: object) => t.api.post(BASE).send(body);

  it('creates a customer (201) and reads it back by id and by key', async () => {
    const res = await create({
      key: 'acme-db-1',
      name: 'Acme Inc.',
      description: 'a customer',
      labels: { tier: 'gold' },
      usage_attribution: { subject_keys: ['acme-svc-1', 'acme-svc-2', 'acme-svc-1'] },
      primary_email: 'billing@acme.test',
      currency: 'USD',
      billing_address: { country: 'US', city: 'Springfield', line1: '1 Main St' },
    });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(res.body).toMatchObject({
      key: 'acme-db-1',
      name: 'Acme Inc.',
      description: 'a customer',
      labels: { tier: 'gold' },
      usage_attribution: { subject_keys: ['acme-svc-1', 'acme-svc-2'] },
      primary_email: 'billing@acme.test',
      currency: 'USD',
      billing_address: { country: 'US', city: 'Springfield', line1: '1 Main St' },
    });
    expect(Date.parse(res.body.created_at)).not.toBeNaN();
    expect(res.body.updated_at).toBe(res.body.created_at);

    const byId = await t.api.get(`${BASE}/${res.body.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(res.body);
    const byKey = await t.api.get(`${BASE}/acme-db-1`);
    expect(byKey.status).toBe(200);
    expect(byKey.body).toEqual(res.body);
  });

  it('omits optional fields that were not given', async () => {
    const res = await create({ key: 'minimal', name: 'Minimal' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(
      ['created_at', 'id', 'key', 'name', 'updated_at', 'usage_attribution'].sort(),
    );
    expect(res.body.usage_attribution).toEqual({ subject_keys: [] });
  });

  it('answers 400 problem+json naming every invalid field', async () => {
    const res = await create({
      name: '',
      currency: 'usd',
      primary_email: 'not-an-email',
      usage_attribution: { subject_keys: [''] },
      billing_address: { country: 'USA', planet: 'earth' },
      colour: 'red',
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(400);
    const fields = (res.body.invalid_parameters as { field: string; reason: string }[]).map((p) => p.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'body.key',
        'body.name',
        'body.currency',
        'body.primary_email',
        'body.usage_attribution.subject_keys[0]',
        'body.billing_address.country',
        'body.billing_address.planet',
        'body.colour',
      ]),
    );
    const unknown = res.body.invalid_parameters.find((p: { field: string }) => p.field === 'body.colour');
    expect(unknown).toEqual({
      field: 'body.colour',
      rule: 'unknown_property',
      reason: 'is not a known property',
      source: 'body',
    });
    // nothing was written
    const list = await t.api.get(BASE).query({ 'filter[name]': '' });
    expect(list.body.data).toEqual([]);
  });

  it('rejects malformed labels', async () => {
    const res = await create({ key: 'lbl', name: 'Labels', labels: { 'bad key!': 'x', kong_x: 'y' } });
    expect(res.status).toBe(400);
    const fields = res.body.invalid_parameters.map((p: { field: string }) => p.field);
    expect(fields).toEqual(expect.arrayContaining(['body.labels.bad key!', 'body.labels.kong_x']));
  });

  it('answers 401 without a bearer token and 404 as problem+json', async () => {
    const unauth = await t.raw.get(BASE);
    expect(unauth.status).toBe(401);
    expect(unauth.headers['content-type']).toMatch(/^application\/problem\+json/);
    const noTokenPost = await t.raw.post(BASE).send({ key: 'x', name: 'x' });
    expect(noTokenPost.status).toBe(401);

    for (const res of [
      await t.api.get(`${BASE}/01JZZZZZZZZZZZZZZZZZZZZZZZ`),
      await t.api.get(`${BASE}/no-such-key`),
      await t.api.put(`${BASE}/no-such-key`).send({ name: 'x' }),
      await t.api.delete(`${BASE}/no-such-key`),
    ]) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 404, title: 'Not Found' });
    }
  });

  describe('uniqueness of keys and subjects', () => {
    let owner: { id: string; key: string };
    beforeAll(async () => {
      const res = await create({
        key: 'owner-key',
        name: 'Owner',
        usage_attribution: { subject_keys: ['owned-subject'] },
      });
      expect(res.status).toBe(201);
      owner = res.body;
    });

    it('409 on a duplicate key', async () => {
      const res = await create({ key: 'owner-key', name: 'Other' });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toContain('owner-key');
      expect(res.body.detail).toContain(owner.id);
    });

    it('409 naming subject and owner when a subject is already attributed', async () => {
      const res = await create({
        key: 'someone-else',
        name: 'Other',
        usage_attribution: { subject_keys: ['fresh', 'owned-subject'] },
      });
      expect(res.status).toBe(409);
      expect(res.body.detail).toContain('[owned-subject]');
      expect(res.body.detail).toContain(owner.id);
      expect(res.body.conflicts).toEqual([
        { subject_key: 'owned-subject', customer_id: owner.id, customer_key: 'owner-key' },
      ]);
      // the failed create left nothing behind
      expect((await t.api.get(`${BASE}/someone-else`)).status).toBe(404);
      expect(await customerForSubject(em(), 'fresh')).toBeNull();
    });

    it("409 when a subject equals another customer's key", async () => {
      const res = await create({
        key: 'someone-else',
        name: 'Other',
        usage_attribution: { subject_keys: ['owner-key'] },
      });
      expect(res.status).toBe(409);
      expect(res.body.detail).toContain('[owner-key]');
      expect(res.body.detail).toContain(owner.id);
    });

    it("409 when a new customer's key equals an existing customer's subject", async () => {
      const res = await create({ key: 'owned-subject', name: 'Other' });
      expect(res.status).toBe(409);
      expect(res.body.detail).toContain('[owned-subject]');
      expect(res.body.detail).toContain(owner.id);
    });

    it('409 when an update claims a subject of another customer', async () => {
      const other = await create({ key: 'updater', name: 'Updater' });
      expect(other.status).toBe(201);
      const res = await t.api
        .put(`${BASE}/updater`)
        .send({ name: 'Updater', usage_attribution: { subject_keys: ['owned-subject'] } });
      expect(res.status).toBe(409);
      expect(res.body.detail).toContain(owner.id);
      const still = await t.api.get(`${BASE}/updater`);
      expect(still.body.usage_attribution.subject_keys).toEqual([]);
    });

    it('allows a customer to list its own key as a subject', async () => {
      const res = await create({
        key: 'self-ref',
        name: 'Self',
        usage_attribution: { subject_keys: ['self-ref'] },
      });
      expect(res.status).toBe(201);
      expect(subjectsOf(res.body)).toEqual(['self-ref']);
    });

    it('the database itself refuses a second owner for a subject', async () => {
      await expect(
        em().execute('insert into customer_subjects (subject_key, customer_id) values (?, ?)', [
          'owned-subject',
          owner.id,
        ]),
      ).rejects.toThrow(/duplicate key/);
    });
  });

  it('concurrent creates claiming the same subject: exactly one 201 and one 409', async () => {
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        ['a', 'b'].map((who) =>
          create({
            key: `race-${round}-${who}`,
            name: `Race ${who}`,
            usage_attribution: { subject_keys: [`contested-${round}`] },
          }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      const loser = results.find((r) => r.status === 409)!;
      const winner = results.find((r) => r.status === 201)!;
      expect(loser.body.detail).toContain(`[contested-${round}]`);
      expect(loser.body.detail).toContain(winner.body.id);
      const c = await customerForSubject(em(), `contested-${round}`);
      expect(c?.id).toBe(winner.body.id);
    }
  });

  it("concurrent creates where one's key is the other's subject: exactly one wins", async () => {
    const results = await Promise.all([
      create({ key: 'cross-a', name: 'A', usage_attribution: { subject_keys: ['cross-b'] } }),
      create({ key: 'cross-b', name: 'B' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('replaces a customer with PUT (full replace, key immutable)', async () => {
    const created = await create({
      key: 'put-me',
      name: 'Before',
      description: 'old',
      labels: { a: '1' },
      usage_attribution: { subject_keys: ['put-s1', 'put-s2'] },
      currency: 'EUR',
      primary_email: 'a@b.test',
      billing_address: { city: 'Berlin' },
    });
    expect(created.status).toBe(201);
    await new Promise((r) => setTimeout(r, 5));

    const res = await t.api
      .put(`${BASE}/${created.body.id}`)
      .send({ name: 'After', usage_attribution: { subject_keys: ['put-s2', 'put-s3'] }, currency: 'GBP' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: created.body.id,
      key: 'put-me',
      name: 'After',
      usage_attribution: { subject_keys: ['put-s2', 'put-s3'] },
      currency: 'GBP',
      created_at: created.body.created_at,
      updated_at: expect.any(String),
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThan(Date.parse(created.body.created_at));
    expect((await t.api.get(`${BASE}/put-me`)).body).toEqual(res.body);

    // the released subject is free for others; the new ones are attributed
    expect(await customerForSubject(em(), 'put-s1')).toBeNull();
    expect((await customerForSubject(em(), 'put-s3'))?.id).toBe(created.body.id);
    const other = await create({
      key: 'takes-s1',
      name: 'X',
      usage_attribution: { subject_keys: ['put-s1'] },
    });
    expect(other.status).toBe(201);

    // by key works too; sending the same key back is tolerated, a different one is not
    const same = await t.api.put(`${BASE}/put-me`).send({ key: 'put-me', name: 'Again' });
    expect(same.status).toBe(200);
    expect(same.body.name).toBe('Again');
    const changed = await t.api.put(`${BASE}/put-me`).send({ key: 'other', name: 'Again' });
    expect(changed.status).toBe(400);
    expect(changed.body.invalid_parameters[0].field).toBe('body.key');

    const bad = await t.api.put(`${BASE}/put-me`).send({ description: 'no name', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field).sort()).toEqual([
      'body.extra',
      'body.name',
    ]);
  });

  it('soft-deletes (204): gone from reads, key and subjects free for reuse', async () => {
    const created = await create({
      key: 'del-me',
      name: 'Doomed',
      usage_attribution: { subject_keys: ['del-s1'] },
    });
    expect(created.status).toBe(201);
    expect((await create({ key: 'del-s1', name: 'blocked' })).status).toBe(409);

    const del = await t.api.delete(`${BASE}/del-me`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await t.api.get(`${BASE}/${created.body.id}`)).status).toBe(404);
    expect((await t.api.get(`${BASE}/del-me`)).status).toBe(404);
    expect((await t.api.delete(`${BASE}/${created.body.id}`)).status).toBe(404);
    const list = await t.api.get(BASE).query({ 'filter[key]': 'del-me' });
    expect(list.body.data).toEqual([]);

    // the row is kept, marked deleted
    const rows = await em().execute<{ deleted_at: unknown }[]>(
      'select deleted_at from customers where id = ?',
      [created.body.id],
    );
    expect(rows[0].deleted_at).not.toBeNull();

    const again = await create({
      key: 'del-me',
      name: 'Reborn',
      usage_attribution: { subject_keys: ['del-s1'] },
    });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(created.body.id);
    expect((await t.api.get(`${BASE}/del-me`)).body.id).toBe(again.body.id);
  });

  describe('list', () => {
    let ids: Record<string, string>;
    let t2: TestApp;
    beforeAll(async () => {
      // a database of its own, so the counts are exact
      t2 = await createTestApp();
      ids = {};
      const specs = [
        {
          key: 'l-3',
          name: 'Charlie',
          primary_email: 'c@x.test',
          usage_attribution: { subject_keys: ['s-c'] },
        },
        { key: 'l-1', name: 'Alpha', primary_email: 'a@x.test' },
        { key: 'l-5', name: 'Echo', usage_attribution: { subject_keys: ['s-e1', 's-e2'] } },
        { key: 'l-2', name: 'Bravo', primary_email: 'b@y.test' },
        { key: 'l-4', name: 'Delta 50%' },
      ];
      for (const s of specs) {
        const res = await t2.api.post(BASE).send(s);
        expect(res.status).toBe(201);
        await new Promise((r) => setTimeout(r, 3)); // distinct created_at
        ids[s.key] = res.body.id;
      }
      const gone = await t2.api.post(BASE).send({ key: 'l-gone', name: 'Aardvark' });
      expect((await t2.api.delete(`${BASE}/${gone.body.id}`)).status).toBe(204);
    });
    afterAll(async () => {
      await t2?.close();
    });

    const keys = (res: { body: { data: { key: string }[] } }) => res.body.data.map((c) => c.key);

    it('sorts by name by default and paginates', async () => {
      const all = await t2.api.get(BASE);
      expect(all.status).toBe(200);
      expect(keys(all)).toEqual(['l-1', 'l-2', 'l-3', 'l-4', 'l-5']);
      expect(all.body.meta.page).toEqual({ number: 1, size: 100, total: 5 });

      const p1 = await t2.api.get(BASE).query({ 'page[size]': 2, 'page[number]': 1 });
      const p2 = await t2.api.get(BASE).query({ 'page[size]': 2, 'page[number]': 2 });
      const p3 = await t2.api.get(BASE).query({ 'page[size]': 2, 'page[number]': 3 });
      const p4 = await t2.api.get(BASE).query({ 'page[size]': 2, 'page[number]': 4 });
      expect([...keys(p1), ...keys(p2), ...keys(p3)]).toEqual(keys(all));
      expect(p3.body.meta.page).toEqual({ number: 3, size: 2, total: 5 });
      expect(p4.body).toEqual({ data: [], meta: { page: { number: 4, size: 2, total: 5 } } });
    });

    it('sorts by other fields', async () => {
      const byCreated = await t2.api.get(BASE).query({ sort: 'created_at desc' });
      expect(keys(byCreated)).toEqual(['l-4', 'l-2', 'l-5', 'l-1', 'l-3']);
      const byId = await t2.api.get(BASE).query({ sort: 'id' });
      expect(byId.body.data.map((c: { id: string }) => c.id)).toEqual(
        Object.values(ids).sort((a, b) => (a < b ? -1 : 1)),
      );
      const bad = await t2.api.get(BASE).query({ sort: 'colour' });
      expect(bad.status).toBe(400);
      expect(bad.body.invalid_parameters[0].field).toBe('query.sort');
    });

    it('filters by key, name, primary_email and usage_attribution_subject_key', async () => {
      expect(keys(await t2.api.get(BASE).query({ 'filter[key]': 'l-3' }))).toEqual(['l-3']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[key][oeq]': 'l-1,l-2' }))).toEqual(['l-1', 'l-2']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[key][neq]': 'l-3' }))).toEqual([
        'l-1',
        'l-2',
        'l-4',
        'l-5',
      ]);
      expect(keys(await t2.api.get(BASE).query({ 'filter[name]': 'Echo' }))).toEqual(['l-5']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[name][contains]': 'ALPH' }))).toEqual(['l-1']);
      // LIKE metacharacters are literal
      expect(keys(await t2.api.get(BASE).query({ 'filter[name][contains]': '50%' }))).toEqual(['l-4']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[name][contains]': '%' }))).toEqual(['l-4']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[primary_email]': 'b@y.test' }))).toEqual(['l-2']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[primary_email][contains]': '@x.' }))).toEqual([
        'l-1',
        'l-3',
      ]);
      expect(keys(await t2.api.get(BASE).query({ 'filter[primary_email][exists]': 'false' }))).toEqual([
        'l-4',
        'l-5',
      ]);
      const bySubject = await t2.api.get(BASE).query({ 'filter[usage_attribution_subject_key]': 's-e2' });
      expect(keys(bySubject)).toEqual(['l-5']);
      expect(bySubject.body.meta.page.total).toBe(1);
      expect(
        keys(await t2.api.get(BASE).query({ 'filter[usage_attribution_subject_key][exists]': 'true' })),
      ).toEqual(['l-3', 'l-5']);
      expect(keys(await t2.api.get(BASE).query({ 'filter[key]': 'l-gone' }))).toEqual([]);

      const unknown = await t2.api.get(BASE).query({ 'filter[colour]': 'red' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.invalid_parameters[0]).toMatchObject({
        field: 'query.filter[colour]',
        rule: 'unknown_property',
        source: 'query',
      });
      const twoOps = await t2.api.get(BASE).query({ 'filter[key][eq]': 'a', 'filter[key][neq]': 'b' });
      expect(twoOps.status).toBe(400);
      expect(twoOps.body.invalid_parameters[0].field).toBe('query.filter[key]');
      const badPage = await t2.api.get(BASE).query({ 'page[size]': 0 });
      expect(badPage.status).toBe(400);
      expect(badPage.body.invalid_parameters[0].field).toBe('query.page[size]');
    });

    it('filters by labels (filter[labels.<key>], a Tally extension) with every string operator', async () => {
      const made = [
        await t2.api.post(BASE).send({ key: 'lab-1', name: 'Lab 1', labels: { env: 'prod', team: 'core' } }),
        await t2.api.post(BASE).send({ key: 'lab-2', name: 'Lab 2', labels: { env: 'staging' } }),
      ];
      try {
        const q = (query: Record<string, string>) => t2.api.get(BASE).query(query).then(keys);
        expect(await q({ 'filter[labels.env]': 'prod' })).toEqual(['lab-1']);
        expect(await q({ 'filter[labels.env][oeq]': 'prod,staging' })).toEqual(['lab-1', 'lab-2']);
        expect(await q({ 'filter[labels.env][contains]': 'STAG' })).toEqual(['lab-2']);
        expect(await q({ 'filter[labels.team][exists]': 'true' })).toEqual(['lab-1']);
        expect(await q({ 'filter[labels.env]': 'prod', 'filter[labels.team]': 'other' })).toEqual([]);
        // every other customer has no `env` label
        expect((await q({ 'filter[labels.env][neq]': 'prod' })).filter((k) => k.startsWith('lab-'))).toEqual([
          'lab-2',
        ]);
      } finally {
        for (const m of made) await t2.api.delete(`${BASE}/${m.body.id}`).expect(204);
      }
    });
  });

  describe('service API for other domains', () => {
    it('getCustomer resolves id or key, NotFoundError otherwise; subjectsOf lists key then subjects', async () => {
      const created = await create({
        key: 'svc-key',
        name: 'Svc',
        usage_attribution: { subject_keys: ['svc-s2', 'svc-s1'] },
      });
      expect(created.status).toBe(201);
      const byId = await getCustomer(em(), created.body.id);
      const byKey = await getCustomer(em(), 'svc-key');
      expect(byKey).toEqual(byId);
      expect(subjectsOf(byId)).toEqual(['svc-key', 'svc-s1', 'svc-s2']);
      await expect(getCustomer(em(), 'svc-missing')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('customerForSubject and the SQL helpers attribute by key and by subject, ignoring deleted customers', async () => {
      const a = (await create({ key: 'sql-a', name: 'A', usage_attribution: { subject_keys: ['sql-a1'] } }))
        .body;
      const b = (await create({ key: 'sql-b', name: 'B' })).body;
      expect((await customerForSubject(em(), 'sql-a'))?.id).toBe(a.id);
      expect((await customerForSubject(em(), 'sql-a1'))?.id).toBe(a.id);
      expect((await customerForSubject(em(), 'sql-b'))?.id).toBe(b.id);
      expect(await customerForSubject(em(), 'sql-nobody')).toBeNull();

      const resolve = async (subjects: string[], at = new Date()) => {
        const rows = await em().execute<{ subject: string; customer_id: string | null }[]>(
          `select v.subject, ${customerAtSql('v.subject', 't.at')} as customer_id
             from unnest(array[${subjects.map(() => '?').join(',')}]::text[]) as v(subject),
               (select ?::timestamptz as at) t(at) order by v.subject`,
          [...subjects, at],
        );
        return Object.fromEntries(rows.map((r) => [r.subject, r.customer_id]));
      };
      expect(await resolve(['sql-a', 'sql-a1', 'sql-b', 'sql-nobody'])).toEqual({
        'sql-a': a.id,
        'sql-a1': a.id,
        'sql-b': b.id,
        'sql-nobody': null,
      });
      expect(await subjectWindows(em(), a.id)).toEqual([{ subject: 'sql-a' }, { subject: 'sql-a1' }]);

      const beforeDelete = new Date();
      expect((await t.api.delete(`${BASE}/sql-a`)).status).toBe(204);
      // the deleted customer keeps its history: its windows end at the deletion
      const ended = await subjectWindows(em(), a.id);
      expect(ended.map((w) => [w.subject, w.from, typeof w.to])).toEqual([
        ['sql-a', undefined, 'string'],
        ['sql-a1', undefined, 'string'],
      ]);
      expect(await resolve(['sql-a', 'sql-a1'], beforeDelete)).toEqual({ 'sql-a': a.id, 'sql-a1': a.id });
      expect(await customerForSubject(em(), 'sql-a')).toBeNull();
      expect(await customerForSubject(em(), 'sql-a1')).toBeNull();
      expect(await resolve(['sql-a', 'sql-a1', 'sql-b'])).toEqual({
        'sql-a': null,
        'sql-a1': null,
        'sql-b': b.id,
      });
    });
  });
});
