/**
 * Metering: event ingestion and listing, meters, and the exact usage aggregation that billing uses.
 * All event work is raw SQL (one statement per ingested batch; one indexed statement per aggregation).
 */
import type { EntityManager } from '@mikro-orm/core';
import { invalid, conflict, notFound } from '../lib/errors';
import { customerAtSql, subjectWindows, subjectWindowsSql, type SubjectWindow } from '../customers/service';
import { idOrKey, looksLikeId, newId } from '../lib/ids';
import { logger } from '../lib/logger';
import { RawJson } from '../lib/raw-json';
import { textProblem } from '../lib/text';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import type { Aggregation } from './entities';
import { unstorableNumber, type IngestEvent } from './events';
import { dataTexts, insertBatch } from './ingest';
import { jsonPathToPg } from './jsonpath';
import { exec, Sql } from '../db/sql';
import { normalizeTs, tsSql } from './time';

// ---------------------------------------------------------------------------------------------------
// Meters

export interface MeterDto {
  id: string;
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  aggregation: Aggregation;
  event_type: string;
  value_property?: string;
  dimensions?: Record<string, string>;
  events_from?: string;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
}

export type CreateMeterInput = Omit<MeterDto, 'id' | 'created_at' | 'updated_at' | 'deleted_at'>;

export interface UpdateMeterInput {
  name?: string;
  description?: string | null;
  labels?: Record<string, string> | null;
  dimensions?: Record<string, string>;
}

interface MeterRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  labels: Record<string, string> | null;
  aggregation: Aggregation;
  event_type: string;
  value_property: string | null;
  dimensions: Record<string, string> | null;
  events_from: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

const METER_COLS = `id, key, name, description, labels, aggregation, event_type, value_property, dimensions,
  ${tsSql('events_from')} as events_from, ${tsSql('created_at')} as created_at,
  ${tsSql('updated_at')} as updated_at, ${tsSql('deleted_at')} as deleted_at`;

function toDto(r: MeterRow): MeterDto {
  return {
    id: r.id,
    key: r.key,
    name: r.name,
    ...(r.description !== null ? { description: r.description } : {}),
    ...(r.labels !== null ? { labels: r.labels } : {}),
    aggregation: r.aggregation,
    event_type: r.event_type,
    ...(r.value_property !== null ? { value_property: r.value_property } : {}),
    dimensions: r.dimensions ?? {},
    ...(r.events_from !== null ? { events_from: normalizeTs(r.events_from) } : {}),
    created_at: normalizeTs(r.created_at),
    updated_at: normalizeTs(r.updated_at),
    ...(r.deleted_at !== null ? { deleted_at: normalizeTs(r.deleted_at) } : {}),
  };
}

const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === '23505';

export async function createMeter(em: EntityManager, input: CreateMeterInput): Promise<MeterDto> {
  const q = new Sql().add(
    `insert into meters (id, key, name, description, labels, aggregation, event_type, value_property,
       dimensions, events_from)
     values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?::timestamptz)
     returning ${METER_COLS}`,
    newId(),
    input.key,
    input.name,
    input.description ?? null,
    input.labels ? JSON.stringify(input.labels) : null,
    input.aggregation,
    input.event_type,
    input.value_property ?? null,
    JSON.stringify(input.dimensions ?? {}),
    input.events_from ?? null,
  );
  try {
    const [row] = await exec<MeterRow>(em, q);
    return toDto(row);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`a meter with key ${input.key} already exists`);
    throw e;
  }
}

/** A live meter by id (shaped like a ULID, any case) or else key; 404 when missing or deleted. */
export async function getMeter(
  em: EntityManager,
  idOrKeyText: string,
  opts: { includeDeleted?: boolean } = {},
): Promise<MeterDto> {
  const q = new Sql().add(
    `select ${METER_COLS} from meters where ${opts.includeDeleted ? '' : 'deleted_at is null and '}`,
  );
  const ref = idOrKey(idOrKeyText);
  if ('id' in ref) q.add('id = ?', ref.id);
  else q.add('key = ?', ref.key);
  const [row] = await exec<MeterRow>(em, q);
  if (!row) throw notFound('meter', idOrKeyText);
  return toDto(row);
}

