/**
 * `npm test`: starts what the suite needs by itself, then runs jest.
 *
 * - PostgreSQL: a throw-away cluster in the system temp dir on a free port (or DATABASE_URL if set),
 *   with a migrated template database that each test file clones (fast, isolated).
 * - Temporal: the time-skipping test server and the CLI (for the dev-server end-to-end test),
 *   provisioned by scripts/lib/tools.ts.
 *
 * - stripe-mock (Stripe's mock API, for the Stripe app's tests): built by scripts/lib/tools.ts, started on
 *   a free port for the run; its URL is exported as STRIPE_MOCK_URL.
 *
 * Extra arguments go to jest: `npm test -- test/unit`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePostgres, type RunningPostgres } from './lib/postgres';
import { freePort } from './lib/net';
import { ROOT, stripeMockPath, temporalCliPath, temporalTestServerPath } from './lib/tools';
import { createOrm, migrate } from '../src/db/orm';

async function main(): Promise<number> {
  const t0 = Date.now();
  let pg: RunningPostgres | undefined;
  let tmp: string | undefined;
  let stripeMock: ChildProcess | undefined;
  let baseUrl = process.env.DATABASE_URL;
  const templateDb = 'tally_test_template';
  if (!baseUrl) {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-test-pg-'));
    chmodSync(tmp, 0o755);
    pg = await ensurePostgres({ dataDir: tmp, port: await freePort(), database: templateDb });
    baseUrl = pg.url;
  }
  const templateUrl = new URL(baseUrl);
  templateUrl.pathname = `/${templateDb}`;
  try {
    if (!pg) {
      // external server: (re)create the template database
      const admin = await createOrm(baseUrl, 1);
      const conn = admin.em.getConnection();
      await conn.execute(`drop database if exists ${templateDb}`);
      await conn.execute(`create database ${templateDb}`);
      await admin.close(true);
    }
    const orm = await createOrm(templateUrl.toString(), 2);
    const applied = await migrate(orm);
    await orm.close(true);
    process.stderr.write(`[test] template database migrated (${applied.length} migrations)\n`);

    const testServer = temporalTestServerPath();
    let cli: string | undefined;
    try {
      cli = temporalCliPath();
    } catch (e) {
      process.stderr.write(`[test] Temporal CLI unavailable (${(e as Error).message})\n`);
    }
    let stripeMockUrl = process.env.STRIPE_MOCK_URL;
    const mockBin = stripeMockUrl ? undefined : stripeMockPath();
    if (mockBin) {
      const port = await freePort();
      // both listeners on free ports (without -https-addr it also binds the default :12112)
      const httpsPort = await freePort();
      stripeMock = spawn(
        mockBin,
        ['-http-addr', `127.0.0.1:${port}`, '-https-addr', `127.0.0.1:${httpsPort}`],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      await waitForPort(port, 15_000);
      stripeMockUrl = `http://127.0.0.1:${port}`;
    }
    process.stderr.write(`[test] infrastructure ready in ${Date.now() - t0} ms\n`);

    const env = {
      ...process.env,
      NODE_ENV: 'test',
      TALLY_TEST_DATABASE_URL: templateUrl.toString(),
      TALLY_TEST_TEMPLATE_DB: templateDb,
      ...(testServer ? { TEMPORAL_TEST_SERVER_PATH: testServer } : {}),
      ...(cli ? { TEMPORAL_CLI_PATH: cli } : {}),
      ...(stripeMockUrl ? { STRIPE_MOCK_URL: stripeMockUrl } : {}),
    };
    const jestBin = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    const args = [jestBin, '--ci', ...(process.env.CI ? ['--runInBand'] : []), ...process.argv.slice(2)];
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
      const forward = (sig: NodeJS.Signals) => child.kill(sig);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    return code;
  } finally {
    stripeMock?.kill('SIGTERM');
    await pg?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Resolves once something listens on 127.0.0.1:`port` (stripe-mock loads its spec for a second or so). */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`stripe-mock did not listen on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[test] ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
