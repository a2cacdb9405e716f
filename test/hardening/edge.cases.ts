/**
 * Issue 9, items 7, 8 and 12 (the HTTP edge): hostile input, outages, authentication.
 * Imported by test/integration/hardening.test.ts.
 */
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { FailureLimiter, matchesAny } from '../../src/api/auth';
import { buildOpenApiDocument } from '../../src/api/openapi';
import { loadConfig } from '../../src/config';
import { createOrm, migrate } from '../../src/db/orm';
import { logger } from '../../src/lib/logger';
import { routers, unauthenticatedRouters } from '../../src/api/routers';
import { encodeCursor } from '../../src/metering/service';
import { apiConnectionOptions } from '../../src/temporal/client';
import { ensurePostgres } from '../../scripts/lib/postgres';
import { freePort } from '../../scripts/lib/net';
import { createTestApp, TEST_TOKEN, type TestApp } from '../support/app';
import { defaultPhase, fixtures, flatFeeRateCard, P } from '../support/api';
import { createHarness } from '../support/harness';

interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** express path, e.g. /customers/:customerIdOrKey */
  path: string;
  params: string[];
}

/** every route the modules mount, as express sees them */
function mountedRoutes(app: TestApp, list = routers): Route[] {
  const out: Route[] = [];
  for (const r of list) {
    const router = r.routes(app.deps) as unknown as {
      stack: { route?: { path: string; methods: Record<string, boolean> } }[];
    };
    for (const layer of router.stack) {
      if (!layer.route) continue;
      const params = [...layer.route.path.matchAll(/:(\w+)/g)].map((x) => x[1]);
      for (const method of Object.keys(layer.route.methods)) {
        out.push({ method: method as Route['method'], path: layer.route.path, params });
      }
    }
  }
  return out;
}

const fill = (r: Route, bad?: string) =>
  P + r.path.replace(/:(\w+)/g, (_m, name: string) => (name === bad ? '%00' : '01ARZ3NDEKTSV4RRFFQ69G5FAV'));

const fields = (res: request.Response): string[] =>
  ((res.body?.invalid_parameters ?? []) as { field: string }[]).map((p) => p.field);

function expect400(res: request.Response, field: string, what: string): void {
  const got = { what, status: res.status, type: res.headers['content-type'], fields: fields(res) };
  expect(got).toEqual({
    what,
    status: 400,
    type: expect.stringMatching(/^application\/problem\+json/),
    fields: expect.arrayContaining([field]),
  });
}

