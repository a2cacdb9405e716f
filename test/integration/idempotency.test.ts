/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Idempotency-Key on POST (Stripe's semantics), through the real API and PostgreSQL: replay, another body or
 * path (422), a repeat while the first runs (409), concurrent identical requests (the handler runs once),
 * 5xx not stored, expiry and purge, scoping per token.
 */
import express from 'express';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { idempotency, MAX_STORED_BODY } from '../../src/api/idempotency';
import { errorHandler } from '../../src/api/problem';
import { purgeExpired } from '../../src/idempotency/service';
import { createTestApp, TEST_TOKEN, type TestApp } from '../support/app';
import { P } from '../support/api';

const OTHER_TOKEN = 'other-token-0123456789abcdefghijklmnop';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ config: { TALLY_API_TOKENS: `${TEST_TOKEN},${OTHER_TOKEN}` } });
});
afterAll(async () => {
  await app?.close();
});

const sql = <T = any>(q: string, params: unknown[] = []) => app.deps.orm.em.fork().execute<T[]>(q, params);

const createCustomer = (key: string, body: Record<string, unknown>) =>
  app.api.post(`${P}/customers`).set('Idempotency-Key', key).send(body);

async function customersWithKey(key: string): Promise<number> {
  const [r] = await sql<{ n: number }>('select count(*)::int as n from customers where key = ?', [key]);
  return r.n;
}

async function keyRow(key: string) {
  const [r] = await sql(
    'select state, response_status, expires_at, created_at from idempotency_keys where key = ?',
    [key],
  );
  return r;
}

describe('replay', () => {
  it('same key and body: the first response again, with Idempotent-Replayed, and no second customer', async () => {
    const body = { key: 'replay-1', name: 'Replay One', currency: 'USD', labels: { a: '1', b: '2' } };
    const first = await createCustomer('k-replay-1', body).expect(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await keyRow('k-replay-1')).toMatchObject({ state: 'done', response_status: 201 });

    const again = await createCustomer('k-replay-1', body).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    expect(again.body).toEqual(first.body);
    expect(await customersWithKey('replay-1')).toBe(1);

    // the same body spelled otherwise (key order) is the same request
    const reordered = { labels: { b: '2', a: '1' }, currency: 'USD', name: 'Replay One', key: 'replay-1' };
    const third = await createCustomer('k-replay-1', reordered).expect(201);
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(third.body.id).toBe(first.body.id);

    // without the header the request runs: the key is taken, as the domain says
    const plain = await app.api.post(`${P}/customers`).send(body).expect(409);
    expect(plain.body.detail).toMatch(/replay-1/);
  });

  it('a 4xx answer is stored and replayed too', async () => {
    const bad = { key: 'bad-1' }; // no name
    const first = await createCustomer('k-bad-1', bad).expect(400);
    const again = await createCustomer('k-bad-1', bad).expect(400);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('keys are per token: another token with the same key runs its own request', async () => {
    const body = { key: 'per-token', name: 'Per token', currency: 'USD' };
    await createCustomer('k-shared', body).expect(201);
    const other = await app.raw
      .post(`${P}/customers`)
      .set('Authorization', `Bearer ${OTHER_TOKEN}`)
      .set('Idempotency-Key', 'k-shared')
      .send(body)
      .expect(409); // it ran: the customer key is taken
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    const rows = await sql<{ n: number }>(
      "select count(*)::int as n from idempotency_keys where key = 'k-shared'",
    );
    expect(rows[0].n).toBe(2);
    // tokens are not stored, only their digests
    const ids = await sql<{ identity: string }>(
      "select identity from idempotency_keys where key = 'k-shared'",
    );
    for (const { identity } of ids) {
      expect(identity).toMatch(/^[0-9a-f]{64}$/);
      expect(identity).not.toContain(TEST_TOKEN);
    }
  });

  it('GET ignores the header; a POST without it is not recorded', async () => {
    await app.api.get(`${P}/customers`).set('Idempotency-Key', 'k-get').expect(200);
    await app.api.post(`${P}/customers`).send({ key: 'no-header', name: 'No header' }).expect(201);
    const [r] = await sql<{ n: number }>('select count(*)::int as n from idempotency_keys where key = ?', [
      'k-get',
    ]);
    expect(r.n).toBe(0);
  });
});

describe('misuse', () => {
  it('same key, another body: 422 problem, nothing runs', async () => {
    await createCustomer('k-other-body', { key: 'ob-1', name: 'First' }).expect(201);
    const res = await createCustomer('k-other-body', { key: 'ob-2', name: 'Second' }).expect(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 422, detail: expect.stringMatching(/another request body/) });
    expect(await customersWithKey('ob-2')).toBe(0);
  });

  it('same key on another path: 422 naming the first request', async () => {
    await createCustomer('k-other-path', { key: 'op-1', name: 'First' }).expect(201);
    const res = await app.api
      .post(`${P}/meters`)
      .set('Idempotency-Key', 'k-other-path')
      .send({ key: 'op_meter', name: 'M', aggregation: 'count', event_type: 'x' })
      .expect(422);
    expect(res.body.detail).toContain(`POST ${P}/customers`);
    const meters = await sql<{ n: number }>("select count(*)::int as n from meters where key = 'op_meter'");
    expect(meters[0].n).toBe(0);
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(256)],
    ['not ASCII', 'clé'],
  ])('a key that is %s: 400', async (_what, key) => {
    const res = await createCustomer(key, { key: `bad-key-${key.length}`, name: 'x' }).expect(400);
    expect(res.body.detail).toMatch(/Idempotency-Key must be 1 to 255 printable ASCII characters/);
  });

  it('a 255-character key is accepted', async () => {
    await createCustomer('k'.repeat(255), { key: 'long-key', name: 'Long key' }).expect(201);
  });
});

