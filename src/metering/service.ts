/**
 * Metering: event ingestion and listing, meters, and the exact usage aggregation that billing uses.
 * All event work is raw SQL (one statement per ingested batch; one indexed statement per aggregation).
 */
import type { EntityManager } from '@mikro-orm/core';
import { badRequest, conflict, notFound } from '../api/problem';
import { newId, isUlid } from '../lib/ids';
import { logger } from '../lib/logger';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import type { Aggregation } from './entities';
import type { IngestEvent } from './events';
import { insertBatch } from './ingest';
import { jsonPathToPg } from './jsonpath';
import { exec, Sql } from './sql';
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

/** A live meter by id (ULID) or key; 404 when missing or deleted. */
export async function getMeter(
  em: EntityManager,
  idOrKey: string,
  opts: { includeDeleted?: boolean } = {},
): Promise<MeterDto> {
  const q = new Sql().add(
    `select ${METER_COLS} from meters where ${opts.includeDeleted ? '' : 'deleted_at is null and '}`,
  );
  if (isUlid(idOrKey)) q.add('id = ?', idOrKey);
  else q.add('key = ?', idOrKey);
  const [row] = await exec<MeterRow>(em, q);
  if (!row) throw notFound('meter', idOrKey);
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
 * how many rows were new. `raw`, when given, is the request's UTF-8 JSON array that validated to `events`:
 * it is stored as is instead of serializing `events` again.
 */
export async function ingestEvents(
  em: EntityManager,
  events: IngestEvent[],
  receivedAt: Date,
  raw?: Buffer,
): Promise<number> {
  if (events.length === 0) return 0;
  if (raw) {
    try {
      return await insertBatch(em, raw, receivedAt);
    } catch (err) {
      // the raw text holds something validation never looked at and PostgreSQL's jsonb cannot take (an
      // extension attribute with U+0000 or an unpaired surrogate, a number beyond numeric, deep nesting):
      // nothing was written (one statement); store the validated events instead, as the fallback path does
      if (!UNSTORABLE_JSON.has((err as { code?: string }).code ?? '')) throw err;
      logger.debug(
        { code: (err as { code?: string }).code },
        'raw batch not storable as jsonb; re-serializing',
      );
    }
  }
  return insertBatch(em, JSON.stringify(events), receivedAt);
}

/** SQLSTATEs of JSON text that parses in JavaScript but not as PostgreSQL jsonb */
const UNSTORABLE_JSON = new Set(['22P05', '22P02', '22003', '54001']);

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
    data: Record<string, unknown> | null;
  };
  customer?: { id: string };
  ingested_at: string;
  stored_at: string;
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
const isCursorText = (x: string): boolean =>
  x.length <= CURSOR_PART_MAX && !x.includes('\u0000') && !/\p{Cs}/u.test(x);

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
  throw badRequest('query parameters are invalid', [
    { field: 'query.page[after]', reason: 'is not a valid cursor' },
  ]);
}

/**
 * The customer an event's subject belongs to (live customers only): a `customer_subjects` mapping first,
 * then a customer whose key equals the subject. Used as `left join lateral (...) attr on true`.
 */
const ATTRIBUTION = `left join lateral (
    select coalesce(
      (select cs.customer_id from customer_subjects cs join customers c on c.id = cs.customer_id
        where cs.subject_key = e.subject and c.deleted_at is null limit 1),
      (select c.id from customers c where c.key = e.subject and c.deleted_at is null limit 1)
    ) as customer_id
  ) attr on true`;

/** `e.subject in (<subjects of these customers>)`: lets a customer filter use the subject indexes */
function subjectsOfCustomers(q: Sql, ids: string[]): void {
  q.add(' and e.subject in (select c.key from customers c where c.deleted_at is null and c.id in ')
    .list(ids)
    .add(
      ' union all select cs.subject_key from customer_subjects cs join customers c on c.id = cs.customer_id',
    )
    .add(' where c.deleted_at is null and c.id in ')
    .list(ids)
    .add(')');
}

