/**
 * When a pending line is collected onto an invoice (pure, unit-tested). OpenMeter's gathering invoice: a
 * line is due at its `invoice_at`; the customer's profile (`workflow.collection`) says when it is gathered:
 * - `alignment: subscription`: at `invoice_at` + the collection interval (each subscription's own
 *   boundaries; lines due at the same instant share an invoice);
 * - `alignment: anchored`: at the first boundary of the recurring period (anchor + n × interval) at or after
 *   `invoice_at`, plus the collection interval — so subscriptions with different boundaries meet on one
 *   invoice at the anchor.
 * The collection interval is the late-usage window: usage lines are rated when the invoice is created.
 */
import { addDuration, periodContaining } from '../catalog/periods';
import type { BillingWorkflowSettings } from '../profiles/types';

/** The first anchor boundary at or after `at` (`at` itself when it lies on one). */
export function anchorBoundaryAtOrAfter(anchor: Date, interval: string, at: Date): Date {
  const p = periodContaining(anchor, interval, at);
  return p.start.getTime() === at.getTime() ? p.start : p.end;
}

/** The instant a line due at `invoiceAt` is gathered, by the customer's collection settings. */
export function collectionInstant(invoiceAt: Date, collection: BillingWorkflowSettings['collection']): Date {
  const a = collection.alignment;
  const base =
    a.type === 'anchored'
      ? anchorBoundaryAtOrAfter(new Date(a.recurring_period.anchor), a.recurring_period.interval, invoiceAt)
      : invoiceAt;
  return addDuration(base, collection.interval);
}
