/**
 * Catalog export for other domains that show a plan version next to their own rows (subscriptions): the
 * name, currency and billing cadence of many plan versions in one read. Any status, deleted drafts
 * included, so that a reference never dangles.
 */
import type { EntityManager } from '@mikro-orm/core';
import { PlanEntity } from './entities';

export interface PlanSummary {
  id: string;
  name: string;
  /** ISO 4217 code, as stored (`char(3)`) */
  currency: string;
  billing_cadence: string;
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
    { fields: ['id', 'name', 'currency', 'billingCadence'], disableIdentityMap: true },
  );
  return new Map(
    plans.map((p) => [
      p.id,
      { id: p.id, name: p.name, currency: p.currency, billing_cadence: p.billingCadence },
    ]),
  );
}
