/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked by the tests */
/**
 * Billing profiles (/v3/openmeter/profiles) and a customer's billing settings
 * (/v3/openmeter/customers/{customerId}/billing): every route, every 400/404/409/410, exactly one default
 * (also when processes race), and what billing gets from `resolveCustomerBilling`.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { createOrm, type Orm } from '../../src/db/orm';
import { InvalidError } from '../../src/lib/errors';
import { SANDBOX_APP_ID } from '../../src/profiles/apps';
import {
  createProfile,
  ensureDefaultProfile,
  getProfile,
  replaceProfile,
  resolveCustomerBilling,
} from '../../src/profiles/service';
import { ok, P } from '../support/api';
import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase } from '../support/db';

const PROFILES = `${P}/profiles`;
const SANDBOX = {
  invoicing: { id: SANDBOX_APP_ID },
  payment: { id: SANDBOX_APP_ID },
  tax: { id: SANDBOX_APP_ID },
};
/** an id no profile has */
const UNKNOWN_ID = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ config: { TALLY_COLLECTION_PERIOD: 'PT7M' } });
});
afterAll(async () => {
  await t?.close();
});

const em = (): EntityManager => t.deps.orm.em.fork();
const create = (body: object) => t.api.post(PROFILES).send(body);
const profile = (extra: object = {}) => ({
  name: 'EU entity',
  supplier: { name: 'Tally EU' },
  default: false,
  ...extra,
});
const createOk = async (extra: object = {}) => ok(create(profile(extra)), 201);
const list = async (): Promise<any[]> => (await ok(t.api.get(`${PROFILES}?page[size]=1000`), 200)).data;
const defaults = async () => (await list()).filter((p) => p.default);
const customer = (key: string) => ok(t.api.post(`${P}/customers`).send({ key, name: key }), 201);
const billingOf = (c: string) => `${P}/customers/${c}/billing`;

/** the problem's invalid parameters as `field: reason` */
const fieldsOf = (body: any): Record<string, string> =>
  Object.fromEntries((body.invalid_parameters ?? []).map((p: any) => [p.field, p.reason]));

describe('the default profile', () => {
  it('exists from the start: TALLY_COLLECTION_PERIOD, auto-advance, no draft period, charged automatically', async () => {
    const d = await defaults();
    expect(d).toHaveLength(1);
    expect(d[0]).toEqual({
      id: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
      name: 'Default billing profile',
      created_at: expect.any(String),
      updated_at: expect.any(String),
      supplier: {},
      workflow: {
        collection: { alignment: { type: 'subscription' }, interval: 'PT7M' },
        invoicing: { auto_advance: true, draft_period: 'P0D' },
        payment: { collection_method: 'charge_automatically' },
      },
      apps: SANDBOX,
      default: true,
    });
  });

  it('a second start (another configured period) changes nothing', async () => {
    const [before] = await defaults();
    const again = await ensureDefaultProfile(em(), 'P1D');
    expect(again).toEqual(before);
    expect(await defaults()).toEqual([before]);
  });

  it('the database refuses a second live default (partial unique index); a deleted one does not count', async () => {
    const insert = (deleted: boolean) =>
      em().execute(
        `insert into billing_profiles (id, name, supplier, workflow, apps, is_default, deleted_at)
         values (?, 'x', '{}', '{}', '{}', true, ${deleted ? 'now()' : 'null'})`,
        [deleted ? '01JZZZZZZZZZZZZZZZZZZZZZZ1' : '01JZZZZZZZZZZZZZZZZZZZZZZ2'],
      );
    await expect(insert(false)).rejects.toThrow(/billing_profiles_default_uq/);
    await expect(insert(true)).resolves.toBeDefined();
    expect(await defaults()).toHaveLength(1);
  });
});

