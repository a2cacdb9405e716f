/**
 * The activities' signatures as the workflow sees them (proxyActivities<...>). Pure type declarations, a
 * leaf: the workflow names its activities from here, never from their implementations (which load the ORM),
 * and the implementations in ./subscriptions.ts and ./billing.ts are checked against it.
 */
import type { IssueInvoiceInput, IssuedInvoiceRef } from '../src/billing/contract';
import type { InvoiceFailureRecord, PeriodRecord } from '../src/subscriptions/records';

/** write what the workflow decided to the `subscriptions` row (absolute values: a retry writes the same) */
export interface SubscriptionActivities {
  /** The period, plan, phase and pending change now in force. */
  recordSubscriptionPeriod(input: PeriodRecord): Promise<void>;
  /** The invoice that keeps failing (shown by the API), or null once none does. */
  recordInvoiceFailure(input: {
    subscriptionId: string;
    failure: InvoiceFailureRecord | null;
  }): Promise<void>;
  /** The subscription ended at `activeTo`. */
  markSubscriptionCanceled(input: { subscriptionId: string; activeTo: string }): Promise<void>;
}

export interface BillingActivities {
  /** Issues the invoice for a closed period (and/or a starting period's in-advance fees) once per key. */
  issueInvoice(input: IssueInvoiceInput): Promise<IssuedInvoiceRef>;
}
