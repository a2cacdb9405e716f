/**
 * The event log: ingestion (`ingestEvents`: one statement per validated batch, deduplicated on
 * (source, id), numbers stored exactly as sent) and listing (`listEvents`: newest first, keyset-paged,
 * each event with the customer owning its subject at its time and its `validation_errors`).
 * Owns `events`; customers' ownership windows come from `customers` (`subjectWindows`, `customerAtSql`).
 */
import type { EntityManager } from '@mikro-orm/core';
import { customerAtSql, subjectWindows, type SubjectWindow } from '../customers/service';
import { exec, Sql } from '../db/sql';
import { invalid } from '../lib/errors';
import { looksLikeId } from '../lib/ids';
import { logger } from '../lib/logger';
import { decodeCursor, encodeCursor } from './cursor';
import { unstorableNumber, type IngestEvent } from './events';
import { dataTexts, insertBatch } from './ingest';
import { whereFilter, type FieldFilter } from '../lib/list-query';
import { tsSql } from './time';
import { eventValidationErrors } from './validation-errors';
import { eventView, type EventRow, type IngestedEventDto } from './views';

// ---------------------------------------------------------------------------------------------------
// Ingestion

/**
 * Stores a validated batch in ONE statement (see `insertBatch`): duplicates (same source and id) within the
 * batch collapse to the first occurrence and those already stored are skipped (`on conflict do nothing`),
 * so concurrent resends are safe and cannot deadlock. Resolves once the statement has committed. Returns
 * how many rows were new. `raw`, when given, is the request's JSON array text (a single event as
 * `[<event>]`) that validated to `events`: it is stored as is, so every number is kept exactly as sent,
 * whichever the path. `opts.single` names problems `body.<field>` instead of `body[i].<field>`.
 */
export async function ingestEvents(
  em: EntityManager,
  events: IngestEvent[],
  receivedAt: Date,
  raw?: Buffer | string,
  opts: { single?: boolean } = {},
): Promise<number> {
  if (events.length === 0) return 0;
  if (!raw) return insertBatch(em, JSON.stringify(events), receivedAt);
  try {
    return await insertBatch(em, raw, receivedAt);
  } catch (err) {
    if (!UNSTORABLE_JSON.has((err as { code?: string }).code ?? '')) throw err;
    logger.debug({ code: (err as { code?: string }).code }, 'raw batch not storable as jsonb');
  }
  return insertBatch(em, await exactBatch(em, events, raw, opts.single ?? false), receivedAt);
}

/** SQLSTATEs of JSON text that parses in JavaScript but not as PostgreSQL jsonb */
const UNSTORABLE_JSON = new Set(['22P05', '22P02', '22003', '54001']);

/**
 * The slow path, when PostgreSQL's jsonb refused the request's text: a number jsonb cannot hold in an
 * event's `data` is a 400 naming the event; otherwise (the offender was an extension attribute, which is
 * not stored) the batch is rebuilt from the validated fields and each `data`'s own text, so numbers stay
 * exact. Text that even the `json` type refuses (U+0000 or a lone surrogate escape outside the validated
 * fields, nesting too deep) is a 400 naming the body.
 */