describe('ensureDefaultProfile when processes race', () => {
  it('several processes starting at once create exactly one default (20 rounds, 4 processes)', async () => {
    const db = await createTestDatabase();
    const procs: Orm[] = [];
    try {
      for (let i = 0; i < 4; i++) procs.push(await createOrm(db.url, 2));
      for (let round = 0; round < 20; round++) {
        await db.orm.em.fork().execute('delete from billing_profiles');
        // every "process" holds an open connection, so that the inserts start together
        await Promise.all(procs.map((o) => o.em.fork().execute('select 1')));
        const made = await Promise.all(procs.map((o, i) => ensureDefaultProfile(o.em.fork(), `PT${i + 1}M`)));
        const rows = await db.orm.em
          .fork()
          .execute<{ id: string; is_default: boolean }[]>('select id, is_default from billing_profiles');
        expect(rows).toHaveLength(1);
        expect(rows[0].is_default).toBe(true);
        // every process got the same profile back
        expect(new Set(made.map((p) => p.id))).toEqual(new Set([rows[0].id]));
      }
    } finally {
      for (const o of procs) await o.close(true);
      await db.drop();
    }
  });
  it('a profile created as the default while processes start: one default, no error (20 rounds)', async () => {
    const db = await createTestDatabase();
    const procs: Orm[] = [];
    try {
      for (let i = 0; i < 3; i++) procs.push(await createOrm(db.url, 2));
      for (let round = 0; round < 20; round++) {
        await db.orm.em.fork().execute('delete from billing_profiles');
        await Promise.all(procs.map((o) => o.em.fork().execute('select 1')));
        const [created] = await Promise.all([
          createProfile(procs[0].em.fork(), { name: `created ${round}`, supplier: {}, default: true }),
          ensureDefaultProfile(procs[1].em.fork(), 'PT1M'),
          ensureDefaultProfile(procs[2].em.fork(), 'PT2M'),
        ]);
        const rows = await db.orm.em
          .fork()
          .execute<{ id: string }[]>(
            'select id from billing_profiles where is_default and deleted_at is null',
          );
        expect(rows).toEqual([{ id: created.id }]);
      }
    } finally {
      for (const o of procs) await o.close(true);
      await db.drop();
    }
  });
});

