/**
 * The MikroORM instance, built from the database layer's registry (./schema.ts: every domain's entities and
 * migrations; no routes, services or workflows).
 * Entities use `defineEntity` (no decorators) and SQL goes through MikroORM's connection, so that the
 * move to MikroORM 7 stays small.
 */
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { allEntities, allMigrations } from './schema';
import { SESSION_OPTIONS } from './session';

export type Orm = MikroORM;

export type { MigrationEntry } from './migration';

/**
 * `acquireTimeoutMs`: how long a query waits for a pooled connection (or for a new one to open) before it
 * fails; with PostgreSQL down or restarting the API then answers 503 within that time instead of hanging.
 */
export function ormOptions(url: string, poolMax = 20, acquireTimeoutMs = 5000): Options {
  return {
    clientUrl: url,
    entities: allEntities(),
    extensions: [Migrator],
    pool: { min: 0, max: poolMax, acquireTimeoutMillis: acquireTimeoutMs },
    driverOptions: {
      acquireConnectionTimeout: acquireTimeoutMs,
      connection: { connectionTimeoutMillis: acquireTimeoutMs, options: SESSION_OPTIONS },
    },
    debug: process.env.TALLY_SQL_DEBUG === '1',
    allowGlobalContext: false,
    forceUtcTimezone: true,
    discovery: { warnWhenNoEntities: false },
    migrations: {
      migrationsList: [...allMigrations()].sort((a, b) => a.name.localeCompare(b.name)),
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
  };
}

export async function createOrm(url: string, poolMax?: number, acquireTimeoutMs?: number): Promise<Orm> {
  return MikroORM.init(ormOptions(url, poolMax, acquireTimeoutMs));
}

export async function migrate(orm: Orm): Promise<string[]> {
  const done = await orm.getMigrator().up();
  return done.map((m) => m.name);
}
