/**
 * The meter query over rollups (`rollups.ts`): the statement `buildMeterQuery` builds for every aggregation
 * but `unique_count` when no customer attribution is asked for and buckets are an hour or longer. Per
 * subject range (a customer's ownership window, or the plain subjects), with lo/hi the window's bounds:
 * - rollup rows for the whole hours [a, u): a = lo rounded up to the hour, u = hi rounded down, but no
 *   later than the meter's `covered_to` (and at least a);
 * - raw events for [lo, min(a, hi)) and [u, hi): the partial hours at the edges and what is not covered;
 * - raw events, instead of the rollup row, for an hour that a bucket boundary cuts (a time zone whose
 *   offset is not a whole number of hours).
 * Each event or rollup row becomes a partial aggregate (n, sum, min, max, first time, latest), merged per
 * bucket and group exactly as the raw statement aggregates events. A meter without rollups (or built for
 * other dimensions) has `covered_to = -infinity`: the raw ranges are then the whole window.
 */
import type { SubjectWindow } from '../customers/service';
import { Sql } from '../db/sql';
import type { Aggregation } from './entities';
import { mergeWindows } from './event-log';
import { jsonPathToPg } from './jsonpath';
import { rollupDims } from './rollups';
import { addRowBounds } from './time';
import { inRangeSql, rawValueSql } from './values';
import type { MeterDto } from './views';

export interface RolledQueryParts {
  meter: MeterDto;
  /** dimensions read from events, in column order d0, d1, … */
  dimNames: string[];
  unit?: 'hour' | 'day' | 'month';
  tz: string;
  from?: string;
  to?: string;
  subjects?: (string | SubjectWindow)[];
  groupCols: string[];
  /** adds the dimension filters on the partials' columns (`subject`, `d0`, …) */
  addFilters: (q: Sql) => void;
}

/** The merge of partials, per aggregation. */
function mergeExpr(agg: Aggregation): string {
  switch (agg) {
    case 'count':
      return 'sum(n)';
    case 'sum':
      return 'sum(s)';
    case 'avg':
      return 'sum(s) / sum(n)';
    case 'min':
      return 'min(mn)';
    case 'max':
      return 'max(mx)';
    case 'latest':
      return '(array_agg(l_val order by l_time desc, l_seq desc))[1]';
    case 'unique_count':
      throw new Error('unique_count has no rollups');
  }
}

interface Range {
  /** undefined: every subject */
  subject?: string;
  from?: string;
  to?: string;
}

/**
 * The windows merged per subject (overlaps would count twice), one range each; no subject list is one
 * range over every subject.
 */
function rangesOf(subjects: (string | SubjectWindow)[] | undefined): Range[] {
  if (subjects === undefined) return [{}];
  return mergeWindows(subjects.map((s): SubjectWindow => (typeof s === 'string' ? { subject: s } : s)));
}

/** A table's rows within each range (see `rangeCtes`): the join and the condition to add. */
export type InRanges = (t: string, col: string, lo: string, hi: string) => { join: string; where: string };

/**
 * Starts the statement with `st` (the meter's `covered_to`, or -infinity without matching rollups) and
 * `rg`, the ranges as one table (a customer may have a thousand windows; a statement per range would not
 * plan): subject (null: every subject), lo, hi, a (lo up to the hour), u (the covered whole hours' end).
 * Returns `inRanges`: `t.col` in [lo, hi) (expressions over `rg`) and `t.subject` the range's; every
 * subject is one range, whose bounds are then the statement's constants (the index range on time the raw
 * statement has). Undefined when there is no range at all (no row).
 */
export function rangeCtes(
  q: Sql,
  p: Pick<RolledQueryParts, 'meter' | 'from' | 'to' | 'subjects'>,
): InRanges | undefined {
  const { meter } = p;
  const ranges = rangesOf(p.subjects);
  if (!ranges.length) return undefined;
  q.add(
    `with st as materialized (select coalesce((select covered_to from meter_rollup_state
       where meter_id = ? and dims_key = ?), '-infinity'::timestamptz) as w)`,
    meter.id,
    rollupDims(meter).key,
  );
  q.add(
    `, rg as materialized (select subject, lo, hi, a, greatest(a, least(date_trunc('hour', hi), st.w)) as u
       from (select t.subject,
         coalesce(greatest(?::timestamptz, ?::timestamptz, t.f), '-infinity'::timestamptz) as lo,
         coalesce(least(?::timestamptz, t.t), now()) as hi
       from jsonb_to_recordset(?::jsonb) as t(subject text, f timestamptz, t timestamptz)) r0,
       lateral (select date_trunc('hour', r0.lo) + case when date_trunc('hour', r0.lo) = r0.lo
         then interval '0' else interval '1 hour' end as a) ra, st)`,
    p.from ?? null,
    meter.events_from ?? null,
    p.to ?? null,
    JSON.stringify(ranges.map((r) => ({ subject: r.subject ?? null, f: r.from ?? null, t: r.to ?? null }))),
  );
  return (t, col, lo, hi) =>
    p.subjects === undefined
      ? {
          join: '',
          where: ` and ${t}.${col} >= (select ${lo} from rg) and ${t}.${col} < (select ${hi} from rg)`,
        }
      : {
          join: ` join rg on ${t}.subject = rg.subject and ${t}.${col} >= ${lo} and ${t}.${col} < ${hi}`,
          where: '',
        };
}

