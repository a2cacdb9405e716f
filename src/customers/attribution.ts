/**
 * Usage attribution, the one definition (metering, billing and entitlements use it): which customer owns
 * an event subject at an instant, and every ownership window of a customer. SQL fragments over the
 * customers' own tables (`customers`, `customer_subjects`, `customer_subject_releases`) for callers whose
 * statements must stay one for speed, and `subjectWindows` for callers that read the windows first.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import { normalizeTs, tsSql } from '../metering/time';

/**
 * Ownership of attribution names. A customer owns its `key` and each of its usage-attribution subject keys
 * over a half-open window `[owned_from, owned_to)` of event time:
 * - `owned_from` is the instant the previous owner of that name let it go (the latest `deleted_at` of a
 *   deleted customer with that key, or the latest release of that subject key), recorded when the name is
 *   claimed; NULL when nobody owned the name before (so back-filled usage of a first owner still counts);
 * - `owned_to` is when this customer let the name go: its own `deleted_at` for its key, the release time for
 *   a subject removed by PUT or released by the deletion (`customer_subject_releases`); NULL while owned.
 * Windows of one name never overlap (a name is claimed only while no live customer holds it, from the
 * latest release on), so every event (subject, time) belongs to at most one customer: the one whose window
 * for that name contains the event's time. A new owner therefore never sees, lists or is billed for usage
 * from before it owned the name, and a deleted customer keeps its own history.
 */
export interface SubjectWindow {
  subject: string;
  /** inclusive, RFC 3339 with microseconds; absent = since forever */
  from?: string;
  /** exclusive; absent = still owned */
  to?: string;
}

/**
 * A scalar SQL expression: the id of the customer (live or deleted) owning the subject `subjectExpr` at
 * the instant `timeExpr` (both SQL expressions, e.g. `e.subject`, `e.time`), or NULL. Four indexed probes.
 * Example (metering): `select ${customerAtSql('e.subject', 'e.time')} as customer_id from events e`.
 */
export function customerAtSql(subjectExpr: string, timeExpr: string): string {
  return `(select oa.customer_id from (
      select oa_s.customer_id, oa_s.owned_from, null::timestamptz as owned_to from customer_subjects oa_s
        where oa_s.subject_key = ${subjectExpr}
      union all
      select oa_k.id, oa_k.owned_from, null from customers oa_k where oa_k.key = ${subjectExpr} and oa_k.deleted_at is null
      union all
      select oa_r.customer_id, oa_r.owned_from, oa_r.released_at from customer_subject_releases oa_r
        where oa_r.subject_key = ${subjectExpr}
      union all
      select oa_d.id, oa_d.owned_from, oa_d.deleted_at from customers oa_d
        where oa_d.key = ${subjectExpr} and oa_d.deleted_at is not null
    ) oa where (oa.owned_from is null or oa.owned_from <= ${timeExpr})
        and (oa.owned_to is null or ${timeExpr} < oa.owned_to)
    limit 1)`;
}

/**
 * A lateral join giving `<alias>.customer_id`: the customer owning `subjectExpr` at `timeExpr` (see
 * `customerAtSql`), NULL when nobody did. Example (metering's event rows `e`):
 * `from events e ${attributionJoinSql('attr', 'e.subject', 'e.time')}`.
 */
export function attributionJoinSql(alias: string, subjectExpr: string, timeExpr: string): string {
  return `left join lateral (select ${customerAtSql(subjectExpr, timeExpr)} as customer_id) ${alias} on true`;
}

/**
 * A subquery of every name the customers ever owned (any window), for `subject in (...)` conditions that
 * let a customer filter use the subject indexes. `idsJsonExpr` is an SQL expression of a JSON array of
 * customer ids (e.g. `?::jsonb`); the exact window check stays on the attributed customer id.
 */
export function subjectsOfCustomersSql(idsJsonExpr: string): string {
  return `(select w.subject from jsonb_array_elements_text(${idsJsonExpr}) cid(id), lateral ${subjectWindowsSql('cid.id')} w)`;
}

/**
 * A derived table `(subject, owned_from, owned_to)` of every ownership window of the customer whose id is
 * the SQL expression `customerIdExpr` (timestamps as RFC 3339 text with microseconds, NULL = unbounded).
 */
export function subjectWindowsSql(customerIdExpr: string): string {
  return `(
    select sww.subject, ${tsSql('sww.owned_from')} as owned_from, ${tsSql('sww.owned_to')} as owned_to from (
      select swc.key as subject, swc.owned_from, swc.deleted_at as owned_to from customers swc
        where swc.id = ${customerIdExpr}
      union all
      select sws.subject_key, sws.owned_from, null from customer_subjects sws
        where sws.customer_id = ${customerIdExpr}
      union all
      select swr.subject_key, swr.owned_from, swr.released_at from customer_subject_releases swr
        where swr.customer_id = ${customerIdExpr}
    ) sww
  )`;
}

interface WindowRow {
  subject: string;
  owned_from: string | null;
  owned_to: string | null;
}

const toWindow = (r: WindowRow): SubjectWindow => ({
  subject: r.subject,
  ...(r.owned_from !== null ? { from: normalizeTs(r.owned_from) } : {}),
  ...(r.owned_to !== null ? { to: normalizeTs(r.owned_to) } : {}),
});

/** Parses the `jsonb_agg` of `subjectWindowsSql` rows (for one-statement loaders such as entitlements). */
export const windowsFromJson = (rows: WindowRow[] | null): SubjectWindow[] => (rows ?? []).map(toWindow);

/**
 * Every ownership window of a customer, live or deleted (empty for an unknown id): what its usage is made
 * of. Pass them as `subjects` to `aggregateUsage` / meter queries.
 */
export async function subjectWindows(em: EntityManager, customerId: string): Promise<SubjectWindow[]> {
  const q = new Sql().add(
    `select * from ${subjectWindowsSql('?')} sw order by sw.subject, sw.owned_from nulls first`,
    customerId,
    customerId,
    customerId,
  );
  return (await exec<WindowRow>(em, q)).map(toWindow);
}
