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

export interface EventListQuery {
  id?: string;
  source?: string;
  subject?: string;
  type?: string;
  customer_id?: string;
  time?: { gte?: string; gt?: string; lt?: string; lte?: string; eq?: string };
  size: number;
  after?: string;
}

/** Columns of a listed event row (shared by the plain and the per-subject listing). */
const EVENT_COLS = `e.source, e.id, e.type, e.subject, e.time as t, ${tsSql('e.time')} as time, e.data::text as data,
  e.specversion, e.datacontenttype, e.dataschema, ${tsSql('e.ingested_at')} as ingested_at,
  ${tsSql('e.stored_at')} as stored_at`;

/** `and ...` conditions of every filter but the customer's (subject included unless `withSubject` is false) */
function eventFilters(q: Sql, f: EventListQuery, withSubject: boolean): void {
  if (f.id !== undefined) q.add(' and e.id = ?', f.id);
  if (f.source !== undefined) q.add(' and e.source = ?', f.source);
  if (withSubject && f.subject !== undefined) q.add(' and e.subject = ?', f.subject);
  if (f.type !== undefined) q.add(' and e.type = ?', f.type);
  const ops = { gte: '>=', gt: '>', lt: '<', lte: '<=', eq: '=' } as const;
  for (const [op, sym] of Object.entries(ops)) {
    const v = f.time?.[op as keyof typeof ops];
    if (v !== undefined) q.add(` and e.time ${sym} ?::timestamptz`, v);
  }
  if (f.after !== undefined) {
    const c = decodeCursor(f.after);
    // the first conjunct is implied by the second; it lets the (subject, time) / (time) indexes range-scan
    q.add(' and e.time <= ?::timestamptz', c.time);
    q.add(' and (e.time, e.source, e.id) < (?::timestamptz, ?, ?)', c.time, c.source, c.id);
  }
}

const EVENT_ORDER = ' order by e.time desc, e.source desc, e.id desc';

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

/**
 * The SQL of one page (`size + 1` rows, newest first) of `GET /events`.
 * - With a customer filter: the customer's ownership windows are read first (one small statement), then,
 *   per window, an index scan of (subject, time) backwards within the window, limited to `size + 1` rows,
 *   and the merged rows limited again — a few index probes per owned name, whatever the table size or the
 *   customer's volume. Every row is the customer's by construction (its window contains the event time).
 * - Otherwise: the filtered page first (time index backwards), the owning customer computed for its rows only.
 * Returns null when the customer filter names no customer (or none of its names pass the subject filter).
 */
async function eventPageSql(em: EntityManager, f: EventListQuery): Promise<Sql | null> {
  const n = f.size + 1;
  if (f.customer_id !== undefined) {
    const customerId = looksLikeId(f.customer_id) ? f.customer_id.toUpperCase() : f.customer_id;
    const windows = mergeWindows(
      (await subjectWindows(em, customerId)).filter(
        (w) => f.subject === undefined || w.subject === f.subject,
      ),
    );
    if (!windows.length) return null;
    // 1. the page's lowest time: the n newest times over all windows, from narrow (subject, time) scans
    //    (index-only when nothing but subject and time is filtered); 2. the page's keys: per window, only
    //    rows at or after that time (most windows: none); 3. those rows read whole
    const scan = (q: Sql, cols: string) =>
      q.add(
        ` cross join lateral (select ${cols} from events e where e.subject = w.subject` +
          ` and e.time >= coalesce(w.owned_from, '-infinity') and e.time < coalesce(w.owned_to, 'infinity')`,
      );
    const q = new Sql().add(
      `with w as materialized (select * from jsonb_to_recordset(?::jsonb)
         w(subject text, owned_from timestamptz, owned_to timestamptz)),
       bound as (select min(x.t) as t from (select u.t from w`,
      JSON.stringify(windows.map((w) => ({ subject: w.subject, owned_from: w.from, owned_to: w.to }))),
    );
    scan(q, 'e.time as t');
    eventFilters(q, f, false);
    q.add(' order by e.time desc limit ?) u order by u.t desc limit ?) x),', n, n);
    q.add(' page as (select u.t, u.source, u.id from w');
    scan(q, 'e.time as t, e.source, e.id');
    q.add(' and e.time >= (select bound.t from bound)');
    eventFilters(q, f, false);
    q.add(`${EVENT_ORDER} limit ?) u order by u.t desc, u.source desc, u.id desc limit ?)`, n, n);
    q.add(
      ` select ${EVENT_COLS}, ?::text as customer_id from page
         join events e on e.source = page.source and e.id = page.id
        order by page.t desc, page.source desc, page.id desc`,
      customerId,
    );
    return q;
  }
  const q = new Sql().add(`select p.*, ${customerAtSql('p.subject', 'p.t')} as customer_id
    from (select ${EVENT_COLS} from events e where true`);
  eventFilters(q, f, true);
  q.add(`${EVENT_ORDER} limit ?) p order by p.t desc, p.source desc, p.id desc`, n);
  return q;
}

export async function listEvents(
  em: EntityManager,
  f: EventListQuery,
): Promise<{
  data: IngestedEventDto[];
  meta: { page: { size: number; next: string | null; previous: null } };
}> {
  const q = await eventPageSql(em, f);
  const rows = !q ? [] : await exec<EventRow>(em, q);
  const more = rows.length > f.size;
  const page = more ? rows.slice(0, f.size) : rows;
  const last = page[page.length - 1];
  const problems = await eventValidationErrors(em, page);
  return {
    data: page.map((r, i) => eventView(r, problems[i])),
    meta: {
      page: {
        size: f.size,
        next: more && last ? encodeCursor({ time: last.time, source: last.source, id: last.id }) : null,
        previous: null,
      },
    },
  };
}
