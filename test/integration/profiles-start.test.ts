/**
 * The default billing profile is created when the real processes start: an API and a worker (and a second
 * API) started together on a fresh database create exactly one, with `TALLY_COLLECTION_PERIOD` as its
 * collection interval. Temporal is unreachable on purpose: each process creates the profile before it
 * connects to Temporal, and says so by logging that it is waiting for Temporal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../scripts/lib/net';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_TOKEN } from '../support/app';

const ROOT = path.resolve(__dirname, '..', '..');

const dbs: TestDatabase[] = [];
const procs: ChildProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.pid) process.kill(p.pid, 'SIGKILL');
  for (const db of dbs) await db.drop();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
}

async function envFor(db: TestDatabase): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TALLY_API_TOKENS: TEST_TOKEN,
    TALLY_COLLECTION_PERIOD: 'PT3M',
    PORT: '0',
    LOG_LEVEL: 'warn',
  };
}

/** the live profiles of a database */
const profilesOf = (db: TestDatabase) =>
  db.orm.em
    .fork()
    .execute<{ is_default: boolean; workflow: { collection: { interval: string } } }[]>(
      'select is_default, workflow from billing_profiles where deleted_at is null',
    );

const oneDefault = [
  {
    is_default: true,
    workflow: expect.objectContaining({
      collection: { alignment: { type: 'subscription' }, interval: 'PT3M' },
    }),
  },
];

/** starts `src/cli/<name>.ts`; resolves once it logs that it waits for Temporal (it ensured the profile) */
function start(name: 'api' | 'worker', env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', `${name}.ts`)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('waiting for Temporal')) resolve();
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) =>
      reject(new Error(`${name} exited (${code}) before waiting for Temporal:\n${out}`)),
    );
  });
}

it('the API and the worker each create it when started alone', async () => {
  const [forApi, forWorker] = [await freshDatabase(), await freshDatabase()];
  await Promise.all([start('api', await envFor(forApi)), start('worker', await envFor(forWorker))]);
  expect(await profilesOf(forApi)).toEqual(oneDefault);
  expect(await profilesOf(forWorker)).toEqual(oneDefault);
}, 120_000);

it('an API, a second API and a worker starting together create exactly one default profile', async () => {
  const db = await freshDatabase();
  const env = await envFor(db);
  await Promise.all([start('api', env), start('api', env), start('worker', env)]);
  expect(await profilesOf(db)).toEqual(oneDefault);
}, 120_000);