describe('concurrency', () => {
  it('a repeat while the first request runs: 409; after it, the replay', async () => {
    // hold the first request inside its handler: another session locks the customers table
    const blocker = new PgClient({ connectionString: app.db.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table customers in exclusive mode');
      const body = { key: 'slow-1', name: 'Slow' };
      const first = createCustomer('k-slow', body).then((r) => r);
      // the first request holds the key
      for (let i = 0; i < 200 && !(await keyRow('k-slow')); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await keyRow('k-slow')).toMatchObject({ state: 'running' });

      const during = await createCustomer('k-slow', body).expect(409);
      expect(during.headers['retry-after']).toBe('1');
      expect(during.body.detail).toMatch(/has not finished/);
      // another body is still a misuse, even while it runs
      await createCustomer('k-slow', { key: 'slow-2', name: 'Other' }).expect(422);

      await blocker.query('commit');
      const done = await first;
      expect(done.status).toBe(201);
      const after = await createCustomer('k-slow', body).expect(201);
      expect(after.headers['idempotent-replayed']).toBe('true');
      expect(after.body.id).toBe(done.body.id);
    } finally {
      await blocker.end();
    }
  });

  it('concurrent identical requests run the handler once', async () => {
    const body = { key: 'race-1', name: 'Race' };
    const results = await Promise.all(Array.from({ length: 10 }, () => createCustomer('k-race', body)));
    const created = results.filter((r) => r.status === 201 && !r.headers['idempotent-replayed']);
    const replayed = results.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === 'true');
    const inFlight = results.filter((r) => r.status === 409 && /has not finished/.test(r.body.detail));
    // a second run of the handler would answer the domain's 409 (the customer key exists): none did
    expect(created).toHaveLength(1);
    expect(replayed.length + inFlight.length).toBe(9);
    for (const r of replayed) expect(r.body.id).toBe(created[0].body.id);
    expect(await customersWithKey('race-1')).toBe(1);
  });
});

