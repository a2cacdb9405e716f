/**
 * Balance thresholds, pure: which of a rule's thresholds a metered entitlement's usage has reached.
 * `percent` counts against the entitlement's limit (an entitlement without a limit has no percentage);
 * `number` is an absolute usage. A threshold is reached when usage >= its value (100 % = the limit).
 */
import Decimal from 'decimal.js';
import type { ThresholdValue } from './types';

/** The threshold's stable key (for "once per threshold per period"): `percent:80`, `number:1000`. */
export const thresholdKey = (t: ThresholdValue): string => `${t.type}:${new Decimal(t.value).toFixed()}`;

/** The usage at which `t` is reached, or null when it cannot be (a percentage without a limit). */
export function thresholdUsage(t: ThresholdValue, limit: string | undefined): Decimal | null {
  if (t.type === 'number') return new Decimal(t.value);
  if (limit === undefined) return null;
  return new Decimal(limit).times(t.value).dividedBy(100);
}

/** The thresholds of `thresholds` that `usage` has reached (each once, by key, in the given order). */
export function reachedThresholds(
  thresholds: ThresholdValue[],
  usage: string,
  limit: string | undefined,
): ThresholdValue[] {
  const used = new Decimal(usage);
  const seen = new Set<string>();
  const out: ThresholdValue[] = [];
  for (const t of thresholds) {
    const k = thresholdKey(t);
    if (seen.has(k)) continue;
    seen.add(k);
    const at = thresholdUsage(t, limit);
    if (at !== null && used.greaterThanOrEqualTo(at)) out.push(t);
  }
  return out;
}
