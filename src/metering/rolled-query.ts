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
  subjects?: string[];
  from?: string;
  to?: string;
}

/** The windows merged per subject (overlaps would count twice), unbounded ones as one range. */
function rangesOf(subjects: (string | SubjectWindow)[] | undefined): Range[] {
  if (subjects === undefined) return [{}];
  const ws = mergeWindows(subjects.map((s): SubjectWindow => (typeof s === 'string' ? { subject: s } : s)));
  const plain = ws.filter((w) => w.from === undefined && w.to === undefined).map((w) => w.subject);
  const out: Range[] = plain.length ? [{ subjects: plain }] : [];
  for (const w of ws)
    if (w.from !== undefined || w.to !== undefined)
      out.push({ subjects: [w.subject], from: w.from, to: w.to });
  return out;
}

export function buildRolledQuery(p: RolledQueryParts): Sql {
  const { meter, unit, tz } = p;
  const agg = meter.aggregation;
  const dims = rollupDims(meter);
  const ranges = rangesOf(p.subjects);
  const q = new Sql();
  if (!ranges.length) {
    // no subject at all: no row
    return q.add(`select null::text as value where false`);
  }
  q.add(
    `with st as materialized (select coalesce((select covered_to from meter_rollup_state
       where meter_id = ? and dims_key = ?), '-infinity'::timestamptz) as w)`,
    meter.id,
    dims.key,
  );
  // per range: lo, hi, a (lo up to the hour), u (the covered hours' end)
  q.add(
    ", rg as materialized (select i, lo, hi, a, greatest(a, least(date_trunc('hour', hi), st.w)) as u from (",
  );
  ranges.forEach((r, i) => {
    const lows = [p.from, meter.events_from, r.from].filter((x): x is string => x !== undefined);
    const highs = [p.to, r.to].filter((x): x is string => x !== undefined);
    q.add(i ? ' union all select ' : 'select ');
    q.add('?::int as i, ', i);
    if (lows.length) q.add(`greatest(${lows.map(() => '?::timestamptz').join(', ')})`, ...lows);
    else q.add(`'-infinity'::timestamptz`);
    q.add(' as lo, ');
    if (highs.length) q.add(`least(${highs.map(() => '?::timestamptz').join(', ')})`, ...highs);
    else q.add('now()');
    q.add(' as hi');
  });
  q.add(
    `) r0, lateral (select date_trunc('hour', r0.lo) + case when date_trunc('hour', r0.lo) = r0.lo
       then interval '0' else interval '1 hour' end as a) ra, st)`,
  );

  // rollup rows of the covered whole hours
  q.add(', ru as (');
  ranges.forEach((r, i) => {
    q.add(i ? ' union all ' : '');
    q.add(
      `select r.subject, r.hour, r.dims, r.n, r.s, r.mn, r.mx, r.t_min, r.l_time, r.l_seq, r.l_val
       from meter_rollups r where r.meter_id = ?`,
      meter.id,
    );
    if (r.subjects) q.add(' and r.subject in ').list(r.subjects);
    q.add(' and r.hour >= (select a from rg where i = ?) and r.hour < (select u from rg where i = ?)', i, i);
  });
  q.add(')');

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
  const parts: Sql[] = [];
  ranges.forEach((r, i) => {
    for (const [lo, hi] of [
      [`(select lo from rg where i = ${i})`, `(select least(a, hi) from rg where i = ${i})`],
      [`(select u from rg where i = ${i})`, `(select hi from rg where i = ${i})`],
    ]) {
      const s = new Sql().add(cols.text, ...cols.params).add(' where e.type = ?', meter.event_type);
      if (r.subjects) s.add(' and e.subject in ').list(r.subjects);
      s.add(` and e.time >= ${lo} and e.time < ${hi}`);
      parts.push(s);
    }
  });
  if (cutSql) {
    const s = new Sql().add(cols.text, ...cols.params).add(
      ` join cut on e.subject = cut.subject and e.time >= cut.hour and e.time < cut.hour + interval '1 hour'
         where e.type = ?`,
      meter.event_type,
    );
    if (meter.events_from !== undefined) s.add(' and e.time >= ?::timestamptz', meter.events_from);
    parts.push(s);
  }
  q.add(', ev0 as (');
  parts.forEach((s, i) => {
    q.add(i ? ' union all ' : '').add(`${s.text} and not e.wide`, ...s.params);
    q.add(' union all ').add(`${s.text} and e.wide`, ...s.params);
  });
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
