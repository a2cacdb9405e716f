/**
 * The `unique_count` meter query over rollups (`meter_rollup_values`, see `rollups.ts`): the statement
 * `buildMeterQuery` builds for a `unique_count` meter when no buckets and no customer attribution are
 * asked for. Per subject range (as `rangeCtes`: lo, hi, a = lo up to the hour, u = the covered whole
 * hours' end):
 * - the distinct values of each month of [a, u) whose hour bits meet the range's hours in that month;
 * - the values of the raw events of [lo, min(a, hi)) and [u, hi) (edges, and what is not covered).
 * The answer is the number of distinct (group keys, value) among both, per group: what the raw statement
 * counts. Without `from`, a row's default `from` is the earliest counted event (`t_min` of a month row is
 * its value's earliest event of that month; the caller only takes this path when no range starts inside
 * a month row, i.e. every range starts at the meter's own `events_from` or unbounded).
 */
import { Sql } from '../db/sql';
import { jsonPathToPg } from './jsonpath';
import { edgeEventsSql, rangeCtes, type RolledQueryParts } from './rolled-query';
import { hourOfMonth, hoursMask, NO_HOURS, rollupDims } from './rollups';
import { addRowBounds } from './time';

export function buildRolledUniqueQuery(p: Omit<RolledQueryParts, 'unit' | 'tz'>): Sql {
  const { meter } = p;
  const dims = rollupDims(meter);
  const q = new Sql();
  const inRanges = rangeCtes(q, p);
  if (!inRanges) return new Sql().add(`select null::text as value where false`);

  // per range, each UTC month of its covered whole hours [a, u) and the mask of those hours in it (the
  // months are computed on UTC timestamps, whatever the session's time zone); an unbounded start begins
  // at the meter's first month
  q.add(
    `, rm as materialized (select rg.subject, m.month,
       ${hoursMask('m.i0', 'm.i1')} as mask,
       ${p.from === undefined ? 'false' : `m.i0 = 0 and m.i1 = ${hourOfMonth('m.next', 'm.month')}`} as whole
     from rg, lateral (select mo.month, mo.next,
         ${hourOfMonth('greatest(rg.a, mo.month)', 'mo.month')} as i0,
         ${hourOfMonth('least(rg.u, mo.next)', 'mo.month')} as i1
       from (select mo0.month, ((mo0.month at time zone 'UTC') + interval '1 month') at time zone 'UTC' as next
         from (select s at time zone 'UTC' as month from generate_series(
         date_trunc('month', greatest(rg.a, coalesce((select min(v.month) from meter_rollup_values v
           where v.meter_id = ?), rg.u)) at time zone 'UTC'),
         (rg.u at time zone 'UTC') - interval '1 hour', interval '1 month') s) mo0) mo) m
     where rg.a < rg.u)`,
    meter.id,
  );
  // one index range per (range, month): a lateral read kept as such (`offset 0`: not flattened into a join,
  // which the planner would run as one scan of the meter's every row). A whole month (a start is given)
  // needs no hours: its values come from the primary key alone (an index-only scan)
  const sameSubject = p.subjects === undefined ? '' : ' and r.subject = rm.subject';
  q.add(
    `, ru as (select r.subject, r.dims, r.value, r.t_min from rm cross join lateral (
       select r.subject, r.dims, r.value, r.t_min from meter_rollup_values r
       where not rm.whole and r.meter_id = ? and r.month = rm.month${sameSubject}
         and (r.hours & rm.mask) <> ${NO_HOURS} offset 0) r
     union all select r.subject, r.dims, r.value, null::timestamptz from rm cross join lateral (
       select r.subject, r.dims, r.value from meter_rollup_values r
       where rm.whole and r.meter_id = ? and r.month = rm.month${sameSubject} offset 0) r)`,
    meter.id,
    meter.id,
  );

  // the raw events at the edges
  const path = jsonPathToPg(meter.value_property!);
  const cols = new Sql().add('select e.time, e.subject, e.data #>> ?::text[] as v', path);
  p.dimNames.forEach((d, i) =>
    cols.add(`, e.data #>> ?::text[] as d${i}`, jsonPathToPg(meter.dimensions![d])),
  );
  cols.add(' from events e');
  const edges = edgeEventsSql(cols, meter.event_type, inRanges);
  q.add(', ev as (')
    .add(edges.text, ...edges.params)
    .add(')');

  // values: one per raw event, one per month row
  const dimIndex = (d: string) => dims.names.indexOf(d) + 1;
  q.add(', pu as (select subject');
  p.dimNames.forEach((_, i) => q.add(`, d${i}`));
  q.add(', v, time as t from ev where v is not null union all select r.subject');
  p.dimNames.forEach((d, i) => q.add(`, r.dims[${dimIndex(d)}] as d${i}`));
  q.add(', r.value as v, r.t_min as t from ru r)');

  // the distinct (group keys, value), then counted per group (hashing beats count(distinct)'s sort)
  const inner = [...new Set([...p.groupCols, 'v'])].join(', ');
  q.add(` select trim_scale((count(*))::numeric)::text as value`);
  addRowBounds(q, { tz: 'UTC', from: p.from, to: p.to }, 'min(t)');
  p.groupCols.forEach((c, i) => q.add(`, ${c} as g${i}`));
  // the earliest time only when it is the row's `from`
  q.add(` from (select ${inner}${p.from === undefined ? ', min(t) as t' : ''} from pu where true`);
  p.addFilters(q);
  q.add(` group by ${inner}) x`);
  if (p.groupCols.length) q.add(` group by ${p.groupCols.join(', ')}`);
  q.add(' having count(*) > 0');
  if (p.groupCols.length) q.add(` order by ${p.groupCols.join(', ')}`);
  return q;
}
