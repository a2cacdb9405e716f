/**
 * The meter query: one indexed SQL statement over `events` per query (`buildMeterQuery`), run by the API's
 * `POST /meters/{meterId}/query` (`queryMeter`), by billing (`aggregateUsage`) and by entitlements (which
 * embeds the statement). Aggregates exactly in `numeric` under the value rule of `values.ts`; a customer's
 * usage is its subjects' events within their ownership windows (customers' `subjectWindows`).
 * Customer attribution (`customer_id` dimension) is customers' exported SQL (`attributionJoinSql`,
 * `subjectsOfCustomersSql`) embedded in the statement, so that the query stays one statement.
 */
import type { EntityManager } from '@mikro-orm/core';
import {
  attributionJoinSql,
  subjectsOfCustomersSql,
  subjectWindows,
  type SubjectWindow,
} from '../customers/service';
import { exec, Sql } from '../db/sql';
import { invalid } from '../lib/errors';
import { looksLikeId } from '../lib/ids';
import type { Aggregation } from './entities';
import { jsonPathToPg } from './jsonpath';
import { getMeter } from './meters';
import { buildRolledQuery } from './rolled-query';
import { buildRolledUniqueQuery } from './rolled-unique';
import { isRolled } from './rollups';
import { addRowBounds } from './time';
import { inRangeSql, rawValueSql } from './values';
import { queryRowView, type MeterDto, type MeterQueryRow } from './views';

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

/**
 * The customer that owned an event's subject at the event's time (see `SubjectWindow` in customers; live or
 * deleted), as `attr.customer_id`. Used as `left join lateral (...) attr on true`.
 */
const ATTRIBUTION = attributionJoinSql('attr', 'e.subject', 'e.time');

/**
 * `e.subject in (<every name these customers ever owned>)`: lets a customer filter use the subject
 * indexes (the exact window check is on the attributed customer id)
 */
function subjectsOfCustomers(q: Sql, ids: string[]): void {
  q.add(
    ` and e.subject in ${subjectsOfCustomersSql('?::jsonb')}`,
    JSON.stringify(ids.map((id) => (looksLikeId(id) ? id.toUpperCase() : id))),
  );
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
 * Whether rollups can answer the meter at the query's buckets (rolled-query.ts), attribution aside.
 * `unique_count` (rolled-unique.ts): one window only (no buckets), and a default `from` (the earliest
 * counted event) only when no subject window starts inside the query.
 */
function rollupsServe(meter: MeterDto, mq: MeterQuery, opts: { rollups?: boolean }): boolean {
  if (opts.rollups === false || !isRolled(meter.aggregation) || mq.granularity === 'PT1M') return false;
  if (meter.aggregation !== 'unique_count') return true;
  return (
    mq.granularity === undefined &&
    (mq.from !== undefined || (mq.subjects ?? []).every((s) => typeof s === 'string' || s.from === undefined))
  );
}

/**
 * Builds the single SQL statement for a meter query: filter events by type / time / subjects on the
 * (type, subject, time) index, read the value and dimensions from `data` (text-array paths), attribute
 * customers only when asked for, then aggregate exactly in `numeric` per (bucket, group).
 */
export function buildMeterQuery(meter: MeterDto, mq: MeterQuery, opts: { rollups?: boolean } = {}): Sql {
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
  const groupCols = groupBy.map((g) => dimColumn(g, idx));

  // over rollups (rolled-query.ts, rolled-unique.ts) when they can answer: no customer attribution, hours
  if (rollupsServe(meter, mq, opts) && !needCustomer) {
    const parts = {
      meter,
      dimNames,
      from: mq.from,
      to: mq.to,
      subjects: mq.subjects,
      groupCols,
      addFilters: (q: Sql) => {
        for (const [name, f] of Object.entries(filters)) addFilter(q, dimColumn(name, idx), f);
      },
    };
    return meter.aggregation === 'unique_count'
      ? buildRolledUniqueQuery(parts)
      : buildRolledQuery({ ...parts, unit: unit as 'hour' | 'day' | 'month' | undefined, tz });
  }

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

  q.add(` select trim_scale((${agg.expr})::numeric)::text as value`);
  addRowBounds(q, { unit, tz, from: mq.from, to: mq.to }, 'min(time)');
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

/**
 * A customer filter (`customer_id` eq / in, no group-by on it, no subjects) as the customers' ownership
 * windows, which is what it means (an event counts when its subject belonged to one of them at its time),
 * so that the statement can read rollups; other queries are returned as they are.
 */
async function customerFilterAsWindows(
  em: EntityManager,
  meter: MeterDto,
  mq: MeterQuery,
  opts: { rollups?: boolean },
): Promise<MeterQuery> {
  const { customer_id: cf, ...rest } = mq.filters?.dimensions ?? {};
  if (
    !rollupsServe(meter, mq, opts) ||
    !cf ||
    !('eq' in cf || 'in' in cf) ||
    mq.subjects !== undefined ||
    (mq.group_by_dimensions ?? []).includes('customer_id')
  )
    return mq;
  const ids = [...new Set('eq' in cf ? [cf.eq] : cf.in)].map((id) =>
    looksLikeId(id) ? id.toUpperCase() : id,
  );
  const windows = (await Promise.all(ids.map((id) => subjectWindows(em, id)))).flat();
  return { ...mq, subjects: windows, filters: { ...mq.filters, dimensions: rest } };
}

/** Runs a meter query (the API's POST /meters/{meterId}/query). */
export async function queryMeter(
  em: EntityManager,
  meter: MeterDto,
  mq: MeterQuery,
  opts: { rollups?: boolean } = {},
): Promise<{ from?: string; to?: string; data: MeterQueryRow[] }> {
  const groupBy = mq.group_by_dimensions ?? [];
  const q = buildMeterQuery(meter, await customerFilterAsWindows(em, meter, mq, opts), opts);
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
    data: rows.map((r) => queryRowView(r, groupBy)),
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
