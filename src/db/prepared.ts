/**
 * Hot read paths as named prepared statements (the entitlement access query an API gateway calls on every
 * request). MikroORM's `execute` formats every parameter into the SQL text, so each request's text differs
 * and PostgreSQL parses and plans it afresh: for the access read model that planning cost more than the
 * execution (BENCHMARKS.md, access-load). Here the same `Sql` runs with real bind parameters as a named
 * statement on a dedicated `pg` pool: each connection parses it once, and PostgreSQL can keep its plan.
 *
 * - Outside a transaction only: inside one (`em.getTransactionContext()`) the statement runs on the
 *   transaction's connection through `exec`, so it sees the transaction's writes. A statement with more than
 *   `MAX_BIND_PARAMS` values also goes through `exec`.
 * - The statement names are bounded (`MAX_STATEMENTS` distinct texts per process; each connection prepares
 *   a name on first use); texts beyond that run unnamed, still with bind parameters.
 * - Rows come back as MikroORM's `execute` gives them: the same type parsers (dates, timestamps and
 *   intervals as text), so callers cannot tell the two paths apart.
 * - The pool belongs to the MikroORM configuration (one per database URL), is created on first use, lets the
 *   process exit while idle, and is closed by `closePreparedPools()` on shutdown. Its errors are `pg`'s,
 *   which the API maps as it maps the ORM's (src/api/problem.ts: unavailable database → 503).
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { types as pgTypes } from 'pg';
import { closeSidePools, sidePool } from './side-pools';
import { exec, type Sql } from './sql';

type OrmConfig = EntityManager['config'];

export const MAX_STATEMENTS = 256;
/**
 * Larger statements go through `exec` (values inlined): a bind message carries at most 65,535 parameters,
 * and a statement that large is rare (a batch of many customers) and costs far more to run than to plan.
 */
export const MAX_BIND_PARAMS = 2_000;

const names = new Map<string, string>();

/** MikroORM's PostgreSQL type parsers (PostgreSqlConnection): these types stay text. */
const RAW_TEXT = [1082, 1114, 1184, 1186];
const RAW_TEXT_ARRAYS = [1182, 1115, 1185, 1187];
type TypeId = Parameters<typeof pgTypes.getTypeParser>[0];
/** text[]'s parser: the elements as text (as postgres-array, which MikroORM uses) */
const arrayParser = pgTypes.getTypeParser(1009 as TypeId) as (s: string) => unknown;

/** the read pool: rows parsed as MikroORM's `execute` parses them */
const poolFor = (config: OrmConfig) =>
  sidePool(config, 'read', {
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (RAW_TEXT.includes(oid)) return (s: string) => s;
        if (RAW_TEXT_ARRAYS.includes(oid)) return arrayParser;
        return pgTypes.getTypeParser(oid, format) as (s: string) => unknown;
      }) as typeof pgTypes.getTypeParser,
    },
  });

/** `?` placeholders (the `Sql` builder's: every `?` is one) as PostgreSQL's `$1`, `$2`, … */
export function positional(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** The statement name for `text`, or undefined once `MAX_STATEMENTS` texts have names. */
export function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (!name && names.size < MAX_STATEMENTS) {
    name = `tally_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/** Runs `q` as a named prepared statement (see above); inside a transaction, as `exec` does. */
export async function execPrepared<T = Record<string, unknown>>(em: EntityManager, q: Sql): Promise<T[]> {
  if (em.getTransactionContext() || q.params.length > MAX_BIND_PARAMS) return exec<T>(em, q);
  const text = positional(q.text);
  const name = statementName(text);
  const res = await poolFor(em.config).query({
    ...(name ? { name } : {}),
    text,
    values: q.params,
  });
  return res.rows as T[];
}

/** Closes every read pool (process shutdown, end of a benchmark). */
export const closePreparedPools = (): Promise<void> => closeSidePools('read');
