/** What the entitlement events carry (pure). */
import type { MeteredEntitlement } from '../entitlements/service';

/**
 * OpenMeter's entitlement event payload (entitlement, feature, customer, subject, value): the body of
 * `entitlements.reset`, and of `entitlements.balance.threshold` with its `threshold` added.
 */
export function entitlementPayload(e: MeteredEntitlement) {
  const { entry } = e;
  return {
    entitlement: { subscription_id: e.subscription_id, ...entry },
    feature: { key: entry.feature_key },
    customer: e.customer,
    subject: { key: e.subjects[0] ?? e.customer.key },
    value: {
      usage: entry.usage,
      ...(entry.balance !== undefined ? { balance: entry.balance } : {}),
      ...(entry.overage !== undefined ? { overage: entry.overage } : {}),
      has_access: entry.has_access,
    },
  };
}