/**
 * The raw events of each range's partial hours at its edges and of what rollups do not cover, [lo,
 * min(a, hi)) and [u, hi), on both halves of the (type, subject, time) index: `cols` is the select list
 * (`select … from events e`).
 */
export function edgeEventsSql(cols: Sql, type: string, inRanges: InRanges, extra: Sql[] = []): Sql {
  const parts: Sql[] = [];
  for (const [lo, hi] of [
    ['rg.lo', 'least(rg.a, rg.hi)'],
    ['rg.u', 'rg.hi'],
  ]) {
    const er = inRanges('e', 'time', lo, hi);
    parts.push(new Sql().add(cols.text, ...cols.params).add(`${er.join} where e.type = ?${er.where}`, type));
  }
  parts.push(...extra);
  const q = new Sql();
  parts.forEach((s, i) => {
    q.add(i ? ' union all ' : '').add(`${s.text} and not e.wide`, ...s.params);
    q.add(' union all ').add(`${s.text} and e.wide`, ...s.params);
  });
  return q;
}

export function buildRolledQuery(p: RolledQueryParts): Sql {
  const { meter, unit, tz } = p;
  const agg = meter.aggregation;
  const dims = rollupDims(meter);
  const q = new Sql();
  const inRanges = rangeCtes(q, p);
  // no subject at all: no row
  if (!inRanges) return new Sql().add(`select null::text as value where false`);

  // rollup rows of the covered whole hours
  const rr = inRanges('r', 'hour', 'rg.a', 'rg.u');
  q.add(
    `, ru as (select r.subject, r.hour, r.dims, r.n, r.s, r.mn, r.mx, r.t_min, r.l_time, r.l_seq, r.l_val
       from meter_rollups r${rr.join} where r.meter_id = ?${rr.where})`,
    meter.id,
  );

  // an hour cut by a bucket boundary of the query's time zone is read from the events
  const cut = (h: string) =>
    unit && tz !== 'UTC'
      ? `(date_trunc('${unit}', ${h} at time zone ?) <> date_trunc('${unit}', (${h} + interval '1 hour' - interval '1 microsecond') at time zone ?))`
      : undefined;
  const cutSql = cut('r.hour');
  if (cutSql) q.add(`, cut as (select distinct r.subject, r.hour from ru r where ${cutSql})`, tz, tz);

  // the raw events: both halves of the (type, subject, time) index, per range and edge
  const cols = new Sql().add('select e.time, e.seq, e.subject');
  if (agg !== 'count' && meter.value_property) {
    const path = jsonPathToPg(meter.value_property);
    cols.add(', e.data #> ?::text[] as vj', path);
  } else cols.add(', null::jsonb as vj');
  p.dimNames.forEach((d, i) =>
    cols.add(`, e.data #>> ?::text[] as d${i}`, jsonPathToPg(meter.dimensions![d])),
  );
  cols.add(' from events e');
  const cutParts: Sql[] = [];
  if (cutSql) {
    const s = new Sql().add(cols.text, ...cols.params).add(
      ` join cut on e.subject = cut.subject and e.time >= cut.hour and e.time < cut.hour + interval '1 hour'
         where e.type = ?`,
      meter.event_type,
    );
    if (meter.events_from !== undefined) s.add(' and e.time >= ?::timestamptz', meter.events_from);
    cutParts.push(s);
  }
  const edges = edgeEventsSql(cols, meter.event_type, inRanges, cutParts);
  q.add(', ev0 as (').add(edges.text, ...edges.params);
  q.add(
    `), ev as (select *, case when ${inRangeSql('vr')} then vr end as vn from (select *, ${rawValueSql('vj')} as vr from ev0) x)`,
  );

  // partial aggregates: one per counted event, one per rollup row
  const dimIndex = (d: string) => dims.names.indexOf(d) + 1;
  q.add(', pr as (select subject');
  p.dimNames.forEach((_, i) => q.add(`, d${i}`));
  if (unit) q.add(`, date_trunc('${unit}', time at time zone ?) as b`, tz);
  q.add(
    `, 1::bigint as n, vn as s, vn as mn, vn as mx, time as t_min, time as l_time, seq as l_seq, vn as l_val
     from ev where ${agg === 'count' ? 'true' : 'vn is not null'}`,
  );
  q.add(' union all select r.subject');
  p.dimNames.forEach((d, i) => q.add(`, r.dims[${dimIndex(d)}] as d${i}`));
  if (unit) q.add(`, date_trunc('${unit}', r.hour at time zone ?) as b`, tz);
  q.add(' , r.n, r.s, r.mn, r.mx, r.t_min, r.l_time, r.l_seq, r.l_val from ru r');
  if (cutSql) q.add(` where not ${cutSql}`, tz, tz);
  q.add(')');

  q.add(` select trim_scale((${mergeExpr(agg)})::numeric)::text as value`);
  addRowBounds(q, { unit, tz, from: p.from, to: p.to }, 'min(t_min)');
  p.groupCols.forEach((c, i) => q.add(`, ${c} as g${i}`));
  q.add(' from pr where true');
  p.addFilters(q);
  const keys = [...(unit ? ['b'] : []), ...p.groupCols];
  if (keys.length) q.add(` group by ${keys.join(', ')}`);
  q.add(' having sum(n) > 0');
  if (keys.length) q.add(` order by ${keys.join(', ')}`);
  return q;
}