describe('POST /profiles', () => {
  it('creates a profile with every field (201) and reads it back', async () => {
    const body = {
      name: 'US entity',
      description: 'bills US customers',
      labels: { region: 'us' },
      supplier: {
        key: 'tally-us',
        name: 'Tally Inc.',
        email: 'billing@tally.test',
        tax_id: { code: 'US-123456789' },
        addresses: {
          billing_address: { country: 'US', city: 'Springfield', line1: '1 Main St', postal_code: '12345' },
        },
      },
      workflow: {
        collection: {
          alignment: {
            type: 'anchored',
            recurring_period: { anchor: '2026-01-01T00:00:00Z', interval: 'P1M' },
          },
          interval: 'P1D',
        },
        invoicing: { auto_advance: false, draft_period: 'P2D' },
        payment: { collection_method: 'send_invoice', due_after: 'P14D' },
      },
      apps: SANDBOX,
      default: false,
    };
    const res = await create(body);
    expect(res.status).toBe(201);
    const { apps, ...rest } = body;
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
      created_at: expect.any(String),
      updated_at: res.body.created_at,
      ...rest,
      apps,
    });
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // the same by id, in any case, and in the list
    expect(await ok(t.api.get(`${PROFILES}/${res.body.id}`), 200)).toEqual(res.body);
    expect(await ok(t.api.get(`${PROFILES}/${res.body.id.toLowerCase()}`), 200)).toEqual(res.body);
    expect((await list()).find((p) => p.id === res.body.id)).toEqual(res.body);
  });

  it("fills OpenMeter's defaults for what it leaves out (interval PT1H, sandbox apps)", async () => {
    const p = await createOk();
    expect(p).toMatchObject({
      supplier: { name: 'Tally EU' },
      workflow: {
        collection: { alignment: { type: 'subscription' }, interval: 'PT1H' },
        invoicing: { auto_advance: true, draft_period: 'P0D' },
        payment: { collection_method: 'charge_automatically' },
      },
      apps: SANDBOX,
      default: false,
    });
    expect(p).not.toHaveProperty('description');
    expect(p).not.toHaveProperty('labels');
  });

  it('send_invoice without due_after is due after P30D; app ids in any case', async () => {
    const lower = SANDBOX_APP_ID.toLowerCase();
    const p = await createOk({
      workflow: { payment: { collection_method: 'send_invoice' } },
      apps: { invoicing: { id: lower }, payment: { id: lower }, tax: { id: lower } },
    });
    expect(p.workflow.payment).toEqual({ collection_method: 'send_invoice', due_after: 'P30D' });
    expect(p.apps).toEqual(SANDBOX);
  });

  it.each<[string, Record<string, unknown>, Record<string, RegExp>]>([
    ['no name', { name: undefined }, { 'body.name': /./ }],
    ['empty name', { name: '' }, { 'body.name': /./ }],
    ['long description', { description: 'x'.repeat(1025) }, { 'body.description': /./ }],
    ['no supplier', { supplier: undefined }, { 'body.supplier': /./ }],
    ['no default', { default: undefined }, { 'body.default': /./ }],
    ['default not a boolean', { default: 'yes' }, { 'body.default': /./ }],
    ['unknown field', { colour: 'red' }, { 'body.colour': /not a known property/ }],
    ['bad label key', { labels: { 'bad key!': 'x' } }, { 'body.labels.bad key!': /invalid label key/ }],
    ['supplier e-mail', { supplier: { email: 'nope' } }, { 'body.supplier.email': /email/ }],
    [
      'supplier country',
      { supplier: { addresses: { billing_address: { country: 'usa' } } } },
      { 'body.supplier.addresses.billing_address.country': /ISO 3166/ },
    ],
    [
      'supplier without billing address',
      { supplier: { addresses: {} } },
      { 'body.supplier.addresses.billing_address': /./ },
    ],
    [
      'supplier tax id too long',
      { supplier: { tax_id: { code: 'x'.repeat(33) } } },
      { 'body.supplier.tax_id.code': /./ },
    ],
    ['supplier id is read-only', { supplier: { id: 'x' } }, { 'body.supplier.id': /not a known property/ }],
    [
      'interval not a duration',
      { workflow: { collection: { interval: '1 hour' } } },
      { 'body.workflow.collection.interval': /ISO-8601/ },
    ],
    [
      'negative interval',
      { workflow: { collection: { interval: '-PT1H' } } },
      { 'body.workflow.collection.interval': /negative/ },
    ],
    [
      'draft period not a duration',
      { workflow: { invoicing: { draft_period: 'P1X' } } },
      { 'body.workflow.invoicing.draft_period': /ISO-8601/ },
    ],
    [
      'negative draft period',
      { workflow: { invoicing: { draft_period: '-P1D' } } },
      { 'body.workflow.invoicing.draft_period': /negative/ },
    ],
    [
      'draft period longer than a century',
      { workflow: { invoicing: { draft_period: 'P1000000Y' } } },
      { 'body.workflow.invoicing.draft_period': /at most P100Y/ },
    ],
    [
      'interval beyond what a number holds',
      { workflow: { collection: { interval: `PT${'9'.repeat(400)}H` } } },
      { 'body.workflow.collection.interval': /at most P100Y|ISO-8601/ },
    ],
    [
      'due_after past a century by a day',
      { workflow: { payment: { collection_method: 'send_invoice', due_after: 'P100Y1D' } } },
      { 'body.workflow.payment.due_after': /at most P100Y/ },
    ],
    [
      'auto_advance not a boolean',
      { workflow: { invoicing: { auto_advance: 'yes' } } },
      { 'body.workflow.invoicing.auto_advance': /./ },
    ],
    [
      'due_after not a duration',
      { workflow: { payment: { collection_method: 'send_invoice', due_after: 'P' } } },
      { 'body.workflow.payment.due_after': /ISO-8601/ },
    ],
    [
      'negative due_after',
      { workflow: { payment: { collection_method: 'send_invoice', due_after: '-P30D' } } },
      { 'body.workflow.payment.due_after': /negative/ },
    ],
    [
      'due_after with charge_automatically',
      { workflow: { payment: { collection_method: 'charge_automatically', due_after: 'P30D' } } },
      { 'body.workflow.payment.due_after': /send_invoice only/ },
    ],
    [
      'unknown collection method',
      { workflow: { payment: { collection_method: 'wire' } } },
      { 'body.workflow.payment.collection_method': /charge_automatically or send_invoice/ },
    ],
    [
      'payment without collection method',
      { workflow: { payment: { due_after: 'P30D' } } },
      { 'body.workflow.payment.collection_method': /charge_automatically or send_invoice/ },
    ],
    [
      'unknown alignment',
      { workflow: { collection: { alignment: { type: 'weekly' } } } },
      { 'body.workflow.collection.alignment.type': /subscription or anchored/ },
    ],
    [
      'anchored without a recurring period',
      { workflow: { collection: { alignment: { type: 'anchored' } } } },
      { 'body.workflow.collection.alignment.recurring_period': /./ },
    ],
    [
      'anchored with a bad anchor and an empty interval',
      {
        workflow: {
          collection: {
            alignment: { type: 'anchored', recurring_period: { anchor: 'yesterday', interval: 'P0D' } },
          },
        },
      },
      {
        'body.workflow.collection.alignment.recurring_period.anchor': /RFC 3339/,
        'body.workflow.collection.alignment.recurring_period.interval': /longer than zero/,
      },
    ],
    [
      'recurring period on subscription alignment',
      {
        workflow: {
          collection: {
            alignment: {
              type: 'subscription',
              recurring_period: { anchor: '2026-01-01T00:00:00Z', interval: 'P1M' },
            },
          },
        },
      },
      { 'body.workflow.collection.alignment.recurring_period': /not a known property/ },
    ],
    [
      'unknown payment app',
      { apps: { ...SANDBOX, payment: { id: UNKNOWN_ID } } },
      { 'body.apps.payment.id': /no installed app has this id/ },
    ],
    [
      'unknown invoicing app',
      { apps: { ...SANDBOX, invoicing: { id: 'stripe' } } },
      { 'body.apps.invoicing.id': /must be a ULID/ },
    ],
    [
      'apps without tax',
      { apps: { invoicing: SANDBOX.invoicing, payment: SANDBOX.payment } },
      { 'body.apps.tax': /./ },
    ],
  ])('400 naming the field: %s', async (_name, change, expected) => {
    const body: Record<string, unknown> = { ...profile(), ...change };
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    const before = (await list()).length;
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const fields = fieldsOf(res.body);
    for (const [field, reason] of Object.entries(expected)) expect(fields[field]).toMatch(reason);
    expect(Object.keys(fields).sort()).toEqual(Object.keys(expected).sort());
    expect(await list()).toHaveLength(before);
  });

  it('with default: true, the new profile becomes the only default', async () => {
    const [old] = await defaults();
    const p = await createOk({ name: 'new default', default: true });
    expect(p.default).toBe(true);
    expect((await defaults()).map((d) => d.id)).toEqual([p.id]);
    const oldNow = await ok(t.api.get(`${PROFILES}/${old.id}`), 200);
    expect(oldNow.default).toBe(false);
    expect(Date.parse(oldNow.updated_at)).toBeGreaterThanOrEqual(Date.parse(old.updated_at));
    // and back
    await ok(
      t.api
        .put(`${PROFILES}/${old.id}`)
        .send({ name: old.name, supplier: old.supplier, workflow: old.workflow, default: true }),
      200,
    );
    expect((await defaults()).map((d) => d.id)).toEqual([old.id]);
  });
});

