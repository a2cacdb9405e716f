/**
 * Entitlement evaluation, pure (no I/O, no clock): from an entitlement template of the rate card in force
 * and, for metered templates, the usage over the current usage period, to the access answer.
 *
 * Usage periods are anchored at the subscription's billing anchor (the same grid as billing), and usage
 * is never counted before the subscription's `active_from`.
 */
import Decimal from 'decimal.js';
import { periodContaining } from '../catalog/periods';
import type { EntitlementTemplate } from '../catalog/types';
import { instant } from '../lib/time';

/** One entitlement template in force for a customer: a rate card of the subscription's current phase. */
export interface EntitlementSource {
  subscription_id: string;
  feature_key: string;
  template: EntitlementTemplate;
  /** the rate card's billing cadence (null: one-time) */
  rate_card_cadence: string | null;
  plan_cadence: string;
  billing_anchor: Date;
  active_from: Date;
}

export type EntitlementType = EntitlementTemplate['type'];

/** One feature's access, as the customer's entitlement-access endpoint returns it. */
export interface AccessEntry {
  feature_key: string;
  type: EntitlementType;
  has_access: boolean;
  /** static: the template's config, JSON-encoded */
  config?: string;
  // metered only
  is_soft_limit?: boolean;
  /** absent when the template sets no limit (unlimited) */
  limit?: string;
  usage?: string;
  balance?: string;
  overage?: string;
  usage_period?: string;
  current_usage_period?: { from: string; to: string };
}

/** The usage window of a metered entitlement at `now`: the anchored period, clipped to the subscription's start. */
export interface UsageWindow {
  usage_period: string;
  period: { from: Date; to: Date };
  /** where usage counting starts: max(period start, active_from) */
  usage_from: Date;
  usage_to: Date;
}

/** The usage period of a metered template: its own, else the rate card's cadence, else the plan's. */
export function usagePeriodOf(src: EntitlementSource): string {
  const t = src.template;
  return (t.type === 'metered' ? t.usage_period : undefined) ?? src.rate_card_cadence ?? src.plan_cadence;
}

export function usageWindow(src: EntitlementSource, now: Date): UsageWindow {
  const usage_period = usagePeriodOf(src);
  const p = periodContaining(src.billing_anchor, usage_period, now);
  const usage_from = src.active_from > p.start ? src.active_from : p.start;
  return { usage_period, period: { from: p.start, to: p.end }, usage_from, usage_to: p.end };
}

/** Plain decimal notation (never exponents). */
const dec = (d: Decimal): string => d.toFixed();

/**
 * The access entry of one source. `usage` (a decimal string) is required for metered templates and
 * ignored otherwise.
 */
export function accessEntry(src: EntitlementSource, now: Date, usage?: string): AccessEntry {
  const t = src.template;
  switch (t.type) {
    case 'boolean':
      return { feature_key: src.feature_key, type: 'boolean', has_access: true };
    case 'static':
      return {
        feature_key: src.feature_key,
        type: 'static',
        has_access: true,
        config: JSON.stringify(t.config ?? null),
      };
    case 'metered': {
      if (usage === undefined) throw new Error(`usage missing for metered feature ${src.feature_key}`);
      const w = usageWindow(src, now);
      const soft = t.is_soft_limit ?? false;
      const used = new Decimal(usage);
      const out: AccessEntry = {
        feature_key: src.feature_key,
        type: 'metered',
        has_access: true,
        is_soft_limit: soft,
        usage: dec(used),
        usage_period: w.usage_period,
        current_usage_period: { from: instant(w.period.from), to: instant(w.period.to) },
      };
      if (t.limit !== undefined && t.limit !== null) {
        const limit = new Decimal(t.limit);
        out.limit = dec(limit);
        out.balance = dec(Decimal.max(limit.minus(used), 0));
        out.overage = dec(Decimal.max(used.minus(limit), 0));
        out.has_access = soft || used.lessThan(limit);
      }
      return out;
    }
  }
}

/**
 * One entry per feature when several active subscriptions grant the same feature: an entry with access
 * wins over one without; among those, the first (sources are ordered by subscription start).
 */
export function mergeEntries(entries: AccessEntry[]): AccessEntry[] {
  const byKey = new Map<string, AccessEntry>();
  for (const e of entries) {
    const prev = byKey.get(e.feature_key);
    if (!prev || (!prev.has_access && e.has_access)) byKey.set(e.feature_key, e);
  }
  return [...byKey.values()].sort((a, b) => a.feature_key.localeCompare(b.feature_key));
}
