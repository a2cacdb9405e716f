/** `npm run migrate`: applies pending database migrations (all registered domain modules). */
import { loadConfig } from '../config';
import { createOrm, migrate } from '../db/orm';
import { fatal } from './lifecycle';

async function main(): Promise<void> {
  const config = loadConfig();
  const orm = await createOrm(config.DATABASE_URL, 2);
  try {
    const pending = await orm.getMigrator().getPendingMigrations();
    if (pending.length === 0) {
      process.stdout.write('database is up to date (no pending migrations)\n');
      return;
    }
    const applied = await migrate(orm);
    for (const name of applied) process.stdout.write(`applied ${name}\n`);
    process.stdout.write(`${applied.length} migration(s) applied\n`);
  } finally {
    await orm.close(true);
  }
}

main().catch(fatal('migrate'));
