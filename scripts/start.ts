/**
 * `npm start`: everything Tally needs on one machine, with data that survives restarts.
 *
 * - PostgreSQL in .data/postgres (port 54329, database `tally`), unless DATABASE_URL is set
 * - migrations
 * - the Temporal dev server with its Web UI in .data/temporal (ports 7233 / 8233), unless TEMPORAL_ADDRESS
 *   is set; the Tally search attributes are registered on it
 * - an API token (TALLY_API_TOKENS, or one generated once and kept in .data/api-token)
 * - the web console (console/dist), built when missing or stale
 * - the worker and the API as child processes (`src/cli/worker.ts`, `src/cli/api.ts`)
 *
 * Servers that were already running are reused and left running; Ctrl-C stops what this started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureConsoleBuilt } from './lib/console';
import { portOpen } from './lib/net';
import { ensurePostgres, type RunningPostgres } from './lib/postgres';
import { ensureTemporalDevServer, type RunningTemporal } from './lib/temporal';
import { ROOT, temporalCliPath } from './lib/tools';
import { loadConfig } from '../src/config';
import { createOrm, migrate } from '../src/db/orm';
import { cliTypeName, SEARCH_ATTRIBUTE_KEYS } from '../src/temporal/search-attributes';

const PG_PORT = 54329;
const PG_DATABASE = 'tally';
const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;

function log(msg: string): void {
  process.stderr.write(`[start] ${msg}\n`);
}

/** Can the `postgres` user (which runs PostgreSQL when we are root) reach into `dir`? */
function pgUserCanTraverse(dir: string): boolean {
  if (process.getuid?.() !== 0) return true;
  return spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dir], { stdio: 'ignore' }).status === 0;
}