describe('failures and expiry', () => {
  it('a 5xx answer is not stored: the key can be retried and then succeeds', async () => {
    const body = { key: 'after-outage', name: 'After outage' };
    await sql('alter table customers rename to customers_away');
    let failed: request.Response;
    try {
      failed = await createCustomer('k-5xx', body);
    } finally {
      await sql('alter table customers_away rename to customers');
    }
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(await keyRow('k-5xx')).toBeUndefined();
    const retried = await createCustomer('k-5xx', body).expect(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await customersWithKey('after-outage')).toBe(1);
  });

  it('the key is kept the TTL (default P1D) after the response; once expired it runs again', async () => {
    const body = { key: 'expiring', name: 'Expiring' };
    await createCustomer('k-expire', body).expect(201);
    const [{ hours }] = await sql<{ hours: number }>(
      "select extract(epoch from expires_at - now()) / 3600 as hours from idempotency_keys where key = 'k-expire'",
    );
    expect(Number(hours)).toBeGreaterThan(23.9);
    expect(Number(hours)).toBeLessThanOrEqual(24);

    await sql("update idempotency_keys set expires_at = now() - interval '1 second' where key = 'k-expire'");
    // the request runs again (the customer exists now: the domain's own 409), and holds the key anew
    const again = await createCustomer('k-expire', body).expect(409);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.detail).toMatch(/expiring/);
    expect(await keyRow('k-expire')).toMatchObject({ state: 'done', response_status: 409 });
  });

  it('expired keys are purged, the others kept', async () => {
    await createCustomer('k-purge-old', { key: 'purge-old', name: 'Old' }).expect(201);
    await createCustomer('k-purge-new', { key: 'purge-new', name: 'New' }).expect(201);
    await sql("update idempotency_keys set expires_at = now() - interval '1 hour' where key = 'k-purge-old'");
    // a fresh API process purges on its first keyed request
    const fresh = request(createApp(app.deps));
    await fresh
      .post(`${P}/customers`)
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .set('Idempotency-Key', 'k-purge-trigger')
      .send({ key: 'purge-trigger', name: 'Trigger' })
      .expect(201);
    for (let i = 0; i < 100 && (await keyRow('k-purge-old')); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await keyRow('k-purge-old')).toBeUndefined();
    expect(await keyRow('k-purge-new')).toMatchObject({ state: 'done' });
    // and the service does it on demand
    await sql("update idempotency_keys set expires_at = now() - interval '1 hour' where key = 'k-purge-new'");
    expect(await purgeExpired(app.deps.orm.em.fork())).toBe(1);
    expect(await keyRow('k-purge-new')).toBeUndefined();
  });
});

describe('what the middleware stores (its own express app, the real table)', () => {
  let calls: Record<string, number>;
  let agent: ReturnType<typeof request>;

  beforeAll(() => {
    calls = {};
    const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
    const x = express();
    x.use(express.json());
    x.use(idempotency(app.deps));
    x.post('/stream', (_req, res) => {
      const n = count('stream');
      res.type('text/plain');
      res.write('a');
      res.write(Buffer.from('b'));
      res.end(`c${n}`);
    });
    x.post('/big', (_req, res) => {
      count('big');
      res.type('text/plain').send('x'.repeat(MAX_STORED_BODY + 1));
    });
    x.post('/empty', (_req, res) => {
      count('empty');
      res.status(204).end();
    });
    x.post('/created', (_req, res) => {
      const n = count('created');
      res.status(201).location(`/things/${n}`).json({ n });
    });
    x.post('/boom', () => {
      count('boom');
      throw new Error('boom');
    });
    x.use(errorHandler);
    agent = request(x);
  });

  const post = (path: string, key: string) =>
    agent.post(path).set('Authorization', `Bearer ${TEST_TOKEN}`).set('Idempotency-Key', key).send({ a: 1 });

  it('a body written in parts is stored whole', async () => {
    expect((await post('/stream', 'm-stream').expect(200)).text).toBe('abc1');
    const again = await post('/stream', 'm-stream').expect(200);
    expect(again.text).toBe('abc1');
    expect(again.headers['content-type']).toMatch(/^text\/plain/);
    expect(calls.stream).toBe(1);
  });

  it('Location is replayed with the status', async () => {
    await post('/created', 'm-created').expect(201);
    const again = await post('/created', 'm-created').expect(201);
    expect(again.headers.location).toBe('/things/1');
    expect(again.body).toEqual({ n: 1 });
    expect(calls.created).toBe(1);
  });

  it('an empty 204 is replayed', async () => {
    await post('/empty', 'm-empty').expect(204);
    const again = await post('/empty', 'm-empty').expect(204);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(calls.empty).toBe(1);
  });

  it('a body larger than MAX_STORED_BODY is not stored: the key is released', async () => {
    await post('/big', 'm-big').expect(200);
    expect(await keyRow('m-big')).toBeUndefined();
    await post('/big', 'm-big').expect(200);
    expect(calls.big).toBe(2);
  });

  it('a thrown error (500) releases the key', async () => {
    await post('/boom', 'm-boom').expect(500);
    await post('/boom', 'm-boom').expect(500);
    expect(calls.boom).toBe(2);
    expect(await keyRow('m-boom')).toBeUndefined();
  });
});
