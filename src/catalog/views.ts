/**
 * Catalog API views: `features` and `plans` rows as the API returns them (snake_case, instants with
 * milliseconds in UTC by `src/lib/time.ts`, absent optional fields left out).
 */
import { instant } from '../lib/time';
import type { ItemOrigins } from './derive';
import type { Feature, FeatureMeterFilter, Plan, PlanPhase, PlanStatus } from './types';

/** A `features` row (`select *`). */
export interface FeatureRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  labels: Record<string, string> | null;
  meter_id: string | null;
  meter_filters: Record<string, FeatureMeterFilter> | null;
  unit_cost?: unknown;
  created_at: Date | string;
  updated_at: Date | string;
  deleted_at: Date | string | null;
}

/** A `plans` row (`select *`). */
export interface PlanRow {
  id: string;
  key: string;
  version: number | string;
  status: PlanStatus;
  name: string;
  description: string | null;
  labels: Record<string, string> | null;
  currency: string;
  billing_cadence: string;
  pro_rating_enabled: boolean;
  phases: PlanPhase[];
  effective_from: Date | string | null;
  effective_to: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
  deleted_at: Date | string | null;
  /** set on a subscription's own version (status `custom`) */
  owner_subscription_id?: string | null;
  base_plan_id?: string | null;
  origins?: ItemOrigins | null;
}

export function featureView(r: FeatureRow): Feature {
  const filters = r.meter_filters;
  return {
    id: r.id,
    key: r.key,
    name: r.name,
    ...(r.description != null ? { description: r.description } : {}),
    ...(r.labels != null ? { labels: r.labels } : {}),
    ...(r.meter_id != null ? { meter: { id: r.meter_id, ...(filters ? { filters } : {}) } } : {}),
    ...(r.unit_cost != null ? { unit_cost: r.unit_cost } : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
    ...(r.deleted_at != null ? { deleted_at: instant(r.deleted_at) } : {}),
  };
}

/** A subscription's own plan version (src/catalog/derive.ts). */
export interface SubscriptionPlanVersion extends Plan {
  owner_subscription_id: string;
  /** the catalog version it derives from; absent for a custom plan */
  base_plan_id?: string;
  origins: ItemOrigins;
}

export function subscriptionVersionView(r: PlanRow): SubscriptionPlanVersion {
  return {
    ...planView(r),
    owner_subscription_id: r.owner_subscription_id!,
    ...(r.base_plan_id != null ? { base_plan_id: r.base_plan_id } : {}),
    origins: r.origins ?? { items: {} },
  };
}

export function planView(r: PlanRow): Plan {
  return {
    id: r.id,
    key: r.key,
    version: Number(r.version),
    status: r.status,
    name: r.name,
    ...(r.description != null ? { description: r.description } : {}),
    ...(r.labels != null ? { labels: r.labels } : {}),
    currency: r.currency.trim(),
    billing_cadence: r.billing_cadence,
    pro_rating_enabled: r.pro_rating_enabled,
    ...(r.effective_from != null ? { effective_from: instant(r.effective_from) } : {}),
    ...(r.effective_to != null ? { effective_to: instant(r.effective_to) } : {}),
    phases: r.phases,
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
  };
}