/** The data folder: TALLY_DATA_DIR, else .data/ in the repository. */
function dataDir(): string {
  const dir = path.resolve(process.env.TALLY_DATA_DIR || path.join(ROOT, '.data'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Where PostgreSQL keeps its cluster: <data>/postgres, or a folder the postgres user can reach. */
function postgresDir(data: string): string {
  const preferred = path.join(data, 'postgres');
  if (pgUserCanTraverse(data)) return preferred;
  try {
    chmodSync(data, 0o755);
  } catch {
    // not ours to change; checked again below
  }
  if (pgUserCanTraverse(data)) return preferred;
  const fallback = path.join('/var/tmp', `tally-${ROOT.replace(/[^A-Za-z0-9]+/g, '_')}`, 'postgres');
  log(
    `the 'postgres' user cannot reach ${data} (a parent folder is not traversable), so PostgreSQL ` +
      `keeps its data in ${fallback} instead. Set TALLY_DATA_DIR to a reachable folder to choose another.`,
  );
  mkdirSync(path.dirname(fallback), { recursive: true, mode: 0o755 });
  chmodSync(path.dirname(fallback), 0o755);
  return fallback;
}

/** TALLY_API_TOKENS when set; else a token generated once and kept in <data>/api-token (mode 0600). */
function apiTokens(data: string): { tokens: string; file?: string } {
  const configured = process.env.TALLY_API_TOKENS?.trim();
  if (configured) return { tokens: configured };
  const file = path.join(data, 'api-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token) {
      chmodSync(file, 0o600);
      return { tokens: token, file };
    }
  }
  const token = `tally_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log(`generated an API token in ${file}`);
  return { tokens: token, file };
}

/** Registers Tally's search attributes on a server we did not start (a fresh dev server gets them as flags). */
function registerSearchAttributes(address: string, namespace: string): void {
  let cli: string;
  try {
    cli = temporalCliPath();
  } catch (e) {
    log(`cannot register search attributes (no Temporal CLI: ${(e as Error).message})`);
    return;
  }
  for (const key of SEARCH_ATTRIBUTE_KEYS) {
    const type = cliTypeName(key);
    const r = spawnSync(
      cli,
      [
        'operator',
        'search-attribute',
        'create',
        '--address',
        address,
        '--namespace',
        namespace,
        '--name',
        key.name,
        '--type',
        type,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (r.status === 0) log(`search attribute ${key.name} (${type}) is registered`);
    else if (!/already exists/i.test(out)) {
      log(`warning: could not register search attribute ${key.name}: ${out.split('\n').pop() ?? ''}`);
    }
  }
}

interface Child {
  name: string;
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

/** Starts `src/cli/<name>.ts` with tsx; resolves `ready` when it reports so over IPC. */
function startChild(name: 'api' | 'worker', env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', `${name}.ts`)], {
    cwd: ROOT,
    env,
    // own process group: Ctrl-C reaches only this script, which stops the children in order
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    proc.once('error', (err) => {
      log(`${name}: ${err.message}`);
      resolve(1);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('message', (m: unknown) => {
      if (m && typeof m === 'object' && (m as { type?: string }).type === 'ready') resolve();
    });
    void exited.then((code) => reject(new Error(`${name} exited with code ${code} before it was ready`)));
  });
  ready.catch(() => undefined);
  return { name, proc, ready, exited };
}

async function stopChild(child: Child, timeoutMs: number): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    log(`${child.name} did not stop within ${timeoutMs} ms; killing it`);
    child.proc.kill('SIGKILL');
  }, timeoutMs);
  await child.exited;
  clearTimeout(timer);
  log(`${child.name} stopped`);
}

function banner(opts: {
  apiUrl: string;
  uiUrl?: string;
  token: string;
  tokenFile?: string;
  data: string;
  pgDir?: string;
}): string {
  const lines = [
    '',
    '  Tally is running',
    '',
    `  Console        ${opts.apiUrl}/   (sign in with the API token)`,
    `  API            ${opts.apiUrl}   (OpenAPI: ${opts.apiUrl}/openapi.json)`,
    `  Temporal UI    ${opts.uiUrl ?? '(external Temporal: see its own UI)'}`,
    `  API token      ${opts.token}${opts.tokenFile ? `   (kept in ${opts.tokenFile})` : ''}`,
    `  Data folder    ${opts.data}${opts.pgDir && !opts.pgDir.startsWith(opts.data) ? `   (PostgreSQL: ${opts.pgDir})` : ''}`,
    '',
    '  Try it:',
    `    curl -H 'Authorization: Bearer ${opts.token}' ${opts.apiUrl}/v3/openmeter/openapi.json`,
    '',
    '  Press Ctrl-C to stop.',
    '',
  ];
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  const data = dataDir();
  const port = Number(process.env.PORT || 8080);
  if (await portOpen(port)) {
    throw new Error(`port ${port} is already in use: stop what is listening there or set PORT`);
  }

  const cleanups: Array<() => Promise<void>> = [];
  const children: Child[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      // API first (no new work), then the worker (finishes in-flight tasks), then the servers
      for (const c of [...children].reverse()) await stopChild(c, c.name === 'worker' ? 30_000 : 15_000);
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (e) {
          log(`cleanup failed: ${(e as Error).message}`);
        }
      }
    })();
    return stopping;
  };
  let exitCode = 0;
  const interrupted = new Promise<void>((resolve) => {
    let count = 0;
    let last = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      // one Ctrl-C reaches this process twice (from the terminal, and relayed by the tsx launcher)
      if (Date.now() - last < 1000) return;
      last = Date.now();
      count++;
      if (count === 1) log(`${sig}: stopping what was started here ... (Ctrl-C again to force)`);
      else {
        log('forced exit: processes started here may be left running');
        process.exit(130);
      }
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
  });
  const abortIfInterrupted = <T>(p: Promise<T>): Promise<T> =>
    Promise.race([p, interrupted.then(() => Promise.reject(new Error('interrupted')))]);

  try {
    // PostgreSQL
    let databaseUrl = process.env.DATABASE_URL;
    let pgDir: string | undefined;
    if (databaseUrl) {
      log('using DATABASE_URL (no local PostgreSQL started)');
    } else {
      pgDir = postgresDir(data);
      const pg: RunningPostgres = await ensurePostgres({
        dataDir: pgDir,
        port: PG_PORT,
        database: PG_DATABASE,
      });
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
    }

    // migrations
    const orm = await createOrm(databaseUrl, 2);
    try {
      const applied = await migrate(orm);
      log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
    } finally {
      await orm.close(true);
    }

    // Temporal
    const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    let uiUrl: string | undefined;
    if (temporalAddress) {
      log(`using TEMPORAL_ADDRESS=${temporalAddress} (no local Temporal started)`);
    } else {
      const reused = await portOpen(TEMPORAL_PORT);
      const temporal: RunningTemporal = await abortIfInterrupted(
        ensureTemporalDevServer({
          dataDir: path.join(data, 'temporal'),
          port: TEMPORAL_PORT,
          uiPort: TEMPORAL_UI_PORT,
          namespace,
        }),
      );
      cleanups.push(() => temporal.stop());
      temporalAddress = temporal.address;
      uiUrl = temporal.uiUrl.replace('127.0.0.1', 'localhost');
      if (reused) registerSearchAttributes(temporalAddress, namespace);
    }

    // the web console the API serves at /, built when missing or stale
    ensureConsoleBuilt(log);

    // token, then the worker and the API
    const { tokens, file: tokenFile } = apiTokens(data);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      TALLY_API_TOKENS: tokens,
      ...(uiUrl && !process.env.TALLY_TEMPORAL_UI_URL ? { TALLY_TEMPORAL_UI_URL: uiUrl } : {}),
    };
    loadConfig(env); // fail here, with the validation message, rather than in both children
    const worker = startChild('worker', env);
    children.push(worker);
    const api = startChild('api', env);
    children.push(api);
    await abortIfInterrupted(Promise.all([worker.ready, api.ready]));

    const apiUrl = `http://localhost:${port}`;
    process.stdout.write(
      banner({ apiUrl, uiUrl, token: tokens.split(',')[0].trim(), tokenFile, data, pgDir }),
    );

    // run until Ctrl-C, or until a child dies
    const died = Promise.race(children.map((c) => c.exited.then((code) => ({ c, code }))));
    const outcome = await Promise.race([interrupted.then(() => undefined), died]);
    if (outcome) {
      log(`${outcome.c.name} exited unexpectedly (code ${outcome.code}); stopping everything`);
      exitCode = 1;
    }
  } catch (err) {
    if ((err as Error).message !== 'interrupted') {
      log(`failed: ${(err as Error).message}`);
      exitCode = 1;
    }
  } finally {
    await stopAll();
  }
  log('stopped');
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
