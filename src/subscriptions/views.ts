/** The API view of a subscription: `SubscriptionView` and its mapper from the row and its plan version. */
import type { PlanSummary } from '../catalog/plan-summaries';
import { instant } from '../lib/time';
import type { InvoiceFailureRecord, PendingChangeRecord } from './records';
import { currentPeriodOf } from './row-period';

/** The API shape of a subscription (a subset of `BillingSubscription` plus Tally's timing fields). */
export interface SubscriptionView {
  id: string;
  name: string;
  customer_id: string;
  plan: { id: string; key: string; version: number };
  status: 'active' | 'canceled';
  invoice_currency: string;
  billing_cadence: string;
  billing_anchor: string;
  active_from: string;
  active_to?: string;
  current_period?: { from: string; to: string };
  next_billing_at?: string;
  phase: { key: string; active_from: string };
  pending_changes: {
    type: PendingChangeRecord['kind'];
    timing: string;
    plan?: PendingChangeRecord['plan'];
  }[];
  /** present while issuing one of its invoices keeps failing (the workflow retries it with a backoff) */
  invoice_failure?: {
    invoice_key: string;
    /** failed tries so far (each try is a few attempts) */
    attempts: number;
    failing_since: string;
    last_error: string;
    next_attempt_at: string;
  };
  created_at: string;
  updated_at: string;
}

/** A timestamp as a raw row carries it: PostgreSQL's text (`2026-01-01 00:00:00.123456+00`) or a Date. */
type Instant = Date | string;

/** A raw `subscriptions` row. */
export interface SubscriptionRow {
  id: string;
  customer_id: string;
  customer_key: string;
  plan_id: string;
  plan_key: string;
  plan_version: number;
  status: 'active' | 'canceled';
  billing_anchor: Instant;
  active_from: Instant;
  active_to: Instant | null;
  phase_key: string;
  phase_started_at: Instant;
  current_period_start: Instant | null;
  current_period_end: Instant | null;
  next_period_end: Instant | null;
  pending_change: PendingChangeRecord | null;
  invoice_failure: InvoiceFailureRecord | null;
  workflow_id: string;
  created_at: Instant;
  updated_at: Instant;
}

/** The view of a row with its plan version's name, currency and cadence, its current period at `now`. */
export function subscriptionView(r: SubscriptionRow, plan: PlanSummary, now = new Date()): SubscriptionView {
  const period = currentPeriodOf(r, now);
  return {
    id: r.id,
    name: plan.name,
    customer_id: r.customer_id,
    plan: { id: r.plan_id, key: r.plan_key, version: r.plan_version },
    status: r.status,
    invoice_currency: plan.currency.trim(),
    billing_cadence: plan.billing_cadence,
    billing_anchor: instant(r.billing_anchor),
    active_from: instant(r.active_from),
    ...(r.active_to ? { active_to: instant(r.active_to) } : {}),
    ...(r.status === 'active' && period
      ? {
          current_period: { from: instant(period.from), to: instant(period.to) },
          next_billing_at: instant(period.to),
        }
      : {}),
    phase: { key: r.phase_key, active_from: instant(r.phase_started_at) },
    pending_changes: r.pending_change
      ? [
          {
            type: r.pending_change.kind,
            timing: r.pending_change.at,
            ...(r.pending_change.plan ? { plan: r.pending_change.plan } : {}),
          },
        ]
      : [],
    ...(r.invoice_failure
      ? {
          invoice_failure: {
            invoice_key: r.invoice_failure.invoiceKey,
            attempts: r.invoice_failure.tries,
            failing_since: r.invoice_failure.since,
            last_error: r.invoice_failure.lastError,
            next_attempt_at: r.invoice_failure.retryAt,
          },
        }
      : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
  };
}
