/**
 * A throw-away PostgreSQL for benchmarks, started like `npm test` does (scripts/lib/postgres.ts, a temp
 * data dir, a free port) — or DATABASE_URL's server with a fresh database — migrated with every module.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createOrm, migrate, type Orm } from '../../src/db/orm';
import { ensurePostgres, type RunningPostgres } from '../../scripts/lib/postgres';
import { freePort } from '../../scripts/lib/net';
import { progress } from './progress';

export interface BenchDatabase {
  /** a new, migrated, empty database on the same server (each benchmark gets its own) */
  fresh(name: string, poolMax?: number): Promise<{ orm: Orm; url: string }>;
  stop(): Promise<void>;
}

export async function startBenchDatabase(): Promise<BenchDatabase> {
  let pg: RunningPostgres | undefined;
  let tmp: string | undefined;
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tally-bench-pg-'));
    chmodSync(tmp, 0o755);
    pg = await ensurePostgres({ dataDir: tmp, port: await freePort(), database: 'tally_bench' });
    baseUrl = pg.url;
  }
  const adminUrl = new URL(baseUrl);
  adminUrl.pathname = '/postgres';
  const admin = await createOrm(adminUrl.toString(), 1);
  const opened: Orm[] = [];
  const fresh = async (name: string, poolMax = 8) => {
    const db = `tally_bench_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
    const conn = admin.em.getConnection();
    await conn.execute(`drop database if exists ${db} with (force)`);
    await conn.execute(`create database ${db}`);
    const url = new URL(baseUrl);
    url.pathname = `/${db}`;
    const orm = await createOrm(url.toString(), poolMax);
    opened.push(orm);
    const applied = await migrate(orm);
    progress(`database ${db} migrated (${applied.length} migrations)`);
    return { orm, url: url.toString() };
  };
  return {
    fresh,
    async stop() {
      for (const o of opened) await o.close(true);
      await admin.close(true);
      await pg?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}
