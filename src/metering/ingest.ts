/**
 * The event write path. Ingestion does not go through MikroORM's `execute`: that formats every parameter
 * into the SQL text on the client (a character-by-character `escapeLiteral` of a 1 MB JSON batch), which
 * was the largest single cost of `POST /events` in Node. Instead a dedicated `pg` pool per database sends
 * the batch as a real bind parameter — the request's own bytes when possible (no `JSON.stringify` of the
 * parsed events), as a binary `jsonb` parameter (PostgreSQL's binary `jsonb` format is a version byte and
 * the UTF-8 text).
 *
 * The pool (`src/db/side-pools.ts`) belongs to the MikroORM configuration (one per database URL an app
 * uses), is created on first use, lets the process exit while idle, and is closed by `closeIngestPools()`.
 */
import type { EntityManager } from '@mikro-orm/core';
import { closeSidePools, sidePool } from '../db/side-pools';
import { INGEST_ROLLUP_CTES } from './rollups';

type OrmConfig = EntityManager['config'];

const poolFor = (config: OrmConfig) => sidePool(config, 'ingest');

/** Closes every ingestion pool (process shutdown, end of a benchmark). */
export const closeIngestPools = (): Promise<void> => closeSidePools('ingest');

/**
 * One statement per batch. `jsonb_to_recordset` parses the batch once, straight into typed columns (`data`
 * comes out as jsonb without a second parse, which `json_to_recordset` needs); the
 * defaults that validation applies (`time` = receipt time, `specversion` = "1.0") are applied here too, so
 * the raw request body can be stored as is. `seq` (the ingestion order that breaks `latest` ties) is drawn
 * in the batch's order (the function scan's); then one sort on (source, id, seq) both drops repeated ids
 * (keeping the first occurrence) and gives the insert order: concurrent batches that share ids take their
 * unique-index waits in one global order and cannot deadlock. `on conflict do nothing` skips ids already
 * stored, so resends are idempotent. `wide` says which partial (type, subject, time) index takes the row.
 * The stored rows older than their meters' `roll_to` are added to the rollups in the same statement
 * (`INGEST_ROLLUP_CTES`, see `rollups.ts`).
 */
const JSONB_V1 = Buffer.from([1]);

/**
 * A row is `wide` (kept out of the covering index, see MeteringWideEvents) when type, subject and data
 * take more than this many bytes uncompressed (as measured here, before any compression): a btree entry
 * holds at most 2,704 bytes, and the entry's header, time and alignment need less than the 104 left.
 */
export const WIDE_BYTES = 2600;

const INSERT_BATCH = `
  with ins as (
  insert into events (source, id, type, subject, time, data, specversion, datacontenttype, dataschema,
    ingested_at, seq, wide)
  overriding system value
  select distinct on (s.source, s.id)
    s.source, s.id, s.type, s.subject, coalesce(s.time, $1::timestamptz), s.data,
    coalesce(s.specversion, '1.0'), s.datacontenttype, s.dataschema, $1::timestamptz, s.seq,
    pg_column_size(s.type) + pg_column_size(s.subject) + coalesce(pg_column_size(s.data), 0) > ${WIDE_BYTES}
  from (
    select r.*, nextval((select pg_get_serial_sequence('events', 'seq'))::regclass) as seq
    from jsonb_to_recordset($2::jsonb) as r(source text, id text, type text, subject text, time timestamptz,
      data jsonb, specversion text, datacontenttype text, dataschema text)
  ) s
  order by s.source, s.id, s.seq
  on conflict (source, id) do nothing
  returning type, subject, time, data, seq),
  ${INGEST_ROLLUP_CTES}
  select count(*)::int as n from ins`;

/**
 * Stores a batch already validated by `validateEvents`: `batch` is either the JSON text of the validated
 * events or the request's own UTF-8 JSON array (a Buffer; only when it is exactly what was validated).
 * Resolves once the statement has committed; returns how many rows were new.
 */
export async function insertBatch(
  em: EntityManager,
  batch: string | Buffer,
  receivedAt: Date,
): Promise<number> {
  // a Buffer goes as a binary parameter: jsonb's binary format is a version byte (1), then the JSON text
  const param = typeof batch === 'string' ? batch : Buffer.concat([JSONB_V1, batch]);
  const res = await poolFor(em.config).query<{ n: number }>(INSERT_BATCH, [receivedAt.toISOString(), param]);
  return res.rows[0]?.n ?? 0;
}

/**
 * The exact JSON text of each event's `data` member (null when absent) of a JSON array, by PostgreSQL's
 * `json` type, which keeps the text as sent (numbers are not converted): the slow path's way to look at
 * numbers that `jsonb` could not take. The last of repeated `data` keys wins, as in jsonb and JSON.parse.
 */
export async function dataTexts(em: EntityManager, batch: string | Buffer): Promise<(string | null)[]> {
  const res = await poolFor(em.config).query<{ data: string | null }>(
    `select (select j.value::text from json_each(k.e) with ordinality as j(key, value, o)
              where j.key = 'data' order by j.o desc limit 1) as data
       from json_array_elements($1::json) with ordinality as k(e, i) order by k.i`,
    [typeof batch === 'string' ? batch : batch.toString('utf8')],
  );
  return res.rows.map((r) => r.data);
}
