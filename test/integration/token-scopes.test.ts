/**
 * Token scopes on every route: the route list comes from the served OpenAPI document, so a route added
 * later is checked without touching this test. The expected scopes are written here independently of the
 * document's `x-tally-scopes`, so a wrong declaration fails too.
 */
import express from 'express';
import request from 'supertest';
import { bearerAuth } from '../../src/api/auth';
import type { Scope } from '../../src/lib/token-scopes';
import { createTestApp, type TestApp } from '../support/app';

const TOKENS: Record<Scope, string> = {
  admin: `admin-${'a'.repeat(32)}`,
  read: `read-${'r'.repeat(32)}`,
  ingest: `ingest-${'i'.repeat(32)}`,
  access: `access-${'x'.repeat(32)}`,
};
const BARE = `bare-${'b'.repeat(32)}`;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** the rule the README states, written out by operation */
function expectedScopes(method: string, operationId: string): Scope[] {
  const out: Scope[] = ['admin'];
  if (method === 'get' || ['queryMeter', 'queryEntitlementAccess'].includes(operationId)) out.push('read');
  if (operationId === 'ingestMeteringEvents') out.push('ingest');
  if (['queryEntitlementAccess', 'listCustomerEntitlementAccess'].includes(operationId)) out.push('access');
  return out;
}

let app: TestApp;
let operations: { method: (typeof METHODS)[number]; path: string; operationId: string; ownAuth: boolean }[];

beforeAll(async () => {
  app = await createTestApp({
    config: {
      TALLY_API_TOKENS: [
        `admin=${TOKENS.admin}`,
        `read=${TOKENS.read}`,
        `ingest=${TOKENS.ingest}`,
        `access=${TOKENS.access}`,
        BARE,
      ].join(','),
      // every refused call below must not lock the client out
      TALLY_AUTH_MAX_FAILURES: '1000',
    },
  });
  const doc = (await app.raw.get('/openapi.json').expect(200)).body as {
    paths: Record<string, Record<string, { operationId?: string; 'x-tally-auth'?: string }>>;
  };
  operations = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v3/openmeter/')) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      operations.push({
        method,
        path,
        operationId: op.operationId ?? '',
        ownAuth: op['x-tally-auth'] === 'signature',
      });
    }
  }
});
afterAll(async () => {
  await app?.close();
});

const call = (method: (typeof METHODS)[number], path: string, token?: string) => {
  const url = path.replace(/\{[^}]+\}/g, 'scope_probe');
  let t = app.raw[method](url);
  if (token) t = t.set('Authorization', `Bearer ${token}`);
  return method === 'get' || method === 'delete' ? t : t.send({});
};

it('finds every operation in the served document, each with an operationId', () => {
  expect(operations.length).toBeGreaterThan(40);
  expect(operations.filter((o) => !o.operationId)).toEqual([]);
});

it('allows and refuses each scope on every route as documented (403 problem+json outside the scope)', async () => {
  const wrong: string[] = [];
  let refused = 0;
  let allowedCalls = 0;
  for (const op of operations.filter((o) => !o.ownAuth)) {
    const expected = expectedScopes(op.method, op.operationId);
    for (const scope of Object.keys(TOKENS) as Scope[]) {
      const res = await call(op.method, op.path, TOKENS[scope]);
      const label = `${scope} ${op.method.toUpperCase()} ${op.path} → ${res.status}`;
      if (expected.includes(scope)) {
        allowedCalls++;
        if (res.status === 401 || res.status === 403) wrong.push(`${label} (should be allowed)`);
      } else {
        refused++;
        const ok =
          res.status === 403 &&
          /application\/problem\+json/.test(res.headers['content-type'] ?? '') &&
          res.body.status === 403 &&
          res.body.type === 'https://httpstatuses.com/403' &&
          String(res.body.detail).includes(`(${scope})`);
        if (!ok) wrong.push(`${label} (should be 403 problem+json)`);
      }
    }
    // a bare token stays admin
    const bare = await call(op.method, op.path, BARE);
    if (bare.status === 401 || bare.status === 403)
      wrong.push(`bare ${op.method} ${op.path} → ${bare.status}`);
    // no token: 401 everywhere but on routes that authenticate themselves
    const none = await call(op.method, op.path);
    if (none.status !== 401) wrong.push(`no token ${op.method} ${op.path} → ${none.status}`);
  }
  expect(wrong).toEqual([]);
  expect(refused).toBeGreaterThan(100);
  expect(allowedCalls).toBeGreaterThan(60);
});