export async function listEvents(
  em: EntityManager,
  f: EventListQuery,
): Promise<{
  data: IngestedEventDto[];
  meta: { page: { size: number; next: string | null; previous: null } };
}> {
  const q = new Sql().add(
    `select e.source, e.id, e.type, e.subject, ${tsSql('e.time')} as time, e.data, e.specversion,
       e.datacontenttype, e.dataschema, ${tsSql('e.ingested_at')} as ingested_at,
       ${tsSql('e.stored_at')} as stored_at, attr.customer_id
     from events e ${ATTRIBUTION}
     where true`,
  );
  if (f.id !== undefined) q.add(' and e.id = ?', f.id);
  if (f.source !== undefined) q.add(' and e.source = ?', f.source);
  if (f.subject !== undefined) q.add(' and e.subject = ?', f.subject);
  if (f.type !== undefined) q.add(' and e.type = ?', f.type);
  if (f.customer_id !== undefined) {
    subjectsOfCustomers(q, [f.customer_id]);
    q.add(' and attr.customer_id = ?', f.customer_id);
  }
  const ops = { gte: '>=', gt: '>', lt: '<', lte: '<=', eq: '=' } as const;
  for (const [op, sym] of Object.entries(ops)) {
    const v = f.time?.[op as keyof typeof ops];
    if (v !== undefined) q.add(` and e.time ${sym} ?::timestamptz`, v);
  }
  if (f.after !== undefined) {
    const c = decodeCursor(f.after);
    q.add(' and (e.time, e.source, e.id) < (?::timestamptz, ?, ?)', c.time, c.source, c.id);
  }
  q.add(' order by e.time desc, e.source desc, e.id desc limit ?', f.size + 1);
  const rows = await exec<{
    source: string;
    id: string;
    type: string;
    subject: string;
    time: string;
    data: Record<string, unknown> | null;
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
  return {
    data: page.map((r) => ({
      event: {
        id: r.id,
        source: r.source,
        specversion: r.specversion,
        type: r.type,
        subject: r.subject,
        time: normalizeTs(r.time),
        ...(r.datacontenttype !== null ? { datacontenttype: r.datacontenttype } : {}),
        ...(r.dataschema !== null ? { dataschema: r.dataschema } : {}),
        data: r.data,
      },
      ...(r.customer_id !== null ? { customer: { id: r.customer_id } } : {}),
      ingested_at: normalizeTs(r.ingested_at),
      stored_at: normalizeTs(r.stored_at),
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
  /** restricts to these subjects (used by aggregateUsage) */
  subjects?: string[];
}

export interface MeterQueryRow {
  value: string;
  from: string;
  to: string;
  dimensions: Record<string, string | null>;
}

/** Only decimal numbers count as numeric values: JSON numbers, or strings like "12", "-0.5", "1e3". */
const NUMERIC_RE = `'^[-+]{0,1}([0-9]+(\\.[0-9]*){0,1}|\\.[0-9]+)([eE][-+]{0,1}[0-9]+){0,1}$'`;

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
  if (bad.length) throw badRequest('unknown dimension', bad);
  const dimNames = used.filter((d) => d in dims && !(RESERVED_DIMENSIONS as readonly string[]).includes(d));
  const idx = new Map(dimNames.map((d, i) => [d, i]));
  const needCustomer = used.includes('customer_id');
  const unit = mq.granularity ? UNITS[mq.granularity] : undefined;
  const tz = mq.time_zone ?? 'UTC';
  const agg = aggregateSql(meter.aggregation);

  const q = new Sql().add('with ev0 as (select e.time, e.seq, e.subject');
  if (meter.aggregation !== 'count' && meter.value_property) {
    const path = jsonPathToPg(meter.value_property);
    q.add(', e.data #>> ?::text[] as v, e.data #> ?::text[] as vj', path, path);
  } else q.add(', null::text as v, null::jsonb as vj');
  for (const d of dimNames) q.add(`, e.data #>> ?::text[] as d${idx.get(d)}`, jsonPathToPg(dims[d]));
  if (needCustomer) q.add(', attr.customer_id');
  if (unit) q.add(`, date_trunc('${unit}', e.time at time zone ?) as b`, tz);
  q.add(' from events e');
  if (needCustomer) q.add(` ${ATTRIBUTION}`);
  q.add(' where e.type = ?', meter.event_type);
  const lower = [mq.from, meter.events_from].filter((x): x is string => x !== undefined);
  for (const l of lower) q.add(' and e.time >= ?::timestamptz', l);
  if (mq.to !== undefined) q.add(' and e.time < ?::timestamptz', mq.to);
  else q.add(' and e.time < now()');
  if (mq.subjects) q.add(' and e.subject in ').list(mq.subjects);
  const cf = filters.customer_id;
  if (cf && ('eq' in cf || 'in' in cf)) subjectsOfCustomers(q, 'eq' in cf ? [cf.eq] : cf.in);
  // a JSON number casts straight to numeric (exact, no text round trip); only strings go through the regex
  q.add(
    `), ev as (select *, case jsonb_typeof(vj) when 'number' then vj::numeric` +
      ` when 'string' then case when v ~ ${NUMERIC_RE} then v::numeric end end as vn from ev0)`,
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
      throw badRequest('time_zone is not known', [{ field: 'body.time_zone', reason: 'unknown time zone' }]);
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
  /** the subjects to count (a customer's: its key and usage-attribution subject keys) */
  subjects: string[];
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
  const subjects = [...new Set(input.subjects)];
  if (subjects.length === 0 || !(input.from < input.to)) return '0';
  // by id a deleted meter still counts: plans already sold may bill a feature whose meter was removed since
  const meter = await getMeter(em, input.meterId, { includeDeleted: isUlid(input.meterId) });
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
