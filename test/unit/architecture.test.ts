/**
 * 10.5 The workflow sandbox is enforced by lint: every file the workflow bundle imports (found by
 * dependency-cruiser from workflows/index.ts, type-only imports included) is
 * under the ESLint rule that bans Node built-ins, the ORM, `pg` and the logger.
 *
 * 10.1 The database layer stands alone: loading the ORM and its schema registry (what `npm run migrate`,
 * the worker and the benchmarks load) loads neither Express nor a router, a service, a workflow or an
 * activity. Checked in a fresh Node process (tsx's require hook), from the modules Node actually loaded.
 */
import { execFileSync, spawnSync } from 'node:child_process';
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

const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);

/** the project files the workflow bundle imports: workflows/index.ts's imports (type-only too), transitively */
function workflowBundleFiles(): string[] {
  const out = execFileSync(
    bin('depcruise'),
    [
      '--no-config',
      '--ts-config',
      'tsconfig.json',
      '--ts-pre-compilation-deps',
      '--do-not-follow',
      'node_modules',
      '--output-type',
      'json',
      'workflows/index.ts',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const { modules } = JSON.parse(out) as { modules: { source: string; coreModule?: boolean }[] };
  return modules
    .map((m) => m.source)
    .filter((f) => !f.startsWith('node_modules/') && /\.ts$/.test(f))
    .sort();
}

/** the ESLint configuration in force for each file (one process: what `eslint --print-config` shows) */
function lintConfigsOf(files: string[]): Record<string, { rules?: Record<string, unknown> }> {
  const script = `const { ESLint } = require('eslint');
    (async () => {
      const eslint = new ESLint();
      const out = {};
      for (const f of ${JSON.stringify(files)}) out[f] = await eslint.calculateConfigForFile(f);
      process.stdout.write(JSON.stringify(out));
    })();`;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }),
  ) as Record<string, { rules?: Record<string, unknown> }>;
}

type RestrictedImports = [unknown, { paths: (string | { name: string })[]; patterns: { group: string[] }[] }];

describe('10.5 workflow sandbox', () => {
  it('10.5 every file the workflow bundle imports is under the sandbox lint rule', () => {
    const files = workflowBundleFiles();
    // the shared pure domain code the issue names is part of the bundle (so the probe sees past workflows/)
    expect(files).toEqual(
      expect.arrayContaining([
        'workflows/index.ts',
        'workflows/subscription.ts',
        'workflows/definitions.ts',
        'src/subscriptions/machine.ts',
        'src/catalog/periods.ts',
        'src/temporal/search-attributes.ts',
        'src/catalog/types.ts',
        'src/billing/contract.ts',
      ]),
    );
    const configs = lintConfigsOf(files);
    const uncovered = files.filter((file) => {
      const rule = configs[file].rules?.['no-restricted-imports'] as RestrictedImports | undefined;
      if (!rule) return true;
      const names = rule[1].paths.map((p) => (typeof p === 'string' ? p : p.name));
      const groups = rule[1].patterns.flatMap((p) => p.group);
      return !(
        ['fs', 'node:fs', 'pg', 'pino'].every((n) => names.includes(n)) &&
        ['@mikro-orm/*', '**/lib/logger'].every((g) => groups.includes(g))
      );
    });
    expect(uncovered).toEqual([]);
  });

  it('10.5 lint refuses Node built-ins, the ORM, pg and the logger in the shared workflow code', () => {
    const code = [
      "import { readFileSync } from 'fs';",
      "import { randomUUID } from 'node:crypto';",
      "import { MikroORM } from '@mikro-orm/postgresql';",
      "import { Pool } from 'pg';",
      "import pino from 'pino';",
      "import { logger } from '../lib/logger';",
      'export const used = [readFileSync, randomUUID, MikroORM, Pool, pino, logger];',
      '',
    ].join('\n');
    const res = spawnSync(
      bin('eslint'),
      ['--format', 'json', '--stdin', '--stdin-filename', 'src/catalog/periods.ts'],
      { cwd: ROOT, encoding: 'utf8', input: code },
    );
    const [report] = JSON.parse(res.stdout) as { messages: { ruleId: string | null; line: number }[] }[];
    const refused = report.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line);
    // (`node:crypto` is refused twice: by name and by the `node:*` pattern)
    expect([...new Set(refused)]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
