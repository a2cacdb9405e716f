/**
 * Catalog export for other domains that show a plan version next to their own rows (subscriptions): the
 * name, currency, billing cadence and phases of many plan versions in one read. Any status, deleted drafts
 * included, so that a reference never dangles.
 */
import type { EntityManager } from '@mikro-orm/core';
import { PlanEntity } from './entities';
import type { ItemOrigins } from './derive';
import type { PlanPhase } from './types';

export interface PlanSummary {
  id: string;
  name: string;
  /** ISO 4217 code, as stored (`char(3)`) */
  currency: string;
  billing_cadence: string;
  /** the version's phases and rate cards (subscriptions show them as their phases and items) */
  phases: PlanPhase[];
  /** a subscription's own version: the catalog version it derives from (absent: a custom plan) */
  base_plan_id?: string;
  /** a subscription's own version (status `custom`) */
  custom?: boolean;
  /** where each item came from (src/catalog/derive.ts); absent on catalog versions (all `plan`) */
  origins?: ItemOrigins;
}

/** The plan versions named by `ids` (unknown ids are absent from the map). One query. */
export async function planSummaries(
  em: EntityManager,
  ids: readonly string[],
): Promise<Map<string, PlanSummary>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Map();
  const plans = await em.find(
    PlanEntity,
    { id: { $in: unique } },
    {
      fields: ['id', 'name', 'currency', 'billingCadence', 'phases', 'status', 'basePlanId', 'origins'],
      disableIdentityMap: true,
    },
  );
  return new Map(
    plans.map((p) => [
      p.id,
      {
        id: p.id,
        name: p.name,
        currency: p.currency,
        billing_cadence: p.billingCadence,
        phases: p.phases,
        custom: p.status === 'custom',
        ...(p.basePlanId ? { base_plan_id: p.basePlanId } : {}),
        ...(p.origins ? { origins: p.origins } : {}),
      },
    ]),
  );
}

/**
 * A SQL expression (trusted: `planIdColumn` is the caller's constant column) for the catalog plan version
 * that the plan version in `planIdColumn` is or derives from: itself for a catalog version, its base for a
 * subscription's own version (overrides, edits, add-ons), null for a custom plan. Subscriptions' list
 * filters `filter[plan_id]` on it.
 */
export function catalogPlanIdSql(planIdColumn: string): string {
  return `(select case when p.status = 'custom' then p.base_plan_id else p.id end from plans p where p.id = ${planIdColumn})`;
}
