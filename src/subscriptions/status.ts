/**
 * OpenMeter's subscription statuses (`GetStatusAt` in openmeter/subscription/subscription.go) from Tally's row.
 * Pure, a leaf. The workflow and the `subscriptions.status` column keep their own three states
 * (`scheduled`, `active`, `canceled` = ended); the API maps them here, at the view and the query edge:
 *
 * | row `status` | pending change | API status  |
 * |--------------|----------------|-------------|
 * | `scheduled`  | any            | `scheduled` (not started yet; a scheduled end does not change that) |
 * | `active`     | `cancel`       | `canceled`  (running, with an end scheduled: OpenMeter's `active_to` ahead) |
 * | `active`     | none or other  | `active`    |
 * | `canceled`   | —              | `inactive`  (ended) |
 */

/** the workflow's (and the row's) status */
export type RowStatus = 'scheduled' | 'active' | 'canceled';
/** OpenMeter's BillingSubscriptionStatus */
export type ApiStatus = 'scheduled' | 'active' | 'inactive' | 'canceled';

export const API_STATUSES = ['scheduled', 'active', 'inactive', 'canceled'] as const satisfies ApiStatus[];

/** The API status of a row (`pendingKind`: the kind of its pending change, if any). */
export function apiStatus(rowStatus: RowStatus, pendingKind?: string | null): ApiStatus {
  if (rowStatus === 'canceled') return 'inactive';
  if (rowStatus === 'scheduled') return 'scheduled';
  return pendingKind === 'cancel' ? 'canceled' : 'active';
}

/**
 * The same mapping as a SQL expression over a `subscriptions` row aliased `alias` (trusted SQL: the alias
 * is the caller's constant), for `filter[status]` in every form.
 */
export function apiStatusSql(alias: string): string {
  const s = `${alias}.status`;
  return `(case when ${s} = 'canceled' then 'inactive' when ${s} = 'scheduled' then 'scheduled' when ${alias}.pending_change->>'kind' = 'cancel' then 'canceled' else 'active' end)`;
}
