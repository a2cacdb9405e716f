/**
 * The `validation_errors` of listed events: for each stored event, the live meters of its type (whose
 * `events_from` is not after the event) that cannot use its value, by the same SQL value rule the
 * aggregations apply (`values.ts`). Two statements at most per page, on `meters` and `events`.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import type { Aggregation } from './entities';
import { jsonPathToPg } from './jsonpath';
import { valueProblemSql, type ValueProblem } from './values';
import { validationErrorView, type EventValidationError } from './views';

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
    out[Number(r.i) - 1].push(validationErrorView({ ...m, value_property: m.value_property! }, r.code!));
  }
  return out;
}
