/**
 * Pure rules of billing workflow settings: OpenMeter's defaults, and a customer's overrides applied to its
 * profile's settings. No I/O, no imports but types: the workflow bundle may import it.
 */
import type { BillingWorkflowSettings, CollectionAlignment, PaymentSettings } from './types';

/** OpenMeter's defaults for the settings a profile leaves out. */
export const WORKFLOW_DEFAULTS = {
  alignment: { type: 'subscription' } as CollectionAlignment,
  interval: 'PT1H',
  auto_advance: true,
  draft_period: 'P0D',
  due_after: 'P30D',
  payment: { collection_method: 'charge_automatically' } as PaymentSettings,
} as const;

/** A `send_invoice` payment whose `due_after` may be left out (it then defaults, see `fillWorkflow`). */
export type PaymentInput =
  { collection_method: 'charge_automatically' } | { collection_method: 'send_invoice'; due_after?: string };

/** Workflow settings as a request gives them: every part optional. */
export interface WorkflowInput {
  collection?: { alignment?: CollectionAlignment; interval?: string };
  invoicing?: { auto_advance?: boolean; draft_period?: string };
  payment?: PaymentInput;
}

/**
 * A customer's overrides of its profile's workflow (Tally's extension of the customer's billing data): the
 * same shape as `WorkflowInput`; what is absent comes from the profile.
 */
export type WorkflowOverrides = WorkflowInput;

/** Complete settings from a request's partial ones, with OpenMeter's defaults (`interval`: the given default). */
export function fillWorkflow(
  w: WorkflowInput = {},
  defaultInterval: string = WORKFLOW_DEFAULTS.interval,
): BillingWorkflowSettings {
  return {
    collection: {
      alignment: w.collection?.alignment ?? WORKFLOW_DEFAULTS.alignment,
      interval: w.collection?.interval ?? defaultInterval,
    },
    invoicing: {
      auto_advance: w.invoicing?.auto_advance ?? WORKFLOW_DEFAULTS.auto_advance,
      draft_period: w.invoicing?.draft_period ?? WORKFLOW_DEFAULTS.draft_period,
    },
    payment: payment(w.payment, undefined) ?? WORKFLOW_DEFAULTS.payment,
  };
}

/**
 * A payment input made complete: `send_invoice` without `due_after` keeps the base's `due_after` when the
 * base also sends invoices, else OpenMeter's default (P30D). Undefined when there is no input.
 */
function payment(
  p: PaymentInput | undefined,
  base: PaymentSettings | undefined,
): PaymentSettings | undefined {
  if (!p) return undefined;
  if (p.collection_method === 'charge_automatically') return { collection_method: 'charge_automatically' };
  const inherited = base?.collection_method === 'send_invoice' ? base.due_after : undefined;
  return {
    collection_method: 'send_invoice',
    due_after: p.due_after ?? inherited ?? WORKFLOW_DEFAULTS.due_after,
  };
}

/**
 * The settings a customer's invoices run by: its profile's `base`, with each setting the customer overrides
 * replaced. `alignment` and `payment` are replaced whole (they are one choice each); a `send_invoice`
 * override without `due_after` keeps the profile's `due_after` (or P30D when the profile charges
 * automatically). Returns a new object; neither argument is changed.
 */
export function applyOverrides(
  base: BillingWorkflowSettings,
  o: WorkflowOverrides | null | undefined,
): BillingWorkflowSettings {
  const copy = (w: BillingWorkflowSettings): BillingWorkflowSettings =>
    JSON.parse(JSON.stringify(w)) as BillingWorkflowSettings;
  if (!o) return copy(base);
  return copy({
    collection: {
      alignment: o.collection?.alignment ?? base.collection.alignment,
      interval: o.collection?.interval ?? base.collection.interval,
    },
    invoicing: {
      auto_advance: o.invoicing?.auto_advance ?? base.invoicing.auto_advance,
      draft_period: o.invoicing?.draft_period ?? base.invoicing.draft_period,
    },
    payment: payment(o.payment, base.payment) ?? base.payment,
  });
}

/** Overrides without empty parts (`{collection: {}}` says nothing); null when nothing is overridden. */
export function compactOverrides(o: WorkflowOverrides | null | undefined): WorkflowOverrides | null {
  if (!o) return null;
  const out: WorkflowOverrides = {};
  const c = {
    ...(o.collection?.alignment ? { alignment: o.collection.alignment } : {}),
    ...(o.collection?.interval !== undefined ? { interval: o.collection.interval } : {}),
  };
  if (Object.keys(c).length) out.collection = c;
  const i = {
    ...(o.invoicing?.auto_advance !== undefined ? { auto_advance: o.invoicing.auto_advance } : {}),
    ...(o.invoicing?.draft_period !== undefined ? { draft_period: o.invoicing.draft_period } : {}),
  };
  if (Object.keys(i).length) out.invoicing = i;
  if (o.payment) out.payment = o.payment;
  return Object.keys(out).length ? out : null;
}
