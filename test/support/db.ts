/**
 * Each test file gets its own database, cloned from the migrated template that `npm test` prepared.
 */
import { randomBytes } from 'node:crypto';
import { createOrm, type Orm } from '../../src/db/orm';

function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the suite with \`npm test\`, which starts PostgreSQL`);
  return v;
}

export interface TestDatabase {
  orm: Orm;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const templateUrl = requireEnv('TALLY_TEST_DATABASE_URL');
  const template = requireEnv('TALLY_TEST_TEMPLATE_DB');
  const name = `tally_t_${randomBytes(6).toString('hex')}`;
  const adminUrl = new URL(templateUrl);
  adminUrl.pathname = '/postgres';
  const admin = await createOrm(adminUrl.toString(), 1);
  await admin.em.getConnection().execute(`create database ${name} template ${template}`);
  const url = new URL(templateUrl);
  url.pathname = `/${name}`;
  const orm = await createOrm(url.toString(), 10);
  return {
    orm,
    url: url.toString(),
    async drop() {
      await orm.close(true);
      await admin.em.getConnection().execute(`drop database if exists ${name} with (force)`);
      await admin.close(true);
    },
  };
}