export interface MeterListFilter {
  key?: string;
  name?: string;
}

export async function listMeters(
  em: EntityManager,
  filter: MeterListFilter,
  page: PageParams,
): Promise<Page<MeterDto>> {
  const where = new Sql().add(' from meters where deleted_at is null');
  if (filter.key !== undefined) where.add(' and key = ?', filter.key);
  if (filter.name !== undefined) where.add(' and name = ?', filter.name);
  const { limit, offset } = pageOffset(page);
  const rows = await exec<MeterRow>(
    em,
    new Sql()
      .add(`select ${METER_COLS}`)
      .add(where.text, ...where.params)
      .add(' order by created_at, id limit ? offset ?', limit, offset),
  );
  const [{ n }] = await exec<{ n: string }>(
    em,
    new Sql().add('select count(*) as n').add(where.text, ...where.params),
  );
  return toPage(rows.map(toDto), Number(n), page);
}

export async function updateMeter(
  em: EntityManager,
  idOrKey: string,
  input: UpdateMeterInput,
): Promise<MeterDto> {
  const meter = await getMeter(em, idOrKey);
  const q = new Sql().add('update meters set updated_at = now()');
  if (input.name !== undefined) q.add(', name = ?', input.name);
  if (input.description !== undefined) q.add(', description = ?', input.description);
  if (input.labels !== undefined)
    q.add(', labels = ?::jsonb', input.labels === null ? null : JSON.stringify(input.labels));
  if (input.dimensions !== undefined) {
    const removed = Object.keys(meter.dimensions ?? {}).filter((d) => !(d in (input.dimensions ?? {})));
    const users = await featuresFilteringOn(em, meter.id, removed);
    if (users.length) {
      throw conflict(
        `dimensions of meter ${meter.key} are still used by feature filters: ${users.join(', ')}`,
      );
    }
    q.add(', dimensions = ?::jsonb', JSON.stringify(input.dimensions));
  }
  q.add(` where id = ? and deleted_at is null returning ${METER_COLS}`, meter.id);
  const [row] = await exec<MeterRow>(em, q);
  if (!row) throw notFound('meter', idOrKey);
  return toDto(row);
}

/** `feature.key (dimension)` for each feature (archived ones too: plans may still bill them) filtering on `dims`. */
async function featuresFilteringOn(em: EntityManager, meterId: string, dims: string[]): Promise<string[]> {
  if (!dims.length) return [];
  const rows = await exec<{ key: string; dim: string }>(
    em,
    new Sql().add(
      `select f.key, d.dim from features f, jsonb_object_keys(coalesce(f.meter_filters, '{}'::jsonb)) as d(dim)
        where f.meter_id = ? and d.dim in (select jsonb_array_elements_text(?::jsonb)) order by f.key, d.dim`,
      meterId,
      JSON.stringify(dims),
    ),
  );
  return rows.map((r) => `${r.key} (${r.dim})`);
}

export async function deleteMeter(em: EntityManager, idOrKey: string): Promise<void> {
  const meter = await getMeter(em, idOrKey);
  const features = await exec<{ key: string }>(
    em,
    new Sql().add(
      'select key from features where meter_id = ? and deleted_at is null order by key',
      meter.id,
    ),
  );
  if (features.length) {
    throw conflict(
      `meter ${meter.key} is used by features ${features.map((f) => f.key).join(', ')}: archive them first`,
    );
  }
  await exec(
    em,
    new Sql().add('update meters set deleted_at = now(), updated_at = now() where id = ?', meter.id),
  );
}

// ---------------------------------------------------------------------------------------------------
// Events

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

