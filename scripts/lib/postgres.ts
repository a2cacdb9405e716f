/**
 * Starts (or reuses) a local PostgreSQL cluster from the installed PostgreSQL binaries.
 * Used by `npm start` (persistent, in .data/) and `npm test` (throw-away, in .tmp/).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { portOpen } from './net';

export interface RunningPostgres {
  url: string;
  port: number;
  /** stops the cluster if this process started it */
  stop(): Promise<void>;
}

function log(msg: string): void {
  process.stderr.write(`[postgres] ${msg}\n`);
}

function pgBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const found = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  if (found) return path.dirname(realpathSync(found));
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(path.join(base, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(base, versions[0], 'bin');
  }
  throw new Error('PostgreSQL binaries (pg_ctl, initdb) not found: install PostgreSQL or set DATABASE_URL');
}

/** PostgreSQL refuses to run as root: as root, run its commands as the `postgres` user. */
function asPgUser(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', cmd, ...args]];
  return [cmd, args];
}

function pgUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function ensurePostgres(opts: {
  dataDir: string;
  port: number;
  database: string;
}): Promise<RunningPostgres> {
  const url = `postgres://postgres@127.0.0.1:${opts.port}/${opts.database}`;
  const bin = pgBinDir();
  const ids = pgUserIds();
  const pgdata = path.join(opts.dataDir, 'pgdata');
  let startedHere = false;

  if (!(await portOpen(opts.port))) {
    mkdirSync(opts.dataDir, { recursive: true });
    if (ids) chownSync(opts.dataDir, ids.uid, ids.gid);
    if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
      log(`initialising a cluster in ${pgdata}`);
      const [c, a] = asPgUser(path.join(bin, 'initdb'), [
        '-D',
        pgdata,
        '-U',
        'postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--no-sync',
      ]);
      execFileSync(c, a, { stdio: ['ignore', 'ignore', 'inherit'] });
      writeFileSync(
        path.join(pgdata, 'postgresql.auto.conf'),
        [
          `port = ${opts.port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${pgdata}'`,
          'max_connections = 200',
          'shared_buffers = 512MB',
          'work_mem = 32MB',
          'maintenance_work_mem = 256MB',
          'synchronous_commit = on',
          'max_wal_size = 4GB',
          "timezone = 'UTC'",
          '',
        ].join('\n'),
      );
      if (ids) chownSync(path.join(pgdata, 'postgresql.auto.conf'), ids.uid, ids.gid);
    }
    log(`starting on port ${opts.port}`);
    const [c, a] = asPgUser(path.join(bin, 'pg_ctl'), [
      '-D',
      pgdata,
      '-l',
      path.join(pgdata, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    execFileSync(c, a, { stdio: ['ignore', 'ignore', 'inherit'] });
    startedHere = true;
  } else {
    log(`reusing the server already listening on port ${opts.port}`);
  }

  const stop = async () => {
    if (!startedHere) return;
    const [c, a] = asPgUser(path.join(bin, 'pg_ctl'), ['-D', pgdata, '-m', 'fast', '-w', 'stop']);
    await new Promise<void>((resolve) => {
      const p = spawn(c, a, { stdio: 'ignore' });
      p.on('exit', () => resolve());
      p.on('error', () => resolve());
    });
    log('stopped');
  };
  try {
    createDatabaseIfMissing(bin, opts.port, opts.database);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port: opts.port, stop };
}

function createDatabaseIfMissing(bin: string, port: number, database: string): void {
  const [pc, pa] = asPgUser(path.join(bin, 'psql'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-tAc',
    `SELECT 1 FROM pg_database WHERE datname = '${database}'`,
    'postgres',
  ]);
  const exists = execFileSync(pc, pa, { encoding: 'utf8' }).trim() === '1';
  if (!exists) {
    const [cc, ca] = asPgUser(path.join(bin, 'createdb'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      database,
    ]);
    execFileSync(cc, ca, { stdio: 'inherit' });
  }
}