async function exactBatch(
  em: EntityManager,
  events: IngestEvent[],
  raw: Buffer | string,
  single: boolean,
): Promise<string> {
  let texts: (string | null)[];
  try {
    texts = await dataTexts(em, raw);
  } catch (err) {
    if (!UNSTORABLE_JSON.has((err as { code?: string }).code ?? '')) throw err;
    throw invalid(single ? 'the event cannot be stored' : 'the batch cannot be stored; nothing was stored', [
      { field: 'body', reason: `holds JSON that PostgreSQL cannot store: ${(err as Error).message}` },
    ]);
  }
  if (texts.length !== events.length) throw new Error('raw batch and validated events differ in length');
  const errors = texts.flatMap((t, i) => {
    const bad = t === null ? undefined : unstorableNumber(t);
    if (bad === undefined) return [];
    const shown = bad.length > 40 ? `${bad.slice(0, 40)}…` : bad;
    return [
      {
        field: single ? 'body.data' : `body[${i}].data`,
        reason: `holds the number ${shown}, which cannot be stored (at most 131072 digits before the point and 16383 after)`,
        ...(single ? {} : { index: i }),
      },
    ];
  });
  if (errors.length)
    throw invalid(
      single ? 'the event is invalid' : `${errors.length} event(s) are invalid; nothing was stored`,
      errors,
    );
  const parts = events.map((ev, i) => {
    const head = JSON.stringify({ ...ev, data: undefined });
    return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"data":${texts[i] ?? 'null'}}`;
  });
  return `[${parts.join(',')}]`;
}

// ---------------------------------------------------------------------------------------------------
// Listing

/** a time-range filter: any of its bounds (together: all must hold) */
export interface TimeRange {
  gte?: string;
  gt?: string;
  lt?: string;
  lte?: string;
  eq?: string;
}

export interface EventListQuery {
  /** OpenMeter's StringFieldFilter on each (a plain string is `eq`) */
  id?: FieldFilter | string;
  source?: FieldFilter | string;
  subject?: FieldFilter | string;
  type?: FieldFilter | string;
  /** the events of any of these customers (ids or keys): OpenMeter's `eq` / `oeq` */
  customer_id?: string | string[];
  time?: TimeRange;
  ingested_at?: TimeRange;
  stored_at?: TimeRange;
  size: number;
  after?: string;
  /** the page that ends just before this cursor (`meta.page.previous`); not with `after` */
  before?: string;
  /** oldest first (`sort=time asc`); default newest first */
  asc?: boolean;
  /** internal: the query parameter a bad cursor is reported as */
  cursorField?: string;
}

const asFilter = (f: FieldFilter | string | undefined): FieldFilter | undefined =>
  typeof f === 'string' ? { op: 'eq', value: f } : f;

/** Columns of a listed event row (shared by the plain and the per-subject listing). */
const EVENT_COLS = `e.source, e.id, e.type, e.subject, e.time as t, ${tsSql('e.time')} as time, e.data::text as data,
  e.specversion, e.datacontenttype, e.dataschema, ${tsSql('e.ingested_at')} as ingested_at,
  ${tsSql('e.stored_at')} as stored_at`;

const RANGE_OPS = { gte: '>=', gt: '>', lt: '<', lte: '<=', eq: '=' } as const;

/** `and ...` conditions of every filter but the customer's, and the cursor's position */
function eventFilters(q: Sql, f: EventListQuery): void {
  for (const col of ['id', 'source', 'subject', 'type'] as const) {
    const ff = asFilter(f[col]);
    if (!ff) continue;
    q.add(' and ');
    whereFilter(q, `e.${col}`, ff);
  }
  for (const col of ['time', 'ingested_at', 'stored_at'] as const) {
    for (const [op, sym] of Object.entries(RANGE_OPS)) {
      const v = f[col]?.[op as keyof typeof RANGE_OPS];
      if (v !== undefined) q.add(` and e.${col} ${sym} ?::timestamptz`, v);
    }
  }
  if (f.after !== undefined) {
    const c = decodeCursor(f.after, f.cursorField);
    // the first conjunct is implied by the second; it lets the (subject, time) / (time) indexes range-scan
    const [le, lt] = f.asc ? ['>=', '>'] : ['<=', '<'];
    q.add(` and e.time ${le} ?::timestamptz`, c.time);
    q.add(` and (e.time, e.source, e.id) ${lt} (?::timestamptz, ?, ?)`, c.time, c.source, c.id);
  }
}

const dir = (f: EventListQuery) => (f.asc ? 'asc' : 'desc');
const eventOrder = (f: EventListQuery, alias = 'e', t = 'time') =>
  ` order by ${alias}.${t} ${dir(f)}, ${alias}.source ${dir(f)}, ${alias}.id ${dir(f)}`;

/** comparable form of `tsSql`/`normalizeTs` text (3 or 6 fractional digits) */
const tsKey = (s: string): string => s.replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * One window per stretch of time a customer owned a name: a customer holding a name both as its key and
 * as a subject (or re-claiming a subject) has overlapping windows, which would list an event twice.
 */
export function mergeWindows(ws: SubjectWindow[]): SubjectWindow[] {
  const lo = (w: SubjectWindow) => (w.from === undefined ? '' : tsKey(w.from));
  const sorted = [...ws].sort((x, y) =>
    x.subject !== y.subject ? (x.subject < y.subject ? -1 : 1) : lo(x) < lo(y) ? -1 : lo(x) > lo(y) ? 1 : 0,
  );
  const out: SubjectWindow[] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last && last.subject === w.subject && (last.to === undefined || lo(w) <= tsKey(last.to))) {
      if (last.to !== undefined && (w.to === undefined || tsKey(w.to) > tsKey(last.to))) {
        if (w.to === undefined) delete last.to;
        else last.to = w.to;
      }
    } else out.push({ ...w });
  }
  return out;
}

/** at most this many customers in one `filter[customer_id][oeq]` */
export const MAX_CUSTOMER_FILTER = 100;

/**
 * The SQL of one page (`size + 1` rows, newest first, or oldest first with `asc`) of `GET /events`.
 * - With a customer filter: the customers' ownership windows are read first (one small statement each),
 *   then, per window, an index scan of (subject, time) within the window, limited to `size + 1` rows, and
 *   the merged rows limited again — a few index probes per owned name, whatever the table size or the
 *   customer's volume. Every row is its window's customer's by construction (the window holds its time).
 * - Otherwise: the filtered page first (time index, backwards or forwards), the owning customer computed for
 *   its rows only.
 * Returns null when the customer filter names no customer (or none of its names pass a subject `eq`).
 */
async function eventPageSql(em: EntityManager, f: EventListQuery): Promise<Sql | null> {
  const n = f.size + 1;
  const d = dir(f);
  if (f.customer_id !== undefined) {
    const ids = [
      ...new Set(
        (Array.isArray(f.customer_id) ? f.customer_id : [f.customer_id]).map((id) =>
          looksLikeId(id) ? id.toUpperCase() : id,
        ),
      ),
    ];
    if (ids.length > MAX_CUSTOMER_FILTER)
      throw invalid('query parameters are invalid', [
        { field: 'query.filter[customer_id]', reason: `at most ${MAX_CUSTOMER_FILTER} customers` },
      ]);
    const subject = asFilter(f.subject);
    const windows: (SubjectWindow & { customer_id: string })[] = [];
    for (const customerId of ids) {
      // windows merged per customer: adjacent windows of two customers (a transfer) stay apart
      const own = mergeWindows(
        (await subjectWindows(em, customerId)).filter(
          (w) => subject?.op !== 'eq' || w.subject === subject.value,
        ),
      );
      windows.push(...own.map((w) => ({ ...w, customer_id: customerId })));
    }
    if (!windows.length) return null;
    // one customer (the common case): its id is a constant and the windows carry none, so the statement is
    // exactly the one events-list measures; several (`oeq`): each window carries its customer's id
    const one = ids.length === 1 ? ids[0] : undefined;
    // 1. the page's far end: the n first times (in the page's order) over all windows, from narrow
    //    (subject, time) scans (index-only when nothing but subject and time is filtered); 2. the page's
    //    keys: per window, only rows up to that time (most windows: none); 3. those rows read whole
    const scan = (q: Sql, cols: string) =>
      q.add(
        ` cross join lateral (select ${cols} from events e where e.subject = w.subject` +
          ` and e.time >= coalesce(w.owned_from, '-infinity') and e.time < coalesce(w.owned_to, 'infinity')`,
      );
    const q = new Sql().add(
      `with w as materialized (select * from jsonb_to_recordset(?::jsonb)
         w(subject text, owned_from timestamptz, owned_to timestamptz${one ? '' : ', customer_id text'})),
       bound as (select ${f.asc ? 'max' : 'min'}(x.t) as t from (select u.t from w`,
      JSON.stringify(
        windows.map((w) => ({
          subject: w.subject,
          owned_from: w.from,
          owned_to: w.to,
          ...(one ? {} : { customer_id: w.customer_id }),
        })),
      ),
    );
    scan(q, 'e.time as t');
    eventFilters(q, f);
    q.add(` order by e.time ${d} limit ?) u order by u.t ${d} limit ?) x),`, n, n);
    q.add(` page as (select u.t, u.source, u.id${one ? '' : ', w.customer_id'} from w`);
    scan(q, 'e.time as t, e.source, e.id');
    q.add(` and e.time ${f.asc ? '<=' : '>='} (select bound.t from bound)`);
    eventFilters(q, f);
    q.add(`${eventOrder(f)} limit ?) u${eventOrder(f, 'u', 't')} limit ?)`, n, n);
    q.add(
      ` select ${EVENT_COLS}, ${one ? '?::text' : 'page.customer_id'} as customer_id from page
         join events e on e.source = page.source and e.id = page.id
       ${eventOrder(f, 'page', 't')}`,
      ...(one ? [one] : []),
    );
    return q;
  }
  const q = new Sql().add(`select p.*, ${customerAtSql('p.subject', 'p.t')} as customer_id
    from (select ${EVENT_COLS} from events e where true`);
  eventFilters(q, f);
  q.add(`${eventOrder(f)} limit ?) p${eventOrder(f, 'p', 't')}`, n);
  return q;
}

/**
 * One page of `GET /events`. `next` is the cursor of its last event when more follow; `previous` that of
 * its first when a page precedes it (for `page[before]`). A `before` page is read as the `after` page of
 * the opposite order from the cursor (the same statement and indexes), then put back in the list's order.
 */
export async function listEvents(
  em: EntityManager,
  f: EventListQuery,
): Promise<{
  data: IngestedEventDto[];
  meta: { page: { size: number; next: string | null; previous: string | null } };
}> {
  const backwards = f.before !== undefined;
  const sql = backwards
    ? { ...f, asc: !f.asc, after: f.before, before: undefined, cursorField: 'query.page[before]' }
    : f;
  const q = await eventPageSql(em, sql);
  const rows = !q ? [] : await exec<EventRow>(em, q);
  const more = rows.length > f.size;
  const page = more ? rows.slice(0, f.size) : rows;
  if (backwards) page.reverse();
  const first = page[0];
  const last = page[page.length - 1];
  const cursor = (r: EventRow) => encodeCursor({ time: r.time, source: r.source, id: r.id });
  // forwards: more after it when the statement found one more row; something before it when it started at
  // a cursor. Backwards: the reverse.
  const hasNext = backwards ? true : more;
  const hasPrevious = backwards ? more : f.after !== undefined;
  const problems = await eventValidationErrors(em, page);
  return {
    data: page.map((r, i) => eventView(r, problems[i])),
    meta: {
      page: {
        size: f.size,
        next: hasNext && last ? cursor(last) : null,
        previous: hasPrevious && first ? cursor(first) : null,
      },
    },
  };
}
