/**
 * Catalog types as they appear on the wire (snake_case) and in the `plans.phases` jsonb column.
 * Pure type declarations: safe to import from workflow code.
 */

/** Decimal string, `^-?\d+(\.\d+)?$` */
export type Numeric = string;

export interface FlatPrice {
  type: 'flat';
  amount: Numeric;
}
export interface UnitPrice {
  type: 'unit';
  amount: Numeric;
}
export interface FreePrice {
  type: 'free';
}
export interface PriceTier {
  /** inclusive upper bound; omitted on the open last tier */
  up_to_amount?: Numeric;
  /** charged once when the tier is entered (graduated) / selected (volume) */
  flat_price?: FlatPrice;
  /** per unit in the tier */
  unit_price?: UnitPrice;
}
export interface GraduatedPrice {
  type: 'graduated';
  tiers: PriceTier[];
}
export interface VolumePrice {
  type: 'volume';
  tiers: PriceTier[];
}
export type Price = FreePrice | FlatPrice | UnitPrice | GraduatedPrice | VolumePrice;
export type UsagePrice = UnitPrice | GraduatedPrice | VolumePrice;

export type EntitlementTemplate =
  | { type: 'boolean' }
  | { type: 'metered'; is_soft_limit?: boolean; limit?: number; usage_period?: string }
  | { type: 'static'; config: unknown };

export type PaymentTerm = 'in_advance' | 'in_arrears';

export interface RateCard {
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  feature?: { id: string };
  /** ISO-8601 duration; null = one-time (flat prices only). Usage prices: equal to the plan cadence. */
  billing_cadence: string | null;
  payment_term: PaymentTerm;
  price: Price;
  entitlement?: EntitlementTemplate;
  /**
   * OpenMeter's rate-card fields that Tally stores as sent and does not bill yet (issue 13; see the README):
   * `currency` (must be the plan's), `unit_config`, `commitments`, `discounts`, `tax_config`.
   */
  currency?: string;
  unit_config?: unknown;
  commitments?: unknown;
  discounts?: unknown;
  tax_config?: unknown;
}

export interface PlanPhase {
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  /** ISO-8601 duration; absent only on the last phase (runs indefinitely) */
  duration?: string;
  rate_cards: RateCard[];
}

/** `custom`: a subscription's own version (never listed, never subscribable: src/catalog/derive.ts) */
export type PlanStatus = 'draft' | 'active' | 'archived' | 'custom';

export interface Plan {
  id: string;
  key: string;
  version: number;
  status: PlanStatus;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  currency: string;
  billing_cadence: string;
  pro_rating_enabled: boolean;
  effective_from?: string;
  effective_to?: string;
  phases: PlanPhase[];
  created_at: string;
  updated_at: string;
}

export interface FeatureMeterFilter {
  eq?: string;
  in?: string[];
}

export interface Feature {
  id: string;
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  meter?: { id: string; filters?: Record<string, FeatureMeterFilter> };
  /** OpenMeter's per-unit cost configuration: stored as sent, not used yet */
  unit_cost?: unknown;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
}

/** `single`: bought at most once per subscription; `multiple`: bought in a quantity */
export type AddonInstanceType = 'single' | 'multiple';

/** An add-on version (OpenMeter's Addon): rate cards a subscription on a compatible plan can buy. */
export interface Addon {
  id: string;
  key: string;
  version: number;
  status: PlanStatus;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  instance_type: AddonInstanceType;
  currency: string;
  effective_from?: string;
  effective_to?: string;
  rate_cards: RateCard[];
  created_at: string;
  updated_at: string;
}

/** Which add-on (version) a plan version offers, from which phase on, how many at most. */
export interface PlanAddon {
  id: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  addon: { id: string };
  from_plan_phase: string;
  /** absent: unlimited (multi-instance) or 1 (single-instance) */
  max_quantity?: number;
  created_at: string;
  updated_at: string;
}