const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('9.7 / 9.12 the edge (one app, no Temporal)', () => {
  let app: TestApp;
  let routes: Route[];
  beforeAll(async () => {
    app = await createTestApp();
    routes = mountedRoutes(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  const send = (r: Route, url: string) => app.api[r.method](url);

  it('9.7 the route list is complete (every documented API path is mounted)', () => {
    expect(routes.length).toBeGreaterThan(20);
    const documented = Object.keys(buildOpenApiDocument().paths ?? {}).filter((p) => p.startsWith(P));
    // with the callbacks that authenticate by their own signatures (the Stripe webhook: raw bytes, no JSON
    // edge checks; a tampered body fails its signature)
    const all = [...routes, ...mountedRoutes(app, unauthenticatedRouters)];
    const mounted = new Set(all.map((r) => P + r.path.replace(/:\w+/g, '{}')));
    expect(documented.map((p) => p.replace(/\{[^}]+\}/g, '{}')).filter((p) => !mounted.has(p))).toEqual([]);
  });

  it('9.7 %00 in each path parameter of every route is a 400 naming path.<param>', async () => {
    let checked = 0;
    for (const r of routes) {
      for (const param of r.params) {
        const res = await send(r, fill(r, param)).set('Content-Type', 'application/json').send('{}');
        expect400(res, `path.${param}`, `${r.method} ${r.path} (${param})`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('9.7 NUL in a query filter (value and key) of every route is a 400 naming query.filter[...]', async () => {
    for (const r of routes) {
      const url = fill(r);
      expect400(await send(r, `${url}?filter[key]=a%00b`), 'query.filter[key]', `${r.method} ${r.path}`);
      expect400(
        await send(r, `${url}?filter[k%00]=1`),
        'query.filter[k\\u0000]',
        `${r.method} ${r.path} key`,
      );
    }
    expect400(
      await app.api.get(`${P}/meters?filter[key]=%00`),
      'query.filter[key]',
      'the issue reproduction',
    );
  });

  it('9.7 NUL or an unpaired surrogate in a body string or key of every route is a 400 naming the field', async () => {
    for (const r of routes) {
      const url = fill(r);
      const what = `${r.method} ${r.path}`;
      const json = (body: string) => send(r, url).set('Content-Type', 'application/json').send(body);
      expect400(await json('{"name":"a\\u0000b"}'), 'body.name', what);
      expect400(await json('{"customer":{"keys":["ok","a\\u0000b"]}}'), 'body.customer.keys[1]', what);
      expect400(await json('{"name":"\\ud800x"}'), 'body.name', `${what} (surrogate)`);
      expect400(await json('{"config":{"a\\u0000":1}}'), 'body.config["a\\u0000"]', `${what} (key)`);
    }
  });

  it('9.7 a body nested 10,000 levels deep is a 400 on every route; the documented 64 levels pass the check', async () => {
    for (const r of routes) {
      const res = await send(r, fill(r)).set('Content-Type', 'application/json').send(nested(10_000));
      expect400(res, `body${'.a'.repeat(64)}`, `${r.method} ${r.path}`);
      expect(res.body.invalid_parameters[0].reason).toMatch(/deeper than 64/);
    }
    // 64 levels is within the limit: the route's own validation answers (not the depth check)
    const ok = await app.api.post(`${P}/customers`).set('Content-Type', 'application/json').send(nested(64));
    expect(ok.status).toBe(400);
    expect(JSON.stringify(ok.body)).not.toMatch(/deeper than/);
  });

  it('9.7 event batches: NUL and depth are named by index and field (fast path included)', async () => {
    const ev = (i: number, data: string) =>
      `{"specversion":"1.0","id":"e${i}","source":"s","type":"t","subject":"c","data":${data}}`;
    const batch = (data: string) =>
      app.api
        .post(`${P}/events`)
        .set('Content-Type', 'application/cloudevents-batch+json')
        .send(`[${[0, 1, 2].map((i) => ev(i, '{"v":1}')).join(',')},${ev(3, data)}]`);
    expect400(await batch('{"v":"a\\u0000"}'), 'body[3].data.v', 'NUL in data');
    expect400(await batch(nested(10_000)), `body[3].data${'.a'.repeat(62)}`, 'deep data');
    // a static entitlement's config, 10,000 levels deep
    const card = `{"key":"f","name":"F","price":null,"entitlement":{"type":"static","config":${nested(10_000)}}}`;
    const plan = `{"key":"p","name":"P","currency":"USD","billing_cadence":"P1M",
      "phases":[{"key":"d","name":"D","rate_cards":[${card}]}]}`;
    const deepConfig = await app.api.post(`${P}/plans`).set('Content-Type', 'application/json').send(plan);
    expect400(
      deepConfig,
      `body.phases[0].rate_cards[0].entitlement.config${'.a'.repeat(58)}`,
      'static entitlement config',
    );
    // a clean batch is still accepted
    await app.api
      .post(`${P}/events`)
      .set('Content-Type', 'application/cloudevents-batch+json')
      .send(`[${ev(10, '{"v":1}')},${ev(11, '{"v":"x","w":[1,[2,[3]]]}')}]`)
      .expect(202);
  });

  it('9.7 forged or invalid cursors and page numbers on every paginated list are a 400 naming the field', async () => {
    const doc = buildOpenApiDocument();
    const lists: { path: string; cursor: boolean }[] = [];
    for (const [p, item] of Object.entries(doc.paths ?? {})) {
      const params = ((item as { get?: { parameters?: { name: string }[] } }).get?.parameters ?? []).map(
        (x) => x.name,
      );
      if (params.some((n) => n.startsWith('page['))) {
        lists.push({
          path: p.replace(/\{[^}]+\}/g, '01ARZ3NDEKTSV4RRFFQ69G5FAV'),
          cursor: params.includes('page[after]'),
        });
      }
    }
    expect(lists.length).toBeGreaterThanOrEqual(6);
    expect(lists.filter((l) => l.cursor).length).toBeGreaterThanOrEqual(1);
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
    const forged = [
      b64('["2024-02-30T00:00:00Z","s","i"]'), // impossible date
      b64('["0000-01-01T00:00:00Z","s","i"]'), // year 0
      b64('["2024-01-01T25:00:00Z","s","i"]'),
      b64('["2024-01-01T00:00:00Z","a\\u0000","i"]'), // NUL in the source
      b64('["2024-01-01T00:00:00Z","s","\\ud800"]'), // unpaired surrogate in the id
      b64(`["2024-01-01T00:00:00Z","${'s'.repeat(5000)}","i"]`),
      `${encodeCursor({ time: '2024-01-01T00:00:00Z', source: 's', id: 'i' })}!!`, // not base64url
      'not-a-cursor',
    ];
    for (const l of lists) {
      for (const [q, field] of [
        ['page[number]=%00', 'query.page[number]'],
        ['page[size]=%00', 'query.page[size]'],
        ['page[size]=1e400', 'query.page[size]'],
        ['page[number]=1e400', 'query.page[number]'],
        ['page[size]=0', 'query.page[size]'],
      ] as const) {
        if (l.cursor && q.startsWith('page[number]')) continue;
        expect400(await app.api.get(`${l.path}?${q}`), field, `${l.path}?${q}`);
      }
      if (!l.cursor) continue;
      expect400(await app.api.get(`${l.path}?page[after]=%00`), 'query.page[after]', `${l.path} %00`);
      for (const c of forged) {
        expect400(await app.api.get(`${l.path}?page[after]=${c}`), 'query.page[after]', `${l.path} ${c}`);
      }
      // a real cursor still pages
      const real = encodeCursor({ time: '2024-01-01T00:00:00.123456Z', source: 's', id: 'i' });
      expect((await app.api.get(`${l.path}?page[after]=${real}`)).status).toBe(200);
    }
  });

  it('9.12 every API answer is nosniff and no-store, errors included', async () => {
    const answers = [
      await app.api.get(`${P}/meters`),
      await app.raw.get(`${P}/meters`),
      await app.api.get(`${P}/no-such-route`),
      await app.api.get(`${P}/meters?filter[key]=%00`),
      await app.api.get(`${P}/openapi.json`),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 401, 404, 400, 200]);
    for (const a of answers) {
      expect([a.headers['x-content-type-options'], a.headers['cache-control']]).toEqual([
        'nosniff',
        'no-store',
      ]);
    }
  });
});

describe('9.12 authentication', () => {
  it('9.12 / 9.8 the OpenAPI document lists 400, 401, 429 and 503 (with Retry-After) on every API operation', () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
      components: { responses: Record<string, { headers?: Record<string, unknown> }> };
    };
    const missing: string[] = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      if (!p.startsWith(`${P}/`)) continue;
      for (const [m, op] of Object.entries(item)) {
        if (!['get', 'put', 'post', 'delete', 'patch'].includes(m)) continue;
        for (const s of ['400', '401', '429', '503']) if (!op.responses?.[s]) missing.push(`${m} ${p} ${s}`);
        const unavailable = op.responses?.['503'] as { $ref?: string } | undefined;
        if (unavailable?.$ref !== '#/components/responses/Unavailable')
          missing.push(`${m} ${p} 503 Retry-After`);
      }
    }
    expect(missing).toEqual([]);
    expect(Object.keys(doc.components.responses.TooManyRequests?.headers ?? {})).toEqual(['Retry-After']);
    expect(Object.keys(doc.components.responses.Unavailable?.headers ?? {})).toEqual(['Retry-After']);
  });

  it('9.12 refuses to start with a token shorter than 32 characters, saying why', () => {
    expect(() => loadConfig({ TALLY_API_TOKENS: `${'x'.repeat(40)},short-token` })).toThrow(
      /TALLY_API_TOKENS: token #2 has 11 characters; each token needs at least 32 so that it cannot be guessed/,
    );
    expect(() => loadConfig({ TALLY_API_TOKENS: 'x'.repeat(31) })).toThrow(/at least 32/);
    expect(loadConfig({ TALLY_API_TOKENS: 'x'.repeat(32) }).TALLY_API_TOKENS).toEqual(['x'.repeat(32)]);
  });

  it('9.12 compares SHA-256 digests in constant time against every token, whatever the length or match', () => {
    const tokens = ['a'.repeat(32), 'b'.repeat(40), 'c'.repeat(64)];
    const digests = tokens.map((t) => crypto.createHash('sha256').update(t).digest());
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      for (const [candidate, expected] of [
        ['a'.repeat(32), true], // first token: still compared with all three
        ['c'.repeat(64), true],
        ['x', false], // other length
        ['a'.repeat(31) + 'b', false], // same length, last character wrong
        ['', false],
      ] as const) {
        spy.mockClear();
        expect(matchesAny(digests, candidate)).toBe(expected);
        expect(spy).toHaveBeenCalledTimes(3);
        for (const [x, y] of spy.mock.calls) expect([x.byteLength, y.byteLength]).toEqual([32, 32]);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('9.12 the failure limiter counts per client and window, and its memory stays bounded', () => {
    let now = 0;
    const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 10_000 }, 3, () => now);
    limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(0);
    limiter.fail('a');
    expect(limiter.blockedFor('a')).toBe(10);
    now = 9_001;
    expect(limiter.blockedFor('a')).toBe(1);
    now = 10_000;
    expect(limiter.blockedFor('a')).toBe(0); // a new window
    // a flood of addresses: at most 3 remembered, the oldest dropped first
    limiter.fail('b');
    limiter.fail('b');
    for (const c of ['c', 'd', 'e']) limiter.fail(c);
    expect(limiter.size).toBe(3);
    expect(limiter.blockedFor('b')).toBe(0);
  });

  it('9.12 limits failed authentications per client: 429 with Retry-After, then lets it in again', async () => {
    const app = await createTestApp({
      config: { TALLY_AUTH_MAX_FAILURES: '3', TALLY_AUTH_WINDOW_S: '2', TALLY_TRUST_PROXY: 'true' },
    });
    try {
      const from = (ip: string, token: string) =>
        app.raw.get(`${P}/meters`).set('X-Forwarded-For', ip).set('Authorization', `Bearer ${token}`);
      for (let i = 0; i < 3; i++) expect((await from('10.0.0.1', `wrong-${i}`)).status).toBe(401);
      const blocked = await from('10.0.0.1', 'wrong-4');
      expect(blocked.status).toBe(429);
      expect(blocked.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(blocked.body.detail).toMatch(/too many failed authentications/);
      // while blocked, guessing right does not help (else the limit would not limit guessing)
      expect((await from('10.0.0.1', TEST_TOKEN)).status).toBe(429);
      // another client is not affected
      expect((await from('10.0.0.2', TEST_TOKEN)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await from('10.0.0.1', TEST_TOKEN)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

// what pg, knex and gRPC say (case matters: our own 'unavailable' is fine)
const DRIVER_TEXT =
  /ECONNREFUSED|ECONNRESET|connect|Connection|127\.0\.0\.1|::1|terminat|postgres:\/\/|UNAVAILABLE|Knex|timeout/;

describe('9.8 outages answer 503 quickly', () => {
  it('9.8 PostgreSQL stopped: routes answer 503 with Retry-After within seconds; /readyz names it without driver text', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tally-outage-pg-'));
    chmodSync(dir, 0o755);
    const port = await freePort();
    let pg = await ensurePostgres({ dataDir: dir, port, database: 'tally_outage' });
    const orm = await createOrm(pg.url, 4);
    try {
      await migrate(orm);
      const config = loadConfig({ DATABASE_URL: pg.url, TALLY_API_TOKENS: TEST_TOKEN, LOG_LEVEL: 'silent' });
      const app = createApp({ config, orm, logger });
      const get = (u: string) => request(app).get(u).set('Authorization', `Bearer ${TEST_TOKEN}`);
      const post = (u: string, body: unknown) =>
        request(app)
          .post(u)
          .set('Authorization', `Bearer ${TEST_TOKEN}`)
          .send(body as object);
      expect((await get(`${P}/meters`)).status).toBe(200);

      await pg.stop();
      const calls: [string, () => request.Test][] = [
        ['GET /meters', () => get(`${P}/meters`)],
        ['GET /customers', () => get(`${P}/customers`)],
        ['POST /customers', () => post(`${P}/customers`, { key: 'k', name: 'n', currency: 'USD' })],
        [
          'POST /events',
          () => post(`${P}/events`, { specversion: '1.0', id: '1', source: 's', type: 't', subject: 'c' }),
        ],
      ];
      for (const [what, call] of calls) {
        const t0 = Date.now();
        const res = await call();
        const ms = Date.now() - t0;
        console.log(`9.8 PostgreSQL stopped: ${what} answered ${res.status} in ${ms} ms`);
        expect({ what, status: res.status, retry: res.headers['retry-after'], fast: ms < 6000 }).toEqual({
          what,
          status: 503,
          retry: expect.stringMatching(/^\d+$/),
          fast: true,
        });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.body.detail).toMatch(/database is unavailable/);
        expect(JSON.stringify(res.body)).not.toMatch(DRIVER_TEXT);
      }
      const t0 = Date.now();
      const ready = await request(app).get('/readyz');
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(ready.status).toBe(503);
      expect(ready.headers['retry-after']).toMatch(/^\d+$/);
      expect(ready.body).toEqual({
        status: 'unavailable',
        checks: { postgres: 'unavailable', temporal: 'not configured' },
        unavailable: ['postgres', 'temporal'],
      });
      expect(JSON.stringify(ready.body)).not.toMatch(DRIVER_TEXT);

      // PostgreSQL back: the same app recovers without a restart
      pg = await ensurePostgres({ dataDir: dir, port, database: 'tally_outage' });
      expect((await get(`${P}/meters`)).status).toBe(200);
    } finally {
      await orm.close(true).catch(() => undefined);
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('9.8 PostgreSQL pool exhausted (or a connection that never opens): 503 after the acquire timeout, not a hang', async () => {
    const db = await createTestApp();
    const orm = await createOrm(db.db.url, 1, 500); // one connection, 0.5 s acquire timeout
    try {
      const config = loadConfig({
        DATABASE_URL: db.db.url,
        TALLY_API_TOKENS: TEST_TOKEN,
        LOG_LEVEL: 'silent',
      });
      const app = createApp({ config, orm, logger });
      // the only connection is busy for 4 s
      const busy = orm.em.getConnection().execute('select pg_sleep(4)');
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      const res = await request(app).get(`${P}/meters`).set('Authorization', `Bearer ${TEST_TOKEN}`);
      const ms = Date.now() - t0;
      console.log(`9.8 pool exhausted: GET /meters answered ${res.status} in ${ms} ms`);
      expect([res.status, res.headers['retry-after']]).toEqual([503, expect.stringMatching(/^\d+$/)]);
      expect(ms).toBeLessThan(2500);
      expect(JSON.stringify(res.body)).not.toMatch(DRIVER_TEXT);
      await busy;
      expect(
        (await request(app).get(`${P}/meters`).set('Authorization', `Bearer ${TEST_TOKEN}`)).status,
      ).toBe(200);
    } finally {
      await orm.close(true);
      await db.close();
    }
  });

  it('9.8 the ingestion pool is bounded the same way: a batch waiting for a connection gets 503, not a hang', async () => {
    const db = await createTestApp();
    const orm = await createOrm(db.db.url, 1, 500); // the ingestion pool follows: one connection, 0.5 s
    const locker = new PgClient({ connectionString: db.db.url });
    await locker.connect();
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await locker.query('rollback');
    };
    try {
      const config = loadConfig({
        DATABASE_URL: db.db.url,
        TALLY_API_TOKENS: TEST_TOKEN,
        LOG_LEVEL: 'silent',
      });
      const app = createApp({ config, orm, logger });
      const post = (id: string) =>
        request(app)
          .post(`${P}/events`)
          .set('Authorization', `Bearer ${TEST_TOKEN}`)
          .set('Content-Type', 'application/cloudevents-batch+json')
          .send(
            JSON.stringify([
              { specversion: '1.0', id, source: 's', type: 't', subject: 'c', data: { v: 1 } },
            ]),
          );
      await locker.query('begin');
      await locker.query('lock table events in share row exclusive mode');
      // the first batch holds the pool's only connection, waiting for the lock
      const first = post('first').then((r) => r);
      await new Promise((r) => setTimeout(r, 300));
      const safety = setTimeout(() => void release(), 4000);
      const t0 = Date.now();
      const second = await post('second');
      const ms = Date.now() - t0;
      clearTimeout(safety);
      console.log(`9.8 ingestion pool exhausted: POST /events answered ${second.status} in ${ms} ms`);
      expect([second.status, second.headers['retry-after']]).toEqual([503, expect.stringMatching(/^\d+$/)]);
      expect(ms).toBeLessThan(2500);
      await release();
      expect((await first).status).toBe(202);
    } finally {
      await release().catch(() => undefined);
      await locker.end();
      await orm.close(true);
      await db.close();
    }
  });

  it('9.8 the bounded Temporal connection still creates and cancels subscriptions against a live server', async () => {
    const h = await createHarness();
    const connection = await Connection.connect(apiConnectionOptions(h.env.address));
    try {
      const client = new Client({ connection, namespace: 'default' });
      const app = createApp({ ...h.app.deps, temporal: client });
      const api = (m: 'get' | 'post', u: string) =>
        request(app)[m](u).set('Authorization', `Bearer ${TEST_TOKEN}`);
      await withPlan(h.app);
      const created = await api('post', `${P}/subscriptions`).send({
        customer: { key: 'acme' },
        plan: { key: 'basic' },
      });
      expect(created.status).toBe(201);
      const canceled = await api('post', `${P}/subscriptions/${created.body.id}/cancel`).send({
        timing: 'immediate',
      });
      expect([canceled.status, canceled.body.status]).toEqual([200, 'inactive']);
    } finally {
      await connection.close();
      await h.close();
    }
  });

  async function withPlan(app: TestApp): Promise<{ planId: string; customerId: string }> {
    const f = fixtures(app);
    const c = await f.customer('acme', { name: 'Acme' });
    const plan = await f.plan('basic', defaultPhase([flatFeeRateCard('10')]), { name: 'Basic' });
    return { planId: plan.id as string, customerId: c.id as string };
  }

  /** an active subscription of `acme` to `basic` (the row as if created while Temporal was up) */
  async function activeSubscription(app: TestApp, id: string, plan: { planId: string; customerId: string }) {
    await app.db.orm.em.fork().execute(
      `insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
         billing_anchor, active_from, phase_key, phase_started_at, workflow_id)
       values (?, ?, 'acme', ?, 'basic', 1, 'active', now(), now(), 'default', now(), ?)`,
      [id, plan.customerId, plan.planId, `subscription-${id}`],
    );
  }

  const createSubscription = (app: TestApp) =>
    timed(app.api.post(`${P}/subscriptions`).send({ customer: { key: 'acme' }, plan: { key: 'basic' } }));

  /** 503 with a Retry-After in whole seconds */
  const expectRetryAfter503 = (res: request.Response) =>
    expect([res.status, res.headers['retry-after']]).toEqual([503, expect.stringMatching(/^\d+$/)]);

  async function timed(t: request.Test): Promise<{ res: request.Response; ms: number }> {
    const t0 = Date.now();
    const res = await t;
    return { res, ms: Date.now() - t0 };
  }

  it('9.8 Temporal unreachable (port closed): create and cancel answer 503 with Retry-After within ~5 s; /readyz names it', async () => {
    const port = await freePort(); // nothing listens there
    const connection = Connection.lazy(apiConnectionOptions(`127.0.0.1:${port}`));
    const client = new Client({ connection, namespace: 'default' });
    const app = await createTestApp({ temporal: client });
    try {
      const plan = await withPlan(app);
      const create = await createSubscription(app);
      expectRetryAfter503(create.res);
      expect(create.ms).toBeLessThan(5000);
      expect(JSON.stringify(create.res.body)).not.toMatch(DRIVER_TEXT);
      console.log(`9.8 Temporal port closed: POST /subscriptions answered 503 in ${create.ms} ms`);
      // nothing was stored
      expect((await app.api.get(`${P}/subscriptions`)).body.data).toEqual([]);

      // an active subscription (as if created while Temporal was up): cancelling it answers 503 quickly
      const id = '01JDZZZZZZZZZZZZZZZZZZZZZZ';
      await activeSubscription(app, id, plan);
      const cancel = await timed(app.api.post(`${P}/subscriptions/${id}/cancel`).send({}));
      expectRetryAfter503(cancel.res);
      expect(cancel.ms).toBeLessThan(5000);
      expect(JSON.stringify(cancel.res.body)).not.toMatch(DRIVER_TEXT);
      console.log(
        `9.8 Temporal port closed: POST /subscriptions/{id}/cancel answered 503 in ${cancel.ms} ms`,
      );

      const ready = await timed(app.raw.get('/readyz'));
      expect(ready.ms).toBeLessThan(5000);
      expect(ready.res.status).toBe(503);
      expect(ready.res.body.checks).toEqual({ postgres: 'ok', temporal: 'unavailable' });
      expect(ready.res.body.unavailable).toEqual(['temporal']);
      expect(JSON.stringify(ready.res.body)).not.toMatch(DRIVER_TEXT);
    } finally {
      await app.close();
      await connection.close();
    }
  });

  it('9.8 Temporal accepting connections but never answering: create answers 503 within ~5 s, cancel within ~10 s', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const connection = Connection.lazy(apiConnectionOptions(`127.0.0.1:${port}`));
    const client = new Client({ connection, namespace: 'default' });
    const app = await createTestApp({ temporal: client });
    try {
      const plan = await withPlan(app);
      const create = await createSubscription(app);
      expectRetryAfter503(create.res);
      expect(create.ms).toBeLessThan(6000);
      console.log(`9.8 Temporal silent: POST /subscriptions answered 503 in ${create.ms} ms`);
      expect((await app.api.get(`${P}/subscriptions`)).body.data).toEqual([]);

      // an Update (cancel) to a silent server answers 503 after the Update deadline (10 s), not never
      const id = '01JDZZZZZZZZZZZZZZZZZZZZZY';
      await activeSubscription(app, id, plan);
      const cancel = await timed(app.api.post(`${P}/subscriptions/${id}/cancel`).send({}));
      console.log(
        `9.8 Temporal silent: POST /subscriptions/{id}/cancel answered ${cancel.res.status} in ${cancel.ms} ms`,
      );
      expectRetryAfter503(cancel.res);
      expect(cancel.ms).toBeLessThan(12_000);
      expect(cancel.res.body.detail).toMatch(/did not answer within 10 s/);
    } finally {
      await app.close();
      await connection.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