export interface IngestedEventDto {
  event: {
    id: string;
    source: string;
    specversion: string;
    type: string;
    subject: string;
    time: string;
    datacontenttype?: string;
    dataschema?: string;
    /** the stored JSON text, numbers exactly as ingested (see `stringifyWithRaw`) */
    data: RawJson | null;
  };
  customer?: { id: string };
  ingested_at: string;
  stored_at: string;
  /** present when the event's value is not usable by a live meter of its type (see `eventValidationErrors`) */
  validation_errors?: EventValidationError[];
}

/** As OpenMeter's `MeteringIngestedEventValidationError`. */
export interface EventValidationError {
  code: ValueProblem;
  message: string;
  attributes: { meter_id: string; meter_key: string; value_property: string };
}

interface Cursor {
  time: string;
  source: string;
  id: string;
}

export const encodeCursor = (c: Cursor): string =>
  Buffer.from(JSON.stringify([c.time, c.source, c.id]), 'utf8').toString('base64url');

const CURSOR_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;
const CURSOR_PART_MAX = 1024;

/** a real instant in years 1..9999 (what PostgreSQL's timestamptz and our encoder produce) */
function isCursorTime(t: string): boolean {
  const m = CURSOR_TIME.exec(t);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** PostgreSQL text cannot hold NUL nor unpaired surrogates; the encoder never produces them */
const isCursorText = (x: string): boolean => x.length <= CURSOR_PART_MAX && textProblem(x) === undefined;

/**
 * The position `encodeCursor` wrote. Anything else, including a forged cursor of the right shape that
 * carries an impossible date, NUL or non-canonical base64, is a 400 naming `query.page[after]`.
 */
export function decodeCursor(s: string): Cursor {
  try {
    const buf = Buffer.from(s, 'base64url');
    // Buffer.from ignores characters outside the alphabet: accept only the canonical spelling
    if (buf.length > 0 && buf.toString('base64url') === s) {
      const v = JSON.parse(buf.toString('utf8')) as unknown;
      if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'string')) {
        const [time, source, id] = v as [string, string, string];
        if (isCursorTime(time) && isCursorText(source) && isCursorText(id)) return { time, source, id };
      }
    }
  } catch {
    // fall through
  }
  throw invalid('query parameters are invalid', [
    { field: 'query.page[after]', reason: 'is not a valid cursor' },
  ]);
}

/**
 * The customer that owned an event's subject at the event's time (see `SubjectWindow` in customers; live or
 * deleted), as `attr.customer_id`. Used as `left join lateral (...) attr on true`.
 */
const ATTRIBUTION = `left join lateral (select ${customerAtSql('e.subject', 'e.time')} as customer_id) attr on true`;

/**
 * `e.subject in (<every name these customers ever owned>)`: lets a customer filter use the subject
 * indexes (the exact window check is on the attributed customer id)
 */
function subjectsOfCustomers(q: Sql, ids: string[]): void {
  q.add(
    ` and e.subject in (select w.subject from jsonb_array_elements_text(?::jsonb) cid(id),` +
      ` lateral ${subjectWindowsSql('cid.id')} w)`,
    JSON.stringify(ids.map((id) => (looksLikeId(id) ? id.toUpperCase() : id))),
  );
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
  const rows = !q
    ? []
    : await exec<{
        source: string;
        id: string;
        type: string;
        subject: string;
        time: string;
        data: string | null;
        specversion: string;
        datacontenttype: string | null;
        dataschema: string | null;
        ingested_at: string;
        stored_at: string;
        customer_id: string | null;
      }>(em, q);
  const more = rows.length > f.size;
  const page = more ? rows.slice(0, f.size) : rows;
  const last = page[page.length - 1];
  const problems = await eventValidationErrors(em, page);
  return {
    data: page.map((r, i) => ({
      event: {
        id: r.id,
        source: r.source,
        specversion: r.specversion,
        type: r.type,
        subject: r.subject,
        time: normalizeTs(r.time),
        ...(r.datacontenttype !== null ? { datacontenttype: r.datacontenttype } : {}),
        ...(r.dataschema !== null ? { dataschema: r.dataschema } : {}),
        data: r.data === null ? null : new RawJson(r.data),
      },
      ...(r.customer_id !== null ? { customer: { id: r.customer_id } } : {}),
      ingested_at: normalizeTs(r.ingested_at),
      stored_at: normalizeTs(r.stored_at),
      ...(problems[i].length ? { validation_errors: problems[i] } : {}),
    })),
    meta: {
      page: {
        size: f.size,
        next: more && last ? encodeCursor({ time: last.time, source: last.source, id: last.id }) : null,
        previous: null,
      },
    },
  };
}

