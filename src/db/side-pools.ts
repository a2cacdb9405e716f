/**
 * `pg` pools beside MikroORM's, for the paths where the ORM's `execute` costs too much (it formats every
 * value into the SQL text): event ingestion (`src/metering/ingest.ts`, a batch as one bind parameter) and
 * the prepared hot reads (`prepared.ts`). One pool per ORM configuration (database URL) and purpose, sized
 * and bounded like the ORM's (waiting for a connection longer than its acquire timeout is an error the API
 * answers with 503), created on first use, letting the process exit while idle, closed on shutdown.
 */
import type { EntityManager } from '@mikro-orm/core';
import { Pool, type PoolConfig } from 'pg';
import { logger } from '../lib/logger';
import { SESSION_OPTIONS } from './session';

type OrmConfig = EntityManager['config'];
export type SidePoolPurpose = 'ingest' | 'read';

const pools = new Map<SidePoolPurpose, Map<OrmConfig, Pool>>();

/** The `purpose` pool of the ORM configuration `config` (`extra`: e.g. type parsers, on creation only). */
export function sidePool(config: OrmConfig, purpose: SidePoolPurpose, extra: Partial<PoolConfig> = {}): Pool {
  let byConfig = pools.get(purpose);
  if (!byConfig) pools.set(purpose, (byConfig = new Map<OrmConfig, Pool>()));
  let pool = byConfig.get(config);
  if (!pool) {
    const url = config.get('clientUrl');
    if (!url) throw new Error(`the ${purpose} pool needs the ORM clientUrl`);
    pool = new Pool({
      connectionString: url,
      max: config.get('pool')?.max ?? 10,
      connectionTimeoutMillis: config.get('pool')?.acquireTimeoutMillis ?? 5000,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      application_name: `tally-${purpose}`,
      options: SESSION_OPTIONS,
      ...extra,
    });
    // an idle connection that the server closes (restart, dropped test database) must not crash the process
    pool.on('error', (err) => logger.warn({ err }, `${purpose} pool: idle connection lost`));
    byConfig.set(config, pool);
  }
  return pool;
}

/** Closes every `purpose` pool (process shutdown, end of a benchmark). */
export async function closeSidePools(purpose: SidePoolPurpose): Promise<void> {
  const all = [...(pools.get(purpose)?.values() ?? [])];
  pools.get(purpose)?.clear();
  await Promise.all(all.map((p) => p.end()));
}
