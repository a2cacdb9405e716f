/**
 * src/db/prepared.ts: the hot read paths' named prepared statements answer exactly what MikroORM's
 * `execute` answers (the same row shapes and type parsing), see a transaction's own writes, fall back for
 * huge statements, and really are prepared (server-side, per connection).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  closePreparedPools,
  execPrepared,
  MAX_BIND_PARAMS,
  positional,
  statementName,
} from '../../src/db/prepared';
import { exec, Sql } from '../../src/db/sql';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.orm.em
    .fork()
    .execute(
      'create table prep_probe (id int primary key, at timestamptz, d date, span interval, amount numeric, tags text[], doc jsonb, big bigint, note text)',
    );
});
afterAll(async () => {
  await closePreparedPools();
  await db?.drop();
});
const em = (): EntityManager => db.orm.em.fork();

it('numbers the placeholders in order', () => {
  expect(positional('select ?::int, ? where x = ? or y in (?, ?)')).toBe(
    'select $1::int, $2 where x = $3 or y in ($4, $5)',
  );
  expect(positional('select 1')).toBe('select 1');
  const a = statementName('select $1::int');
  expect(a).toMatch(/^tally_[0-9a-f]{24}$/);
  expect(statementName('select $1::int')).toBe(a);
  expect(statementName('select $1::text')).not.toBe(a);
});

it('answers the same rows as exec: timestamps, dates and intervals as text, numeric and bigint as strings, jsonb parsed, arrays, nulls', async () => {
  await em().execute(
    `insert into prep_probe values
      (1, '2026-01-31 23:59:59.123456+00', '2026-02-01', '1 day 02:00:00', 12.3400, '{a,"b c"}', '{"k":[1,{"x":null}]}', 9007199254740993, 'é'),
      (2, null, null, null, null, null, null, null, null)`,
  );
  const q = () =>
    new Sql().add(
      'select id, at, d, span, amount, tags, doc, big, note, ?::timestamptz as param_at, ?::int as n from prep_probe where id in (?, ?) order by id',
      '2026-03-01T00:00:00.000Z',
      7,
      1,
      2,
    );
  const viaOrm = await exec(em(), q());
  const viaPrepared = await execPrepared(em(), q());
  expect(viaPrepared).toEqual(viaOrm);
  expect(viaPrepared[0]).toMatchObject({
    amount: '12.3400',
    big: '9007199254740993',
    n: 7,
    tags: ['a', 'b c'],
  });
  expect(typeof viaPrepared[0].at).toBe('string');
  // again (the named statement now exists on that connection): same answer
  expect(await execPrepared(em(), q())).toEqual(viaOrm);
});

it('runs as a named statement on its connection, with bind parameters', async () => {
  const q = () =>
    new Sql().add(
      'select name, parameter_types::text as types from pg_prepared_statements where ?::int = ?',
      1,
      1,
    );
  // the pool may hand out different connections: ask until one has prepared it before (at most max tries)
  let seen: { name: string; types: string }[] = [];
  for (let i = 0; i < 12 && !seen.some((s) => s.name === statementName(positional(q().text))); i++)
    seen = await execPrepared<{ name: string; types: string }>(em(), q());
  const mine = seen.find((s) => s.name === statementName(positional(q().text)));
  expect(mine?.types).toBe('{integer,integer}');
});

it('inside a transaction it runs on the transaction (sees its uncommitted writes)', async () => {
  await em()
    .transactional(async (tem) => {
      await tem.execute(`insert into prep_probe (id, note) values (10, 'uncommitted')`);
      const rows = await execPrepared<{ note: string }>(
        tem,
        new Sql().add('select note from prep_probe where id = ?', 10),
      );
      expect(rows).toEqual([{ note: 'uncommitted' }]);
      throw new Error('roll back');
    })
    .catch((e: Error) => expect(e.message).toBe('roll back'));
  expect(await execPrepared(em(), new Sql().add('select note from prep_probe where id = ?', 10))).toEqual([]);
});

it('a statement with more values than a bind message carries still runs (inlined)', async () => {
  const n = Math.max(MAX_BIND_PARAMS + 1, 70_000);
  const ids = Array.from({ length: n }, (_, i) => i);
  const q = new Sql().add('select count(*)::text as c from (values ');
  ids.forEach((x, i) => q.add(i ? ', (?::int)' : '(?::int)', x));
  const rows = await execPrepared<{ c: string }>(em(), q.add(') v(x)'));
  expect(rows).toEqual([{ c: String(n) }]);
});