it('routes marked x-tally-auth: signature are not asked for a bearer token (their handler verifies)', async () => {
  // the served document has no such route yet (the Stripe webhook is added separately): a synthetic one
  const doc = {
    paths: {
      ...Object.fromEntries(operations.filter((o) => o.ownAuth).map((o) => [o.path, { [o.method]: {} }])),
      '/v3/openmeter/apps/{appId}/stripe/webhook': { post: { 'x-tally-auth': 'signature' } },
      '/v3/openmeter/plans': { post: {} },
    },
  };
  const web = express();
  web.use(
    '/v3/openmeter',
    bearerAuth([TOKENS.admin], { maxFailures: 100, windowMs: 60_000 }, doc, '/v3/openmeter'),
    (_req: express.Request, res: express.Response) => {
      res.status(204).end();
    },
  );
  await request(web).post('/v3/openmeter/apps/app_1/stripe/webhook').send({}).expect(204);
  await request(web).post('/v3/openmeter/plans').send({}).expect(401);
  await request(web).post('/v3/openmeter/apps/app_1/stripe/other').send({}).expect(401);
  // the Stripe webhook answers for itself (here: no such app), never the bearer middleware's 401
  for (const op of operations.filter((o) => o.ownAuth && o.path.includes('/stripe/webhook'))) {
    const res = await call(op.method, op.path);
    expect(`${op.path} ${res.status}`).not.toBe(`${op.path} 401`);
  }
});

it("the custom-invoicing callbacks take their app's callback token only: every API token is refused", async () => {
  const callbacks = operations.filter((o) => o.path.startsWith('/v3/openmeter/apps/custom-invoicing/'));
  expect(callbacks.map((o) => o.ownAuth)).toEqual([true, true, true]);
  for (const op of callbacks)
    for (const token of [...Object.values(TOKENS), BARE, undefined]) {
      const res = await call(op.method, op.path, token);
      // the handler's own 401 (not the bearer middleware's): it names the callback token
      expect(`${op.path} ${token?.slice(0, 6)} ${res.status}`).toBe(`${op.path} ${token?.slice(0, 6)} 401`);
      expect(res.type).toBe('application/problem+json');
      expect(String(res.body.detail)).toMatch(/callback token/);
    }
});

it('an ingest token sends events but cannot read them; a refused call changes nothing', async () => {
  const event = {
    specversion: '1.0',
    id: 'scoped-1',
    source: 'gateway',
    type: 'api_call',
    subject: 'cust-1',
    time: '2026-01-01T00:00:00.000Z',
    data: {},
  };
  // read and access tokens cannot send
  for (const t of [TOKENS.read, TOKENS.access]) {
    await app.raw
      .post('/v3/openmeter/events')
      .set('Authorization', `Bearer ${t}`)
      .send({ ...event, id: `refused-${t.slice(0, 4)}` })
      .expect(403);
  }
  await app.raw
    .post('/v3/openmeter/events')
    .set('Authorization', `Bearer ${TOKENS.ingest}`)
    .send(event)
    .expect(202);
  await app.raw.get('/v3/openmeter/events').set('Authorization', `Bearer ${TOKENS.ingest}`).expect(403);
  const rows = await app.db.orm.em
    .getConnection()
    .execute<{ id: string }[]>('select id from events order by id');
  expect(rows.map((r) => r.id)).toEqual(['scoped-1']);
  // an ingest token cannot create a customer: nothing created
  await app.raw
    .post('/v3/openmeter/customers')
    .set('Authorization', `Bearer ${TOKENS.ingest}`)
    .send({ key: 'c-refused', name: 'Refused' })
    .expect(403);
  const customers = await app.raw
    .get('/v3/openmeter/customers')
    .set('Authorization', `Bearer ${TOKENS.read}`)
    .expect(200);
  expect(JSON.stringify(customers.body)).not.toContain('c-refused');
});
