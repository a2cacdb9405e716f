/**
 * Subscriptions' read exports for other domains (customers: "may this customer be deleted?"; catalog: "may
 * this plan version be deleted?"). A leaf that
 * imports only the db layer, so that a domain the subscription service depends on can call it without an
 * import cycle.
 */
import type { EntityManager } from '@mikro-orm/core';
import { Sql } from '../db/sql';
import { whereFilter, type FieldFilter } from '../lib/list-query';
import { Subscription } from './entities';

/** The ids of the customer's live (active or scheduled) subscriptions, in id order (empty when none). */
export async function activeSubscriptionIds(em: EntityManager, customerId: string): Promise<string[]> {
  const rows = await em.find(
    Subscription,
    { customerId, status: { $in: ['active', 'scheduled'] } },
    { fields: ['id'], orderBy: { id: 'asc' }, disableIdentityMap: true },
  );
  return rows.map((r) => r.id);
}

/** How many live (not canceled) subscriptions are on the plan version `planId` (or any of `planId`). */
export function liveSubscriptionCount(em: EntityManager, planId: string | string[]): Promise<number> {
  const ids = typeof planId === 'string' ? [planId] : planId;
  return em.count(Subscription, { planId: { $in: ids }, status: { $ne: 'canceled' } });
}

/**
 * A condition for another domain's list: `<customerIdColumn>` names a customer with a live subscription
 * whose plan key matches `f` (OpenMeter's `filter[plan_key]` on customers).
 */
export function customerOnPlanKeySql(q: Sql, customerIdColumn: string, f: FieldFilter): Sql {
  q.add(
    `${customerIdColumn} in (select s.customer_id from subscriptions s where s.status <> 'canceled' and `,
  );
  return whereFilter(q, 's.plan_key', f).add(')');
}
