/**
 * The activities' signatures as the workflow sees them (proxyActivities<...>). Pure type declarations, a
 * leaf: the workflow names its activities from here, never from their implementations (which load the ORM),
 * and the implementations in ./subscriptions.ts and ./billing.ts are checked against it.
 */
import type {
  DraftEdit,
  DraftEditResult,
  HandOverRef,
  HandOverResult,
  IssueInvoiceInput,
  IssuedRef,
  RecordedStatus,
} from '../src/billing/contract';
import type { InvoiceFailureRecord, PeriodRecord, PeriodRecorded } from '../src/subscriptions/records';
import type {
  AttemptResult,
  DeliveryAttemptInput,
  EntitlementResetsResult,
} from '../src/notifications/types';

/** write what the workflow decided to the `subscriptions` row (absolute values: a retry writes the same) */
export interface SubscriptionActivities {
  /** The period, plan, phase and pending change now in force. */
  recordSubscriptionPeriod(input: PeriodRecord): Promise<PeriodRecorded>;
  /** The invoice that keeps failing (shown by the API), or null once none does. */
  recordInvoiceFailure(input: {
    subscriptionId: string;
    failure: InvoiceFailureRecord | null;
  }): Promise<void>;
  /** The subscription ended at `activeTo`. */
  markSubscriptionCanceled(input: { subscriptionId: string; activeTo: string }): Promise<void>;
}

/** What the subscription workflow calls when a period is billable. */
export interface BillingActivities {
  /**
   * Hands a closed period (and/or a starting period's in-advance fees) over to billing as a pending line of
   * the customer, once per key, and signals the customer's collection workflow (signal-with-start) with the
   * instant it is due to be gathered (by the customer's profile).
   */
  handOverInvoice(input: IssueInvoiceInput & At): Promise<HandOverRef>;
}

/** What the customer's collection workflow calls. */
export interface CollectionActivities {
  /**
   * Gathers the customer's pending lines due by `at` onto one draft per currency (once: a retry finds the
   * lines gathered) and starts the drafts' workflows (once: by workflow id). Answers when the next pending
   * line is due.
   */
  gatherPendingLines(
    input: { customerId: string } & At,
  ): Promise<{ invoiceIds: string[]; nextCollectAt: string | null }>;
}

/**
 * `at`: the workflow's "now" (ISO): the instants an activity stores (issued_at, due_at, paid_at, …) are the
 * ones the workflow's timers count from (equal to the wall clock in production, not under time skipping).
 */
export interface At {
  at?: string;
}

/** The invoice workflow's steps; each idempotent (a retry or a replay acts once). */
export interface InvoiceActivities {
  /** Re-rates a draft's usage lines from the events now (no-op once it is not a draft). */
  rerateDraftInvoice(input: { invoiceId: string } & At): Promise<{ changed: number }>;
  /**
   * Numbers, dates and freezes the draft (returns the issued invoice when it is issued already), with the
   * issuing steps of its payment app (as `paymentAppSteps` answers: the workflow needs no second activity).
   */
  issueDraftInvoice(input: { invoiceId: string } & At): Promise<IssuedRef & { appSteps?: string[] }>;
  /** The issuing steps of the invoice's payment app (src/apps/payment.ts), in order. */
  paymentAppSteps(input: { invoiceId: string }): Promise<{ type: string; steps: string[] }>;
  /** Runs one issuing step in the payment app (idempotent: checked before it calls out). */
  issueInPaymentApp(input: { invoiceId: string; step: string }): Promise<void>;
  /** Hands the issued invoice to the payment app (charge or send), once (recorded in the row). */
  handOverToPayment(input: { invoiceId: string } & At): Promise<HandOverResult>;
  /** Shows (or clears, `null`) a payment that did not go through. */
  recordPaymentIssue(input: { invoiceId: string; message: string | null } & At): Promise<void>;
  /** Writes a status decided by the workflow (void, paid, uncollectible, overdue, deleted). */
  recordInvoiceStatus(input: { invoiceId: string; status: RecordedStatus } & At): Promise<void>;
  /** Shows that a step failed (`status_details.failed`) until it is retried. */
  recordInvoiceStepFailure(
    input: { invoiceId: string; step: 'issuing' | 'payment'; message: string } & At,
  ): Promise<void>;
  /**
   * Records what the invoicing app's external system reported at a sync hook (custom invoicing): its ids
   * go into `external_references` (idempotent: the same keys again), with an `invoice.updated` event.
   */
  recordAppSync(
    input: { invoiceId: string; step: 'draft' | 'issuing'; references: Record<string, string> } & At,
  ): Promise<void>;
  /** Applies a user's edit to the draft. */
  editDraftInvoice(input: { invoiceId: string; edit: DraftEdit } & At): Promise<DraftEditResult>;
}

/** The notification delivery workflow's one step (src/notifications/delivery.ts). */
export interface NotificationActivities {
  /** One signed POST of the event to the channel, its outcome recorded; `retry` says when to try again. */
  attemptNotificationDelivery(input: DeliveryAttemptInput): Promise<AttemptResult>;
  /**
   * Records `entitlements.reset` for each of the subscription's metered entitlements whose usage period
   * rolled over by `at` (once per entitlement and period: a retry finds it marked); answers when the next
   * one rolls over (null: none in force).
   */
  recordEntitlementResets(
    input: { subscriptionId: string; customerId: string } & At,
  ): Promise<EntitlementResetsResult>;
}
