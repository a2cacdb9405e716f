/**
 * Entitlements API views: the evaluated access of customers as `GET /customers/{id}/entitlement-access` and
 * `POST /entitlement-access/query` return it. Pure mapping (instants by `src/lib/time.ts`).
 */
import { instant } from '../lib/time';
import type { AccessEntry, EntitlementType } from './evaluate';

export type ReasonCode = 'usage_limit_reached' | 'feature_unavailable';

/** One feature's access in the batch query's answer. */
export interface FeatureAccess {
  has_access: boolean;
  /** absent for a requested feature the customer is not entitled to */
  type?: EntitlementType;
  reason?: { code: ReasonCode; message: string };
  limit?: string;
  usage?: string;
  balance?: string;
}

export interface AccessQueryResult {
  data: {
    matched: string[];
    /** OpenMeter's BillingCustomer, its required fields */
    customer: { id: string; key: string; name: string; created_at: string; updated_at: string };
    features: Record<string, FeatureAccess>;
    updated_at: string;
  }[];
  errors: { code: 'customer_not_found'; message: string; customer: string }[];
  /** OpenMeter's CursorMeta: Tally always answers in full, so there is never a next or previous page */
  meta: { page: { size: number; next: null; previous: null } };
}

/** What the views need of an evaluated customer. */
export interface EvaluatedAccess {
  id: string;
  key: string;
  name: string;
  created_at: Date;
  updated_at: Date;
  matched: string[];
  entries: AccessEntry[];
}

/** `GET /customers/{customerId}/entitlement-access` */
export const customerAccessView = (entries: AccessEntry[]): { data: AccessEntry[] } => ({ data: entries });

export function featureAccessView(e: AccessEntry): FeatureAccess {
  const out: FeatureAccess = { has_access: e.has_access, type: e.type };
  if (e.type === 'metered') {
    if (e.limit !== undefined) out.limit = e.limit;
    if (e.usage !== undefined) out.usage = e.usage;
    if (e.balance !== undefined) out.balance = e.balance;
    if (!e.has_access)
      out.reason = {
        code: 'usage_limit_reached',
        message:
          `usage ${e.usage} has reached the limit ${e.limit} for the usage period ` +
          `${e.current_usage_period?.from} – ${e.current_usage_period?.to}`,
      };
  }
  return out;
}

/**
 * `POST /entitlement-access/query`: every requested feature (or, without `featureKeys`, every entitled
 * feature) per matched customer; each input key that matched no customer as an error.
 */
export function accessQueryView(
  customers: EvaluatedAccess[],
  customerKeys: string[],
  featureKeys: string[] | undefined,
  now: Date,
): AccessQueryResult {
  const matched = new Set(customers.flatMap((c) => c.matched));
  const updated_at = instant(now);
  return {
    data: customers.map((c) => {
      const features: Record<string, FeatureAccess> = {};
      for (const e of c.entries) features[e.feature_key] = featureAccessView(e);
      for (const k of featureKeys ?? [])
        features[k] ??= {
          has_access: false,
          reason: { code: 'feature_unavailable', message: `feature ${k} is not in the customer's plan` },
        };
      const customer = {
        id: c.id,
        key: c.key,
        name: c.name,
        created_at: instant(c.created_at),
        updated_at: instant(c.updated_at),
      };
      return { matched: c.matched, customer, features, updated_at };
    }),
    errors: [...new Set(customerKeys)]
      .filter((k) => !matched.has(k))
      .map((k) => ({
        code: 'customer_not_found' as const,
        message: `no customer has the key or usage-attribution subject ${k}`,
        customer: k,
      })),
    meta: { page: { size: customers.length, next: null, previous: null } },
  };
}