/**
 * The value problems of stored events (by source and id) for every live meter of their type whose
 * events_from is not after the event, computed by the same SQL rule the aggregations use
 * (`valueProblemSql`). One list per event, in the order of `events`; two statements at most.
 */
export async function eventValidationErrors(
  em: EntityManager,
  events: readonly { source: string; id: string; type: string }[],
): Promise<EventValidationError[][]> {
  const out: EventValidationError[][] = events.map(() => []);
  if (events.length === 0) return out;
  const meters = await exec<{
    id: string;
    key: string;
    aggregation: Aggregation;
    event_type: string;
    value_property: string | null;
    events_from: string | null;
  }>(
    em,
    new Sql().add(
      `select id, key, aggregation, event_type, value_property, events_from::text as events_from from meters
        where deleted_at is null and aggregation <> 'count' and value_property is not null
          and event_type in (select jsonb_array_elements_text(?::jsonb)) order by created_at, id`,
      JSON.stringify([...new Set(events.map((e) => e.type))]),
    ),
  );
  if (meters.length === 0) return out;
  const q = new Sql();
  meters.forEach((m, mi) => {
    q.add(mi === 0 ? '' : ' union all ');
    q.add(
      `select k.i::int as i, ?::int as m, ${valueProblemSql(m.aggregation, 'x.vj')} as code
         from jsonb_array_elements(?::jsonb) with ordinality as k(j, i)
         join events e on e.source = k.j ->> 0 and e.id = k.j ->> 1
         cross join lateral (select e.data #> ?::text[] as vj) x
        where e.type = ?`,
      mi,
      JSON.stringify(events.map((e) => [e.source, e.id])),
      jsonPathToPg(m.value_property!),
      m.event_type,
    );
    if (m.events_from !== null) q.add(' and e.time >= ?::timestamptz', m.events_from);
  });
  const rows = await exec<{ i: number; m: number; code: ValueProblem | null }>(
    em,
    new Sql()
      .add('select i, m, code from (')
      .add(q.text, ...q.params)
      .add(') p where code is not null order by i, m'),
  );
  for (const r of rows) {
    const m = meters[r.m];
    out[Number(r.i) - 1].push({
      code: r.code!,
      message: `meter ${m.key}: the value at ${m.value_property} ${PROBLEM_TEXT[r.code!]}`,
      attributes: { meter_id: m.id, meter_key: m.key, value_property: m.value_property! },
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Meter queries

export type Granularity = 'PT1M' | 'PT1H' | 'P1D' | 'P1M';
const UNITS: Record<Granularity, string> = { PT1M: 'minute', PT1H: 'hour', P1D: 'day', P1M: 'month' };

/** One operator per dimension, as in the v3 `QueryFilterStringMapItem` subset Tally supports. */
export type DimensionFilter = { eq: string } | { neq: string } | { in: string[] } | { nin: string[] };

export const RESERVED_DIMENSIONS = ['subject', 'customer_id'] as const;

export interface MeterQuery {
  /** inclusive; RFC 3339 */
  from?: string;
  /** exclusive; RFC 3339; defaults to now */
  to?: string;
  granularity?: Granularity;
  time_zone?: string;
  group_by_dimensions?: string[];
  filters?: { dimensions?: Record<string, DimensionFilter> };
  /**
   * restricts to these subjects (used by aggregateUsage); a `SubjectWindow` counts the subject's events in
   * its ownership window only (a customer's usage: `subjectWindows` in customers)
   */
  subjects?: (string | SubjectWindow)[];
}

export interface MeterQueryRow {
  value: string;
  from: string;
  to: string;
  dimensions: Record<string, string | null>;
}

// ---------------------------------------------------------------------------------------------------
// The value rule: ONE definition, in SQL, used by every aggregation (meter query, aggregateUsage,
// entitlement usage) and by the `validation_errors` of GET /events.

/** Largest magnitude of a meter value (exclusive): |v| < 10^18. */
export const VALUE_MAX_ABS = '1e18';
/** Most digits after the decimal point a meter value may need (trailing zeros do not count). */
export const VALUE_MAX_SCALE = 18;

/**
 * A string counts as a number when it spells a decimal: optional sign, at most 100 digits before and 100
 * after the point, optional exponent of at most 4 digits. These bounds make the cast to numeric total:
 * the largest such number has about 10^4 digits and the smallest about 10^4 decimals, both well inside
 * numeric's limits (131,072 digits before the point, 16,383 after), so no string can make it overflow.
 */
/** The same shape without the bounds: a string that only matches this spells a number out of range. */
const DECIMAL_STRING_RE = `'^[-+]{0,1}([0-9]+([.][0-9]*){0,1}|[.][0-9]+)([eE][-+]{0,1}[0-9]+){0,1}$'`;

const NUMBER_STRING_RE = `'^[-+]{0,1}([0-9]{1,100}([.][0-9]{0,100}){0,1}|[.][0-9]{1,100})([eE][-+]{0,1}[0-9]{1,4}){0,1}$'`;

/**
 * SQL for the value as numeric, or NULL when it is not a number: a JSON number (jsonb already holds it as
 * numeric, exactly) or a string accepted by NUMBER_STRING_RE. Never raises, whatever `vj` (jsonb) holds.
 */
export function rawValueSql(vj: string): string {
  return (
    `(case jsonb_typeof(${vj}) when 'number' then (${vj})::numeric` +
    ` when 'string' then case when (${vj} #>> '{}') ~ ${NUMBER_STRING_RE} then (${vj} #>> '{}')::numeric end end)`
  );
}

/** SQL: whether the numeric `vr` (non-null) is within the documented range. */
export function inRangeSql(vr: string): string {
  return `(abs(${vr}) < ${VALUE_MAX_ABS} and min_scale(${vr}) <= ${VALUE_MAX_SCALE})`;
}

/** Codes of `validation_errors` items (GET /events) for a meter value. */
export type ValueProblem = 'missing_value' | 'not_a_number' | 'out_of_range';

/**
 * SQL giving the value problem of an event for a meter of `agg`, or NULL when the value counts; `vj` is
 * the jsonb at the meter's value_property (NULL when absent). count meters read no value; unique_count
 * takes any non-null value; the others need a number within range.
 */
export function valueProblemSql(agg: Aggregation, vj: string): string {
  if (agg === 'count') return 'null::text';
  const missing = `${vj} is null or jsonb_typeof(${vj}) = 'null'`;
  if (agg === 'unique_count') return `(case when ${missing} then 'missing_value' end)`;
  const vr = rawValueSql(vj);
  return (
    `(case when ${missing} then 'missing_value'` +
    ` when ${vr} is null then case when jsonb_typeof(${vj}) = 'string' and (${vj} #>> '{}') ~ ${DECIMAL_STRING_RE}` +
    ` then 'out_of_range' else 'not_a_number' end` +
    ` when not ${inRangeSql(vr)} then 'out_of_range' end)`
  );
}

const PROBLEM_TEXT: Record<ValueProblem, string> = {
  missing_value: 'is missing or null',
  not_a_number: 'is not a number (a JSON number or a string spelling a decimal number)',
  out_of_range: `is out of range (the absolute value must be below 10^18, with at most ${VALUE_MAX_SCALE} digits after the point)`,
};

/**
 * Billing and entitlements never use a negative usage quantity: meter queries show the exact aggregate
 * (negative values are corrections, and a period's sum, min, avg or latest may be negative), but an
 * invoice line or an entitlement balance takes max(0, usage).
 */
export function billableUsage(value: string): string {
  return value.startsWith('-') ? '0' : value;
}

function aggregateSql(agg: Aggregation): { expr: string; where: string } {
  switch (agg) {
    case 'count':
      return { expr: 'count(*)', where: 'true' };
    case 'unique_count':
      // over the distinct (group keys, v) rows built in buildMeterQuery
      return { expr: 'count(*)', where: 'v is not null' };
    case 'sum':
      return { expr: 'sum(vn)', where: 'vn is not null' };
    case 'avg':
      return { expr: 'avg(vn)', where: 'vn is not null' };
    case 'min':
      return { expr: 'min(vn)', where: 'vn is not null' };
    case 'max':
      return { expr: 'max(vn)', where: 'vn is not null' };
    case 'latest':
      return { expr: '(array_agg(vn order by time desc, seq desc))[1]', where: 'vn is not null' };
  }
}

/**
 * `and e.subject in (...)` plus, when any subject is windowed, `and ((e.subject = ? and e.time >= ? and
 * e.time < ?) or ...)`. Windows that cannot overlap [from, to) are left out (checked at millisecond
 * precision, conservatively); none left is `and false`.
 */
function subjectCondition(q: Sql, subjects: (string | SubjectWindow)[], from?: string, to?: string): void {
  const ms = (s: string | undefined) => (s === undefined ? NaN : Date.parse(s));
  const ws = subjects
    .map((s): SubjectWindow => (typeof s === 'string' ? { subject: s } : s))
    // to <= from (the window's `to` truncated to ms is at most 1 ms early) / window from >= query to
    .filter((w) => !(ms(w.to) + 1 <= ms(from)) && !(ms(w.from) >= ms(to)));
  if (!ws.length) {
    q.add(' and false');
    return;
  }
  q.add(' and e.subject in ').list([...new Set(ws.map((w) => w.subject))]);
  if (ws.every((w) => w.from === undefined && w.to === undefined)) return;
  q.add(' and (');
  ws.forEach((w, i) => {
    q.add(`${i ? ' or ' : ''}(e.subject = ?`, w.subject);
    if (w.from !== undefined) q.add(' and e.time >= ?::timestamptz', w.from);
    if (w.to !== undefined) q.add(' and e.time < ?::timestamptz', w.to);
    q.add(')');
  });
  q.add(')');
}

/** Column expression (in the `ev` CTE) for a dimension name. */
function dimColumn(name: string, idx: Map<string, number>): string {
  if (name === 'subject') return 'subject';
  if (name === 'customer_id') return 'customer_id';
  return `d${idx.get(name)}`;
}

function addFilter(q: Sql, col: string, f: DimensionFilter): void {
  if ('eq' in f) q.add(` and ${col} = ?`, f.eq);
  else if ('neq' in f) q.add(` and ${col} is distinct from ?`, f.neq);
  else if ('in' in f) q.add(` and ${col} in `).list(f.in);
  else q.add(` and (${col} is null or ${col} not in `).list(f.nin).add(')');
}

/**
 * Builds the single SQL statement for a meter query: filter events by type / time / subjects on the
 * (type, subject, time) index, read the value and dimensions from `data` (text-array paths), attribute
 * customers only when asked for, then aggregate exactly in `numeric` per (bucket, group).
 */
export function buildMeterQuery(meter: MeterDto, mq: MeterQuery): Sql {
  const dims = meter.dimensions ?? {};
  const groupBy = mq.group_by_dimensions ?? [];
  const filters = mq.filters?.dimensions ?? {};
  const used = [...new Set([...groupBy, ...Object.keys(filters)])];
  const unknown = (d: string) => !(d in dims) && !(RESERVED_DIMENSIONS as readonly string[]).includes(d);
  const bad = [
    ...groupBy.flatMap((d, i) =>
      unknown(d)
        ? [{ field: `body.group_by_dimensions[${i}]`, reason: `meter ${meter.key} has no dimension ${d}` }]
        : [],
    ),
    ...Object.keys(filters)
      .filter(unknown)
      .map((d) => ({
        field: `body.filters.dimensions.${d}`,
        reason: `meter ${meter.key} has no dimension ${d}`,
      })),
  ];
  if (bad.length) throw invalid('unknown dimension', bad);
  const dimNames = used.filter((d) => d in dims && !(RESERVED_DIMENSIONS as readonly string[]).includes(d));
  const idx = new Map(dimNames.map((d, i) => [d, i]));
  const needCustomer = used.includes('customer_id');
  const unit = mq.granularity ? UNITS[mq.granularity] : undefined;
  const tz = mq.time_zone ?? 'UTC';
  const agg = aggregateSql(meter.aggregation);

  // the events' select, run on both halves of the (type, subject, time) index (narrow rows: covering,
  // index-only; wide rows: see MeteringWideEvents), built once
  const sel = new Sql().add('select e.time, e.seq, e.subject');
  if (meter.aggregation !== 'count' && meter.value_property) {
    const path = jsonPathToPg(meter.value_property);
    sel.add(', e.data #>> ?::text[] as v, e.data #> ?::text[] as vj', path, path);
  } else sel.add(', null::text as v, null::jsonb as vj');
  for (const d of dimNames) sel.add(`, e.data #>> ?::text[] as d${idx.get(d)}`, jsonPathToPg(dims[d]));
  if (needCustomer) sel.add(', attr.customer_id');
  if (unit) sel.add(`, date_trunc('${unit}', e.time at time zone ?) as b`, tz);
  sel.add(' from events e');
  if (needCustomer) sel.add(` ${ATTRIBUTION}`);
  sel.add(' where e.type = ?', meter.event_type);
  const lower = [mq.from, meter.events_from].filter((x): x is string => x !== undefined);
  for (const l of lower) sel.add(' and e.time >= ?::timestamptz', l);
  if (mq.to !== undefined) sel.add(' and e.time < ?::timestamptz', mq.to);
  else sel.add(' and e.time < now()');
  if (mq.subjects) subjectCondition(sel, mq.subjects, mq.from, mq.to);
  const cf = filters.customer_id;
  if (cf && ('eq' in cf || 'in' in cf)) subjectsOfCustomers(sel, 'eq' in cf ? [cf.eq] : cf.in);
  const q = new Sql()
    .add('with ev0 as (')
    .add(`${sel.text} and not e.wide`, ...sel.params)
    .add(' union all ')
    .add(`${sel.text} and e.wide`, ...sel.params);
  // the value rule (rawValueSql, inRangeSql): out-of-range and non-numbers are NULL and count nowhere
  q.add(
    `), evr as (select *, ${rawValueSql('vj')} as vr from ev0)` +
      `, ev as (select *, case when ${inRangeSql('vr')} then vr end as vn from evr)`,
  );

  const groupCols = groupBy.map((g) => dimColumn(g, idx));
  q.add(` select trim_scale((${agg.expr})::numeric)::text as value`);
  if (unit) {
    const start = `b at time zone ?`;
    const end = `(b + interval '1 ${unit}') at time zone ?`;
    if (mq.from !== undefined)
      q.add(`, ${tsSql(`greatest(${start}, ?::timestamptz)`)} as "from"`, tz, mq.from);
    else q.add(`, ${tsSql(start)} as "from"`, tz);
    if (mq.to !== undefined) q.add(`, ${tsSql(`least(${end}, ?::timestamptz)`)} as "to"`, tz, mq.to);
    else q.add(`, ${tsSql(end)} as "to"`, tz);
  } else {
    if (mq.from !== undefined) q.add(`, ${tsSql('?::timestamptz')} as "from"`, mq.from);
    else q.add(`, ${tsSql('min(time)')} as "from"`);
    if (mq.to !== undefined) q.add(`, ${tsSql('?::timestamptz')} as "to"`, mq.to);
    else q.add(`, ${tsSql('now()')} as "to"`);
  }
  groupCols.forEach((c, i) => q.add(`, ${c} as g${i}`));
  const keys = [...(unit ? ['b'] : []), ...groupCols];
  if (meter.aggregation === 'unique_count') {
    // count(distinct v) sorts every value; hashing the distinct (keys, v) first and counting them is
    // the same number, several times faster on large sets (min(time) kept for the default "from")
    const inner = [...new Set([...keys, 'v'])].join(', ');
    q.add(` from (select ${inner}, min(time) as time from ev where ${agg.where}`);
    for (const [name, f] of Object.entries(filters)) addFilter(q, dimColumn(name, idx), f);
    q.add(` group by ${inner}) ev`);
  } else {
    q.add(` from ev where ${agg.where}`);
    for (const [name, f] of Object.entries(filters)) addFilter(q, dimColumn(name, idx), f);
  }
  if (keys.length) q.add(` group by ${keys.join(', ')}`);
  q.add(' having count(*) > 0');
  if (keys.length) q.add(` order by ${keys.join(', ')}`);
  return q;
}

/** Runs a meter query (the API's POST /meters/{meterId}/query). */
export async function queryMeter(
  em: EntityManager,
  meter: MeterDto,
  mq: MeterQuery,
): Promise<{ from?: string; to?: string; data: MeterQueryRow[] }> {
  const groupBy = mq.group_by_dimensions ?? [];
  const q = buildMeterQuery(meter, mq);
  let rows: Record<string, string | null>[];
  try {
    rows = await exec<Record<string, string | null>>(em, q);
  } catch (e) {
    // an IANA name the JS runtime knows but PostgreSQL does not
    if (/time zone .* not recognized/i.test((e as Error).message))
      throw invalid('time_zone is not known', [{ field: 'body.time_zone', reason: 'unknown time zone' }]);
    throw e;
  }
  return {
    ...(mq.from !== undefined ? { from: mq.from } : {}),
    ...(mq.to !== undefined ? { to: mq.to } : {}),
    data: rows.map((r) => ({
      value: r.value ?? '0',
      from: normalizeTs(r.from ?? ''),
      to: normalizeTs(r.to ?? ''),
      dimensions: Object.fromEntries(groupBy.map((g, i) => [g, r[`g${i}`] ?? null])),
    })),
  };
}

export interface AggregateUsageInput {
  /** meter id (or key) */
  meterId: string;
  /** the subjects to count: a customer's ownership windows (`subjectWindows`), or plain subject keys */
  subjects: (string | SubjectWindow)[];
  /** inclusive */
  from: Date;
  /** exclusive */
  to: Date;
  /** dimension name → allowed values (a feature narrowing its meter) */
  filters?: Record<string, string[]>;
}

/**
 * The exact aggregate of a meter over [from, to) for the given subjects, as a decimal string ("0" when
 * there are no events). One indexed SQL statement (after looking the meter up). A deleted meter is still
 * found by id (plans already sold may bill it); by key only live meters are found (404 otherwise).
 */
export async function aggregateUsage(em: EntityManager, input: AggregateUsageInput): Promise<string> {
  const subjects = input.subjects;
  if (subjects.length === 0 || !(input.from < input.to)) return '0';
  // by id a deleted meter still counts: plans already sold may bill a feature whose meter was removed since
  const meter = await getMeter(em, input.meterId, { includeDeleted: looksLikeId(input.meterId) });
  const dims: Record<string, DimensionFilter> = {};
  for (const [k, values] of Object.entries(input.filters ?? {})) {
    if (values.length === 0) return '0';
    dims[k] = { in: values };
  }
  const q = buildMeterQuery(meter, {
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    subjects,
    filters: { dimensions: dims },
  });
  const [row] = await exec<{ value: string | null }>(em, q);
  return row?.value ?? '0';
}
