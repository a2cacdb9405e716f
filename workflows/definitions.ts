/**
 * The subscription workflow's message definitions, shared by the workflow and the API (which sends the
 * Updates and Queries). No workflow-only calls here, so it is safe to import outside the sandbox.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PlanSchedule, SubscriptionState, SubscriptionView, Timing } from '../src/subscriptions/machine';
import type { DraftEdit } from '../src/billing/contract';
import type { InvoiceAction, LifecycleState, PaymentResult } from '../src/billing/lifecycle';
import type { DeliveryWorkflowInput } from '../src/notifications/types';
import type { SyncHooks } from '../src/billing/contract';

/**
 * The subscription workflow's signature, for `client.workflow.start<SubscriptionWorkflow>(...)`: the API
 * names it here instead of importing the workflow (and through it the activities); workflows/index.ts
 * checks that the workflow matches it.
 */
export type SubscriptionWorkflow = (state: SubscriptionState) => Promise<SubscriptionView>;

export interface CancelArgs {
  timing: Timing;
}
export interface ChangeArgs {
  timing: Timing;
  /** the target plan version, resolved and checked (active) by the API */
  plan: PlanSchedule;
}

export const cancelUpdate = defineUpdate<SubscriptionView, [CancelArgs]>('cancel');
export const changeUpdate = defineUpdate<SubscriptionView, [ChangeArgs]>('change');
export const migrateUpdate = defineUpdate<SubscriptionView, [ChangeArgs]>('migrate');
/** to the subscription's own version derived from the current one (an edit), keeping the phase position */
export const editUpdate = defineUpdate<SubscriptionView, [ChangeArgs]>('edit');
/** withdraws a scheduled edit (rejected as a conflict when none is scheduled) */
export const unscheduleEditUpdate = defineUpdate<SubscriptionView, []>('unscheduleEdit');
/** withdraws a scheduled cancelation (rejected as a conflict when none is scheduled) */
export const unscheduleCancelationUpdate = defineUpdate<SubscriptionView, []>('unscheduleCancelation');
export const getStateQuery = defineQuery<SubscriptionView>('getState');

/** ApplicationFailure types of rejected requests; the API maps them to 400 and 409. */
export const REJECTION_TYPES = { bad_request: 'BadRequest', conflict: 'Conflict' } as const;

// ---------------------------------------------------------------------------------------------------
// the invoice workflow (`invoice-<id>`, workflows/invoice.ts)

export interface InvoiceWorkflowInput {
  invoiceId: string;
  customerKey: string;
  /** where the invoice is (a new draft, or the stored state when a run is started for an existing invoice) */
  lifecycle: LifecycleState;
  /** ISO instant: a draft is issued (auto advance) or waits for approval from then on */
  draftUntil: string;
  number?: string | null;
  /** ISO instant, once issued with a due date */
  dueAt?: string | null;
  /** the issued invoice was handed to the payment app already (or issued before there was one) */
  handedOver?: boolean;
  /** custom invoicing: the sync hooks the invoice waits for before it is issued */
  syncHooks?: SyncHooks;
  /** the hooks reported already (carried across continue-as-new) */
  synced?: { draft: boolean; issuing: boolean };
}
export type InvoiceWorkflow = (input: InvoiceWorkflowInput) => Promise<LifecycleState>;

export interface InvoiceActionArgs {
  action: InvoiceAction;
  /** with `edit` */
  edit?: DraftEdit;
}

/** Every user action on an invoice: validated against the workflow's state, answered once it took effect. */
export const invoiceActionUpdate = defineUpdate<LifecycleState, [InvoiceActionArgs]>('invoiceAction');
/** What a payment app's provider reported (a verified webhook event), once per event id. */
export interface PaymentEventArgs {
  result: PaymentResult;
  eventId: string;
  /** with `failed`: the provider's reason */
  message?: string;
}
/** Refused (INVOICE_REFUSAL_TYPE) when the invoice's state no longer allows it: a late or repeated event. */
export const paymentEventUpdate = defineUpdate<LifecycleState, [PaymentEventArgs]>('paymentEvent');
/** What the invoicing app's external system reported at a sync hook (custom invoicing). */
export interface AppSyncArgs {
  step: 'draft' | 'issuing';
  /** merged into the invoice's `external_references` */
  references: Record<string, string>;
}
/** Refused (INVOICE_REFUSAL_TYPE) when the invoice does not wait for this hook (out of order); a repeat: a no-op. */
export const appSyncUpdate = defineUpdate<LifecycleState, [AppSyncArgs]>('appSync');
export const getInvoiceStateQuery = defineQuery<LifecycleState>('getInvoiceState');

/** ApplicationFailure type of a refused invoice action; `details[0]` holds the available actions. */
export const INVOICE_REFUSAL_TYPE = 'InvoiceActionRefused';

// ---------------------------------------------------------------------------------------------------
// the customer's collection workflow (`collection-<customerId>`, workflows/collection.ts)

export interface CollectionWorkflowInput {
  customerId: string;
  /** ISO instants at which pending lines are due to be gathered (carried across continue-as-new) */
  due: string[];
}
export type CollectionWorkflow = (input: CollectionWorkflowInput) => Promise<void>;

/** A pending line of the customer is due to be gathered at `at` (sent with signal-with-start). */
export const collectSignal = defineSignal<[{ at: string }]>('collect');

export const collectionWorkflowId = (customerId: string) => `collection-${customerId}`;
// the notification delivery workflow (`notification-delivery-<delivery id>-<generation>`, workflows/notification.ts)

export type NotificationDeliveryWorkflow = (input: DeliveryWorkflowInput) => Promise<'success' | 'stop'>;
