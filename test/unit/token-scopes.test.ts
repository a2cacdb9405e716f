import { loadConfig } from '../../src/config';
import {
  allowed,
  matchOperation,
  operationPolicies,
  parseTokenEntry,
  scopesByToken,
  type Scope,
} from '../../src/lib/token-scopes';

const T = 'x'.repeat(32);

describe('token entries', () => {
  it.each([
    [T, { token: T, scope: 'admin' }],
    [`admin=${T}`, { token: T, scope: 'admin' }],
    [`read=${T}`, { token: T, scope: 'read' }],
    [`ingest=${T}`, { token: T, scope: 'ingest' }],
    [`access=${T}`, { token: T, scope: 'access' }],
    // a base64 token with padding stays a bare (admin) token
    [`${'A'.repeat(40)}==`, { token: `${'A'.repeat(40)}==`, scope: 'admin' }],
    [`tally_${'b'.repeat(30)}=`, { token: `tally_${'b'.repeat(30)}=`, scope: 'admin' }],
    // only the first `=` separates: the token may contain more
    [`read=${T}==`, { token: `${T}==`, scope: 'read' }],
  ])('%s', (entry, expected) => {
    expect(parseTokenEntry(entry)).toEqual(expected);
  });

  it.each(['write=', 'Admin=', 'reader=', 'ingester='])('refuses an unknown scope (%s…)', (prefix) => {
    // Admin= has an upper-case letter: not a scope prefix, so it is a bare token (and fine)
    if (prefix === 'Admin=') {
      expect(parseTokenEntry(prefix + T).scope).toBe('admin');
      return;
    }
    expect(() => parseTokenEntry(prefix + T)).toThrow(
      /unknown scope .* \(scopes: admin, read, ingest, access\)/,
    );
  });

  it('merges the scopes of a token listed twice', () => {
    const m = scopesByToken([parseTokenEntry(`read=${T}`), parseTokenEntry(`ingest=${T}`)]);
    expect([...(m.get(T) ?? [])].sort()).toEqual(['ingest', 'read']);
  });

  it('configuration: names the entry with an unknown scope, and checks the length of the token part', () => {
    expect(() => loadConfig({ TALLY_API_TOKENS: `read=${T},writer=${T}` })).toThrow(
      /TALLY_API_TOKENS: token #2: unknown scope "writer"/,
    );
    expect(() => loadConfig({ TALLY_API_TOKENS: `ingest=${'y'.repeat(31)}` })).toThrow(
      /token #1 has 31 characters/,
    );
    expect(loadConfig({ TALLY_API_TOKENS: `ingest=${T}, ${T}` }).TALLY_API_TOKENS).toEqual([
      `ingest=${T}`,
      T,
    ]);
  });
});

const doc = {
  paths: {
    '/v3/openmeter/events': {
      post: { operationId: 'ingest', 'x-tally-scopes': ['ingest'] },
      get: { operationId: 'listEvents' },
    },
    '/v3/openmeter/meters/{meterId}/query': {
      post: { operationId: 'queryMeter', 'x-tally-scopes': ['read'] },
    },
    '/v3/openmeter/billing/invoices/{invoiceId}': { get: { operationId: 'getInvoice' }, delete: {} },
    '/v3/openmeter/billing/invoices/preview': {
      get: { operationId: 'preview', 'x-tally-scopes': ['access'] },
    },
    '/v3/openmeter/apps/{appId}/stripe/webhook': {
      post: { operationId: 'webhook', 'x-tally-auth': 'signature' },
    },
    '/healthz': { get: {} },
  },
};
const P = '/v3/openmeter';
const policies = operationPolicies(doc, P);
const held = (...s: Scope[]) => new Set<Scope>(s);

describe('operation policies from the OpenAPI document', () => {
  it('covers every operation under the prefix and nothing else', () => {
    expect(policies.map((p) => `${p.method} ${p.path}`).sort()).toEqual([
      'DELETE /billing/invoices/{invoiceId}',
      'GET /billing/invoices/preview',
      'GET /billing/invoices/{invoiceId}',
      'GET /events',
      'POST /apps/{appId}/stripe/webhook',
      'POST /events',
      'POST /meters/{meterId}/query',
    ]);
  });

  it.each([
    ['POST', '/events', 'ingest'],
    ['GET', '/events', 'listEvents'],
    ['HEAD', '/events', 'listEvents'],
    ['GET', '/events/', 'listEvents'],
    ['POST', '/meters/m1/query', 'queryMeter'],
    ['GET', '/billing/invoices/preview', 'preview'],
    ['GET', '/billing/invoices/inv_1', 'getInvoice'],
    ['POST', '/apps/app_1/stripe/webhook', 'webhook'],
  ])('%s %s is %s', (method, path, id) => {
    expect(matchOperation(policies, method, path)?.operationId).toBe(id);
  });

  it.each([
    ['GET', '/meters/m1/query'],
    ['POST', '/meters/m1/query/x'],
    ['GET', '/meters/a/b/query'],
    ['PUT', '/events'],
    ['GET', '/healthz'],
  ])('%s %s matches no operation', (method, path) => {
    expect(matchOperation(policies, method, path)).toBeUndefined();
  });

  it('marks operations authenticated by their own signature', () => {
    expect(matchOperation(policies, 'POST', '/apps/a/stripe/webhook')?.ownAuth).toBe(true);
    expect(matchOperation(policies, 'POST', '/events')?.ownAuth).toBe(false);
  });

  const cases: [string, string, Scope[], boolean][] = [
    ['POST', '/events', ['ingest'], true],
    ['POST', '/events', ['read'], false],
    ['POST', '/events', ['access'], false],
    ['POST', '/events', ['admin'], true],
    ['GET', '/events', ['ingest'], false],
    ['GET', '/events', ['read'], true],
    ['GET', '/events', ['access'], false],
    ['POST', '/meters/m/query', ['read'], true],
    ['POST', '/meters/m/query', ['ingest'], false],
    ['DELETE', '/billing/invoices/i', ['read'], false],
    ['DELETE', '/billing/invoices/i', ['read', 'ingest', 'access'], false],
    ['DELETE', '/billing/invoices/i', ['admin'], true],
    ['GET', '/billing/invoices/preview', ['access'], true],
    ['GET', '/billing/invoices/preview', ['read'], true],
    ['GET', '/billing/invoices/preview', ['ingest'], false],
    ['GET', '/billing/invoices/i', ['ingest', 'read'], true],
    // no documented operation: a GET needs read, anything else admin
    ['GET', '/nowhere', ['read'], true],
    ['GET', '/nowhere', ['ingest'], false],
    ['POST', '/nowhere', ['read'], false],
    ['POST', '/nowhere', ['admin'], true],
  ];
  it.each(cases)('%s %s with %j: %s', (method, path, scopes, ok) => {
    expect(allowed(held(...scopes), matchOperation(policies, method, path), method)).toBe(ok);
  });

  it('refuses a document naming an unknown scope or auth mode', () => {
    expect(() =>
      operationPolicies({ paths: { '/v3/openmeter/x': { get: { 'x-tally-scopes': ['reed'] } } } }, P),
    ).toThrow(/GET \/v3\/openmeter\/x: unknown scope reed/);
    expect(() =>
      operationPolicies({ paths: { '/v3/openmeter/x': { post: { 'x-tally-auth': 'none' } } } }, P),
    ).toThrow(/x-tally-auth must be "signature"/);
  });
});
