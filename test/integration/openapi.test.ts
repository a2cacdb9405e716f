/** Every route a module mounts is described in the served OpenAPI document, and the document parses. */
import { routers, unauthenticatedRouters } from '../../src/api/routers';
import { createTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

function mountedRoutes(): string[] {
  const out: string[] = [];
  for (const r of [...routers, ...unauthenticatedRouters]) {
    const router = r.routes(app.deps) as unknown as { stack: Layer[] };
    for (const layer of router.stack) {
      if (!layer.route) continue;
      const path = `/v3/openmeter${layer.route.path.replace(/:(\w+)/g, '{$1}')}`;
      for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return out;
}

const normalise = (p: string) => p.replace(/\{[^}]+\}/g, '{}');

it('documents every mounted route', async () => {
  const res = await app.raw.get('/openapi.json').expect(200);
  expect(res.body.openapi).toMatch(/^3\./);
  const documented = new Set<string>();
  for (const [p, item] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${normalise(p)}`);
  }
  const routes = mountedRoutes();
  expect(routes.length).toBeGreaterThan(20);
  const missing = routes.filter((r) => {
    const [method, p] = r.split(' ');
    return !documented.has(`${method} ${normalise(p)}`);
  });
  expect(missing).toEqual([]);
});

it('describes exactly the routes it mounts (no documented operation without a route)', async () => {
  const res = await app.raw.get('/openapi.json').expect(200);
  const mounted = new Set(mountedRoutes().map((r) => normalise(r)));
  const documented: string[] = [];
  for (const [p, item] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
    if (!p.startsWith('/v3/openmeter/')) continue;
    for (const method of Object.keys(item))
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method))
        documented.push(`${method.toUpperCase()} ${normalise(p)}`);
  }
  expect(documented.length).toBeGreaterThan(20);
  expect(documented.filter((d) => !mounted.has(d))).toEqual([]);
});

it('serves the same document as YAML', async () => {
  const res = await app.raw.get('/openapi.yaml').expect(200);
  expect(res.headers['content-type']).toMatch(/yaml/);
  expect(res.text).toContain('/v3/openmeter/events');
});