describe('GET /profiles', () => {
  it('pages as OpenMeter (page[size], page[number], meta), oldest first, without deleted profiles', async () => {
    for (let i = 0; i < 3; i++) await createOk({ name: `paged ${i}` });
    const gone = await createOk({ name: 'deleted one' });
    await ok(t.api.delete(`${PROFILES}/${gone.id}`), 204);
    const all = await list();
    expect(all.map((p) => p.id)).not.toContain(gone.id);
    const sorted = [...all].sort(
      (a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id),
    );
    expect(all.map((p) => p.id)).toEqual(sorted.map((p) => p.id));

    const page2 = await ok(t.api.get(`${PROFILES}?page[size]=2&page[number]=2`), 200);
    expect(page2.meta).toEqual({ page: { number: 2, size: 2, total: all.length } });
    expect(page2.data.map((p: any) => p.id)).toEqual(all.slice(2, 4).map((p) => p.id));
    const past = await ok(t.api.get(`${PROFILES}?page[size]=2&page[number]=1000`), 200);
    expect(past).toEqual({ data: [], meta: { page: { number: 1000, size: 2, total: all.length } } });
    const first = await ok(t.api.get(PROFILES), 200);
    expect(first.meta.page).toEqual({ number: 1, size: 100, total: all.length });
  });

  it.each([
    ['page[size]=0', 'query.page[size]'],
    ['page[size]=1001', 'query.page[size]'],
    ['page[number]=0', 'query.page[number]'],
    ['page[number]=x', 'query.page[number]'],
  ])('400 for %s', async (q, field) => {
    const res = await t.api.get(`${PROFILES}?${q}`);
    expect(res.status).toBe(400);
    expect(Object.keys(fieldsOf(res.body))).toEqual([field]);
  });
});

