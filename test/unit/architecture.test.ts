/**
 * 10.1 The database layer stands alone: loading the ORM and its schema registry (what `npm run migrate`,
 * the worker and the benchmarks load) loads neither Express nor a router, a service, a workflow or an
 * activity. Checked in a fresh Node process (tsx's require hook), from the modules Node actually loaded.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** the project-relative paths of every module a fresh `node` loads for `entries` */
function loadedBy(entries: string[]): string[] {
  const script = `${entries.map((e) => `require(${JSON.stringify(e)});`).join('')}
    process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const out = execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return (JSON.parse(out) as string[]).map((f) => path.relative(ROOT, f).split(path.sep).join('/'));
}

describe('10.1 layers', () => {
  it('10.1 loading src/db/orm.ts and src/db/schema.ts loads neither Express nor any router', () => {
    const loaded = loadedBy(['./src/db/orm', './src/db/schema']);
    // the probe itself works: the ORM, the registry and every domain's entities were loaded
    expect(loaded).toEqual(
      expect.arrayContaining([
        'src/db/orm.ts',
        'src/db/schema.ts',
        'src/customers/entities.ts',
        'src/billing/migrations.ts',
        'node_modules/@mikro-orm/postgresql/index.js',
      ]),
    );
    const offending = loaded.filter(
      (f) =>
        /^node_modules\/(express|router|body-parser|@temporalio)\//.test(f) ||
        /^src\/api\//.test(f) ||
        /^src\/[^/]+\/(routes|service)\.ts$/.test(f) ||
        /^(workflows|activities)\//.test(f),
    );
    expect(offending).toEqual([]);
  });

  it('10.1 the API composition root does load every router (the probe sees what it must reject)', () => {
    const loaded = loadedBy(['./src/api/app']);
    expect(loaded).toEqual(
      expect.arrayContaining([
        'src/api/routers.ts',
        'src/customers/routes.ts',
        'src/entitlements/routes.ts',
        expect.stringMatching(/^node_modules\/express\//),
      ]),
    );
  });
});
