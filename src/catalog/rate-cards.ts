/**
 * Rate-card predicates: how a rate card is billed, in one place for the catalog (plan validation), billing
 * (invoice composition), entitlements and the subscription state machine (which phases issue an invoice
 * in advance).
 *
 * Workflow-safe: imports type declarations only (no ORM, `pg`, logger or Node built-ins), so the workflow
 * bundle may import it; it is under the sandbox lint rule (eslint.config.mjs).
 */
import type { FeatureMeterFilter, PaymentTerm, Price, UsagePrice } from './types';

/** Usage prices (unit, graduated, volume) are rated on metered usage and billed in arrears. */
export const isUsagePrice = (p: Price): p is UsagePrice =>
  p.type === 'unit' || p.type === 'graduated' || p.type === 'volume';

/** The rate card's payment term; `in_arrears` when it names none. */
export const paymentTermOf = (rc: { payment_term?: PaymentTerm }): PaymentTerm =>
  rc.payment_term ?? 'in_arrears';

/** A one-time fee: a flat price without a billing cadence, billed once per subscription and plan phase. */
export const isOneTime = (rc: { price: Price; billing_cadence?: string | null }): boolean =>
  rc.price.type === 'flat' && (rc.billing_cadence === null || rc.billing_cadence === undefined);

/**
 * A flat fee paid in advance (recurring or one-time): a phase holding one opens with an invoice in advance.
 * Only flat prices can be paid in advance (plan validation refuses `in_advance` on usage prices).
 */
export const isBilledInAdvance = (rc: { price: Price; payment_term?: PaymentTerm }): boolean =>
  rc.price.type === 'flat' && paymentTermOf(rc) === 'in_advance';

/**
 * A feature's meter filters (`{dim: {eq} | {in}}`) as usage filters (`{dim: values}`), the form the meter
 * query takes. Undefined when nothing filters (no filters, or only empty ones).
 */
export function usageFilters(
  filters: Record<string, FeatureMeterFilter> | null | undefined,
): Record<string, string[]> | undefined {
  if (!filters) return undefined;
  const out: Record<string, string[]> = {};
  for (const [dim, cond] of Object.entries(filters)) {
    const values = cond.in ?? (cond.eq !== undefined ? [cond.eq] : []);
    if (values.length > 0) out[dim] = values;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