describe('GET /profiles/{id}', () => {
  it('404 for an unknown id, 400 for a malformed one, 410 for a deleted profile', async () => {
    const unknown = await t.api.get(`${PROFILES}/${UNKNOWN_ID}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe(`billing profile ${UNKNOWN_ID} not found`);
    const bad = await t.api.get(`${PROFILES}/not-an-id`);
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual({ 'path.id': 'must be a ULID' });
    const p = await createOk();
    await ok(t.api.delete(`${PROFILES}/${p.id}`), 204);
    const gone = await t.api.get(`${PROFILES}/${p.id}`);
    expect(gone.status).toBe(410);
    expect(gone.body.detail).toBe(`billing profile ${p.id} has been deleted`);
  });
});

describe('PUT /profiles/{id}', () => {
  it('replaces every field; what is left out takes its default', async () => {
    const p = await createOk({
      description: 'old',
      labels: { a: 'b' },
      workflow: {
        invoicing: { auto_advance: false, draft_period: 'P1D' },
        payment: { collection_method: 'send_invoice', due_after: 'P7D' },
      },
    });
    const res = await t.api.put(`${PROFILES}/${p.id}`).send({
      name: 'renamed',
      supplier: { name: 'Tally EU GmbH', tax_id: { code: 'DE123' } },
      workflow: { collection: { interval: 'PT30M' } },
      default: false,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: p.id,
      name: 'renamed',
      created_at: p.created_at,
      updated_at: expect.any(String),
      supplier: { name: 'Tally EU GmbH', tax_id: { code: 'DE123' } },
      workflow: {
        collection: { alignment: { type: 'subscription' }, interval: 'PT30M' },
        invoicing: { auto_advance: true, draft_period: 'P0D' },
        payment: { collection_method: 'charge_automatically' },
      },
      apps: SANDBOX,
      default: false,
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(p.updated_at));
    expect(await ok(t.api.get(`${PROFILES}/${p.id}`), 200)).toEqual(res.body);
  });

  it("tolerates apps when they repeat the profile's; apps cannot change (service)", async () => {
    const p = await createOk();
    const same = await t.api.put(`${PROFILES}/${p.id}`).send({ ...profile(), apps: SANDBOX });
    expect(same.status).toBe(200);
    // only the sandbox app exists, so the API cannot name another one (400 above); the service refuses a change
    const other = { ...SANDBOX, payment: { id: UNKNOWN_ID } };
    const err = await replaceProfile(em(), p.id, { ...profile(), apps: other }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidError);
    expect((err as InvalidError).params).toEqual([
      { field: 'body.apps', reason: expect.stringMatching(/cannot change/) },
    ]);
    expect((await getProfile(em(), p.id)).apps).toEqual(SANDBOX);
  });

  it('validates the body as POST does (400 naming the field)', async () => {
    const p = await createOk();
    const res = await t.api.put(`${PROFILES}/${p.id}`).send({
      ...profile(),
      workflow: { payment: { collection_method: 'send_invoice', due_after: '30 days' } },
    });
    expect(res.status).toBe(400);
    expect(Object.keys(fieldsOf(res.body))).toEqual(['body.workflow.payment.due_after']);
  });

  it('default: true moves the default in one step; unsetting the default is 409', async () => {
    const [old] = await defaults();
    const p = await createOk();
    const moved = await ok(t.api.put(`${PROFILES}/${p.id}`).send(profile({ default: true })), 200);
    expect(moved.default).toBe(true);
    expect((await defaults()).map((d) => d.id)).toEqual([p.id]);

    const unset = await t.api.put(`${PROFILES}/${p.id}`).send(profile({ default: false }));
    expect(unset.status).toBe(409);
    expect(unset.body.detail).toMatch(/is the default profile .* another profile .*"default": true/);
    expect((await defaults()).map((d) => d.id)).toEqual([p.id]);
    // a PUT keeping it the default is fine
    await ok(t.api.put(`${PROFILES}/${p.id}`).send(profile({ default: true, name: 'still default' })), 200);

    await ok(t.api.put(`${PROFILES}/${old.id}`).send({ name: old.name, supplier: {}, default: true }), 200);
    expect((await defaults()).map((d) => d.id)).toEqual([old.id]);
  });

  it('404 unknown, 400 malformed id, 410 deleted', async () => {
    expect((await t.api.put(`${PROFILES}/${UNKNOWN_ID}`).send(profile())).status).toBe(404);
    expect((await t.api.put(`${PROFILES}/nope`).send(profile())).status).toBe(400);
    const p = await createOk();
    await ok(t.api.delete(`${PROFILES}/${p.id}`), 204);
    expect((await t.api.put(`${PROFILES}/${p.id}`).send(profile())).status).toBe(410);
    // making a deleted profile the default is refused too, and the default stays
    const [d] = await defaults();
    expect((await t.api.put(`${PROFILES}/${p.id}`).send(profile({ default: true }))).status).toBe(410);
    expect((await defaults()).map((x) => x.id)).toEqual([d.id]);
  });

  it('concurrent moves of the default leave exactly one default', async () => {
    const ps = await Promise.all([1, 2, 3, 4, 5].map((i) => createOk({ name: `racer ${i}` })));
    const [old] = await defaults();
    const results = await Promise.all([
      ...ps.slice(0, 3).map((p) => t.api.put(`${PROFILES}/${p.id}`).send(profile({ default: true }))),
      ...[1, 2].map((i) => create(profile({ name: `new racer ${i}`, default: true }))),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 201, 201]);
    const d = await defaults();
    expect(d).toHaveLength(1);
    expect(results.map((r) => r.body.id)).toContain(d[0].id);
    await ok(t.api.put(`${PROFILES}/${old.id}`).send({ name: old.name, supplier: {}, default: true }), 200);
  });
});

describe('DELETE /profiles/{id}', () => {
  it('soft-deletes (204): gone from the list, 410 afterwards, the row kept', async () => {
    const p = await createOk();
    await ok(t.api.delete(`${PROFILES}/${p.id}`), 204);
    expect((await list()).map((x) => x.id)).not.toContain(p.id);
    expect((await t.api.delete(`${PROFILES}/${p.id}`)).status).toBe(410);
    const [row] = await em().execute('select deleted_at from billing_profiles where id = ?', [p.id]);
    expect(row.deleted_at).not.toBeNull();
  });

  it('409 for the default profile; 404 unknown; 400 malformed', async () => {
    const [d] = await defaults();
    const res = await t.api.delete(`${PROFILES}/${d.id}`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/is the default profile and cannot be deleted/);
    expect(await defaults()).toEqual([d]);
    expect((await t.api.delete(`${PROFILES}/${UNKNOWN_ID}`)).status).toBe(404);
    expect((await t.api.delete(`${PROFILES}/nope`)).status).toBe(400);
  });

  it('409 while a live customer uses it; allowed once that customer moved or was deleted', async () => {
    const p = await createOk();
    const a = await customer('uses-profile-a');
    const b = await customer('uses-profile-b');
    for (const c of [a, b]) await ok(t.api.put(billingOf(c.id)).send({ billing_profile: { id: p.id } }), 200);
    const res = await t.api.delete(`${PROFILES}/${p.id}`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(
      /is used by customers .*PUT \/v3\/openmeter\/customers\/\{customerId\}\/billing/,
    );
    expect([...res.body.customers].sort()).toEqual([a.id, b.id].sort());

    await ok(t.api.put(billingOf(a.id)).send({}), 200);
    const still = await t.api.delete(`${PROFILES}/${p.id}`);
    expect(still.status).toBe(409);
    expect(still.body.customers).toEqual([b.id]);
    // a deleted customer does not hold the profile
    await ok(t.api.delete(`${P}/customers/${b.id}`), 204);
    await ok(t.api.delete(`${PROFILES}/${p.id}`), 204);
  });

  it('racing a customer that picks the profile: one of the two wins, never a customer on a deleted profile', async () => {
    for (let round = 0; round < 10; round++) {
      const p = await createOk({ name: `contested ${round}` });
      const c = await customer(`contender-${round}`);
      const [del, put] = await Promise.all([
        t.api.delete(`${PROFILES}/${p.id}`),
        t.api.put(billingOf(c.id)).send({ billing_profile: { id: p.id } }),
      ]);
      const outcome = `${del.status}/${put.status}`;
      expect(['204/400', '409/200']).toContain(outcome);
      const billing = await ok(t.api.get(billingOf(c.id)), 200);
      if (outcome === '409/200') expect(billing).toEqual({ billing_profile: { id: p.id } });
      else expect(billing).toEqual({});
    }
  });
});

describe('GET/PUT /customers/{customerId}/billing', () => {
  it('nothing set: {} (the default profile applies)', async () => {
    const c = await customer('billing-nothing');
    expect(await ok(t.api.get(billingOf(c.id)), 200)).toEqual({});
    expect(await ok(t.api.get(billingOf('billing-nothing')), 200)).toEqual({});
  });

  it('sets the profile and overrides (200), reads them back by id and key, clears them with {}', async () => {
    const p = await createOk();
    const c = await customer('billing-set');
    const body = {
      billing_profile: { id: p.id.toLowerCase() },
      workflow: {
        invoicing: { auto_advance: false },
        payment: { collection_method: 'send_invoice', due_after: 'P10D' },
        collection: {},
      },
    };
    const expected = {
      billing_profile: { id: p.id },
      workflow: {
        invoicing: { auto_advance: false },
        payment: { collection_method: 'send_invoice', due_after: 'P10D' },
      },
    };
    expect(await ok(t.api.put(billingOf(c.id)).send(body), 200)).toEqual(expected);
    expect(await ok(t.api.get(billingOf(c.id)), 200)).toEqual(expected);
    expect(await ok(t.api.get(billingOf('billing-set')), 200)).toEqual(expected);

    // overrides alone (default profile), then by key
    const only = { workflow: { collection: { interval: 'P1D' } } };
    expect(await ok(t.api.put(billingOf('billing-set')).send(only), 200)).toEqual(only);
    expect(await ok(t.api.get(billingOf(c.id)), 200)).toEqual(only);
    // the profile alone
    expect(
      await ok(t.api.put(billingOf(c.id)).send({ billing_profile: { id: p.id }, workflow: null }), 200),
    ).toEqual({
      billing_profile: { id: p.id },
    });
    expect(await ok(t.api.put(billingOf(c.id)).send({}), 200)).toEqual({});
    expect(await ok(t.api.get(billingOf(c.id)), 200)).toEqual({});
    const rows = await em().execute('select * from customer_billing_overrides where customer_id = ?', [c.id]);
    expect(rows).toEqual([]);
  });

  it('404 for an unknown customer, 410 for a deleted one (GET and PUT)', async () => {
    for (const ref of ['nobody-here', UNKNOWN_ID]) {
      expect((await t.api.get(billingOf(ref))).status).toBe(404);
      expect((await t.api.put(billingOf(ref)).send({})).status).toBe(404);
    }
    const c = await customer('billing-deleted');
    await ok(t.api.delete(`${P}/customers/${c.id}`), 204);
    for (const ref of [c.id, 'billing-deleted']) {
      const g = await t.api.get(billingOf(ref));
      expect(g.status).toBe(410);
      expect(g.body.detail).toBe(`customer ${ref} has been deleted`);
      expect((await t.api.put(billingOf(ref)).send({})).status).toBe(410);
    }
    // a new customer with the deleted one's key is live
    await customer('billing-deleted');
    expect(await ok(t.api.get(billingOf('billing-deleted')), 200)).toEqual({});
  });

  it.each<[string, Record<string, unknown>, Record<string, RegExp>]>([
    ['malformed profile id', { billing_profile: { id: 'default' } }, { 'body.billing_profile.id': /ULID/ }],
    [
      'unknown profile',
      { billing_profile: { id: UNKNOWN_ID } },
      { 'body.billing_profile.id': /no billing profile/ },
    ],
    ['profile without id', { billing_profile: {} }, { 'body.billing_profile.id': /./ }],
    [
      'negative draft period',
      { workflow: { invoicing: { draft_period: '-P1D' } } },
      { 'body.workflow.invoicing.draft_period': /negative/ },
    ],
    [
      'bad interval',
      { workflow: { collection: { interval: 'soon' } } },
      { 'body.workflow.collection.interval': /ISO-8601/ },
    ],
    [
      'due_after with charge_automatically',
      { workflow: { payment: { collection_method: 'charge_automatically', due_after: 'P1D' } } },
      { 'body.workflow.payment.due_after': /send_invoice only/ },
    ],
    [
      'bad alignment',
      {
        workflow: {
          collection: {
            alignment: {
              type: 'anchored',
              recurring_period: { anchor: '2026-01-01T00:00:00Z', interval: 'P0D' },
            },
          },
        },
      },
      { 'body.workflow.collection.alignment.recurring_period.interval': /longer than zero/ },
    ],
    [
      'unknown override',
      { workflow: { invoicing: { progressive: true } } },
      { 'body.workflow.invoicing.progressive': /not a known property/ },
    ],
  ])('400 naming the field: %s', async (_name, body, expected) => {
    const c = await customer(`billing-400-${_name.replace(/\W+/g, '-')}`);
    const res = await t.api.put(billingOf(c.id)).send(body);
    expect(res.status).toBe(400);
    const fields = fieldsOf(res.body);
    for (const [field, reason] of Object.entries(expected)) expect(fields[field]).toMatch(reason);
    expect(Object.keys(fields).sort()).toEqual(Object.keys(expected).sort());
    expect(await ok(t.api.get(billingOf(c.id)), 200)).toEqual({});
  });

  it("accepts OpenMeter's fields Tally does not act on, and ignores them", async () => {
    const p = await createOk({
      workflow: {
        invoicing: {
          auto_advance: false,
          progressive_billing: true,
          subscription_end_proration_mode: 'bill_full_period',
        },
        tax: { enabled: true, enforced: false, default_tax_config: { behavior: 'exclusive' } },
      },
    });
    expect(p.workflow.invoicing).toEqual({ auto_advance: false, draft_period: 'P0D' });
    expect(p.workflow).not.toHaveProperty('tax');
    const c = await customer('billing-openmeter-app-data');
    const res = await ok(
      t.api.put(billingOf(c.id)).send({
        billing_profile: { id: p.id },
        app_data: { stripe: { customer_id: 'cus_1' }, external_invoicing: { labels: { a: 'b' } } },
      }),
      200,
    );
    expect(res).toEqual({ billing_profile: { id: p.id } });
  });

  it('400 for a deleted profile', async () => {
    const p = await createOk();
    await ok(t.api.delete(`${PROFILES}/${p.id}`), 204);
    const c = await customer('billing-deleted-profile');
    const res = await t.api.put(billingOf(c.id)).send({ billing_profile: { id: p.id } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual({ 'body.billing_profile.id': 'the billing profile has been deleted' });
  });
});

describe('resolveCustomerBilling (what billing snapshots on an invoice)', () => {
  it('a customer with nothing set gets the default profile', async () => {
    const c = await customer('resolve-default');
    const [d] = await defaults();
    expect(await resolveCustomerBilling(em(), c.id)).toEqual({
      profile_id: d.id,
      supplier: d.supplier,
      workflow: d.workflow,
      apps: d.apps,
    });
    // its id in lower case too
    expect((await resolveCustomerBilling(em(), c.id.toLowerCase())).profile_id).toBe(d.id);
  });

  it("the customer's profile with its overrides applied; a profile edit shows in the next resolution", async () => {
    const p = await createOk({
      supplier: { name: 'Tally Ltd', email: 'ar@tally.test' },
      workflow: {
        collection: { interval: 'PT2H' },
        invoicing: { auto_advance: true, draft_period: 'P1D' },
        payment: { collection_method: 'send_invoice', due_after: 'P14D' },
      },
    });
    const c = await customer('resolve-overrides');
    await ok(
      t.api.put(billingOf(c.id)).send({
        billing_profile: { id: p.id },
        workflow: { invoicing: { auto_advance: false }, payment: { collection_method: 'send_invoice' } },
      }),
      200,
    );
    expect(await resolveCustomerBilling(em(), c.id)).toEqual({
      profile_id: p.id,
      supplier: { name: 'Tally Ltd', email: 'ar@tally.test' },
      workflow: {
        collection: { alignment: { type: 'subscription' }, interval: 'PT2H' },
        invoicing: { auto_advance: false, draft_period: 'P1D' },
        payment: { collection_method: 'send_invoice', due_after: 'P14D' },
      },
      apps: SANDBOX,
    });

    await ok(
      t.api.put(`${PROFILES}/${p.id}`).send({
        name: 'edited',
        supplier: { name: 'Tally Ltd (new address)' },
        workflow: { payment: { collection_method: 'send_invoice', due_after: 'P21D' } },
        default: false,
      }),
      200,
    );
    const after = await resolveCustomerBilling(em(), c.id);
    expect(after.supplier).toEqual({ name: 'Tally Ltd (new address)' });
    expect(after.workflow).toEqual({
      collection: { alignment: { type: 'subscription' }, interval: 'PT1H' },
      invoicing: { auto_advance: false, draft_period: 'P0D' },
      payment: { collection_method: 'send_invoice', due_after: 'P21D' },
    });
  });

  it('overrides on the default profile; the default moving moves customers that named no profile', async () => {
    const c = await customer('resolve-moving-default');
    await ok(t.api.put(billingOf(c.id)).send({ workflow: { collection: { interval: 'P1D' } } }), 200);
    const [old] = await defaults();
    const r1 = await resolveCustomerBilling(em(), c.id);
    expect(r1.profile_id).toBe(old.id);
    expect(r1.workflow.collection.interval).toBe('P1D');
    expect(r1.workflow.invoicing).toEqual(old.workflow.invoicing);

    const next = await createOk({
      name: 'next default',
      default: true,
      workflow: { invoicing: { draft_period: 'PT5M' } },
    });
    const r2 = await resolveCustomerBilling(em(), c.id);
    expect(r2.profile_id).toBe(next.id);
    expect(r2.workflow).toEqual({
      collection: { alignment: { type: 'subscription' }, interval: 'P1D' },
      invoicing: { auto_advance: true, draft_period: 'PT5M' },
      payment: { collection_method: 'charge_automatically' },
    });
    await ok(
      t.api
        .put(`${PROFILES}/${old.id}`)
        .send({ name: old.name, supplier: {}, workflow: old.workflow, default: true }),
      200,
    );
  });

  it('a deleted customer still resolves (its final invoice); once its profile is deleted, to the default', async () => {
    const p = await createOk({ supplier: { name: 'Old supplier' } });
    const c = await customer('resolve-deleted-customer');
    await ok(t.api.put(billingOf(c.id)).send({ billing_profile: { id: p.id } }), 200);
    await ok(t.api.delete(`${P}/customers/${c.id}`), 204);
    expect((await resolveCustomerBilling(em(), c.id)).profile_id).toBe(p.id);
    await ok(t.api.delete(`${PROFILES}/${p.id}`), 204);
    const [d] = await defaults();
    expect((await resolveCustomerBilling(em(), c.id)).profile_id).toBe(d.id);
  });
});
