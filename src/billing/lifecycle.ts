/**
 * The invoice lifecycle as a pure state machine (no I/O, no clock: safe in the workflow bundle). The invoice
 * workflow (workflows/invoice.ts) drives it; the API reads `statusDetails` from the stored row.
 *
 *   draft ──advance/approve/draft period over──▶ issuing ──issued──▶ issued ──handed over──▶ paid
 *     │                                            │ (failed: retry)   │ (failed: retry)  └▶ payment_processing
 *     └─delete─▶ deleted                           └─delete─▶ deleted  └─void─▶ voided        │ due ▶ overdue
 *   payment_processing | overdue ──mark_paid──▶ paid, ──mark_uncollectible──▶ uncollectible, ──void──▶ voided
 *   uncollectible ──mark_paid──▶ paid, ──void──▶ voided;  paid, voided, deleted: final.
 *
 * Statuses follow OpenMeter's `BillingInvoiceStandardStatus` (plus `deleted` for deleted drafts);
 * `extended_status` is the finer step (`draft.manual_approval_needed`, `issuing.failed`, …). Actions are
 * what a user may ask (`available_actions`); events are what the workflow observed (a step finished or
 * failed, a timer fired). Every user action goes through `apply`, which refuses what the status does not
 * allow and names what it does allow.
 */

export const INVOICE_STATUSES = [
  'draft',
  'issuing',
  'issued',
  'payment_processing',
  'paid',
  'overdue',
  'uncollectible',
  'voided',
  'deleted',
] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/** User actions. `mark_paid`/`mark_uncollectible` are Tally's sandbox payment-app actions. */
export const INVOICE_ACTIONS = [
  'advance',
  'approve',
  'retry',
  'snapshot_quantities',
  'void',
  'delete',
  'edit',
  'mark_paid',
  'mark_uncollectible',
] as const;
export type InvoiceAction = (typeof INVOICE_ACTIONS)[number];

/** What the workflow observed. */
export type InvoiceEvent =
  | { type: 'draft_period_ended' }
  | { type: 'issued' }
  | { type: 'issue_failed' }
  | { type: 'handed_over'; result: HandOverStatus }
  /** the payment app reported on the payment (a provider's webhook): `failed` leaves the status as it is */
  | { type: 'payment'; result: PaymentResult }
  | { type: 'hand_over_failed' }
  | { type: 'due' };

/** Where a payment hand-over lands: charged, sent/awaiting the payment, or given up at once (sandbox). */
export type HandOverStatus = 'paid' | 'payment_processing' | 'uncollectible';
export type PaymentResult = 'paid' | 'failed' | 'uncollectible' | 'voided';

export type CollectionMethod = 'charge_automatically' | 'send_invoice';

export interface LifecycleState {
  status: InvoiceStatus;
  /** the last step (issuing or the payment hand-over) failed; `retry` runs it again */
  failed: boolean;
  /** false: a draft waits for `approve` */
  autoAdvance: boolean;
  collectionMethod: CollectionMethod;
}

export interface ActionDetails {
  /** the extended status the invoice reaches when the action (and the steps it starts) succeed */
  resulting_state: string;
}
export type AvailableActions = Partial<Record<InvoiceAction, ActionDetails>>;

export interface StatusDetails {
  immutable: boolean;
  failed: boolean;
  extended_status: string;
  available_actions: AvailableActions;
  /** the payment app's report of a payment that did not go through (views.ts) */
  payment_issue?: { state: string; message: string; at: string };
}

export interface Refusal {
  message: string;
  available_actions: AvailableActions;
}

export type ApplyResult = { ok: true; state: LifecycleState } | { ok: false; refusal: Refusal };

export const FINAL_STATUSES: readonly InvoiceStatus[] = ['paid', 'voided', 'deleted'];
export const isFinal = (s: InvoiceStatus) => FINAL_STATUSES.includes(s);

export function extendedStatus(s: LifecycleState): string {
  switch (s.status) {
    case 'draft':
      return s.autoAdvance ? 'draft.waiting_auto_approval' : 'draft.manual_approval_needed';
    case 'issuing':
      return s.failed ? 'issuing.failed' : 'issuing.syncing';
    case 'issued':
      return s.failed ? 'issued.payment_hand_over_failed' : 'issued';
    case 'payment_processing':
      return 'payment_processing.pending';
    default:
      return s.status;
  }
}

/** Where a successful payment hand-over lands (the sandbox app: charged at once, or sent and awaited). */
const afterHandOver = (s: LifecycleState) =>
  s.collectionMethod === 'charge_automatically' ? 'paid' : 'payment_processing.pending';

export function availableActions(s: LifecycleState): AvailableActions {
  const a: AvailableActions = {};
  const here = extendedStatus(s);
  switch (s.status) {
    case 'draft':
      if (s.autoAdvance) a.advance = { resulting_state: 'issued' };
      a.approve = { resulting_state: 'issued' };
      a.snapshot_quantities = { resulting_state: here };
      a.edit = { resulting_state: here };
      a.delete = { resulting_state: 'deleted' };
      break;
    case 'issuing':
      if (s.failed) {
        a.retry = { resulting_state: 'issued' };
        // nothing was numbered yet (issuing is one transaction): the draft may still go
        a.delete = { resulting_state: 'deleted' };
      }
      break;
    case 'issued':
      if (s.failed) a.retry = { resulting_state: afterHandOver(s) };
      a.void = { resulting_state: 'voided' };
      break;
    case 'payment_processing':
    case 'overdue':
      a.mark_paid = { resulting_state: 'paid' };
      a.mark_uncollectible = { resulting_state: 'uncollectible' };
      a.void = { resulting_state: 'voided' };
      break;
    case 'uncollectible':
      a.mark_paid = { resulting_state: 'paid' };
      a.void = { resulting_state: 'voided' };
      break;
    default:
      break;
  }
  return a;
}

export function statusDetails(s: LifecycleState): StatusDetails {
  return {
    immutable: s.status !== 'draft',
    failed: s.failed,
    extended_status: extendedStatus(s),
    available_actions: availableActions(s),
  };
}

const refuse = (s: LifecycleState, what: string): ApplyResult => {
  const available = availableActions(s);
  const names = Object.keys(available);
  return {
    ok: false,
    refusal: {
      message:
        `${what} is not allowed while the invoice is ${extendedStatus(s)}` +
        (names.length ? ` (available: ${names.join(', ')})` : ' (no action is available)'),
      available_actions: available,
    },
  };
};

const to = (s: LifecycleState, status: InvoiceStatus, failed = false): ApplyResult => ({
  ok: true,
  state: { ...s, status, failed },
});

/** The state after a user action: advance/approve start issuing, retry reruns the failed step. */
function applyAction(s: LifecycleState, action: InvoiceAction): ApplyResult {
  if (!(action in availableActions(s))) return refuse(s, action);
  switch (action) {
    case 'advance':
    case 'approve':
      return to(s, 'issuing');
    case 'retry':
      return to(s, s.status);
    case 'snapshot_quantities':
    case 'edit':
      return { ok: true, state: s };
    case 'delete':
      return to(s, 'deleted');
    case 'void':
      return to(s, 'voided');
    case 'mark_paid':
      return to(s, 'paid');
    case 'mark_uncollectible':
      return to(s, 'uncollectible');
  }
}

function applyEvent(s: LifecycleState, e: InvoiceEvent): ApplyResult {
  switch (e.type) {
    case 'draft_period_ended':
      if (s.status !== 'draft') return refuse(s, e.type);
      return s.autoAdvance ? to(s, 'issuing') : { ok: true, state: s };
    case 'issued':
      return s.status === 'issuing' && !s.failed ? to(s, 'issued') : refuse(s, e.type);
    case 'issue_failed':
      return s.status === 'issuing' ? to(s, 'issuing', true) : refuse(s, e.type);
    case 'handed_over':
      if (s.status !== 'issued' || s.failed) return refuse(s, e.type);
      if (e.result === 'paid' && s.collectionMethod !== 'charge_automatically') return refuse(s, e.type);
      return to(s, e.result);
    case 'hand_over_failed':
      return s.status === 'issued' ? to(s, 'issued', true) : refuse(s, e.type);
    case 'due':
      return s.status === 'payment_processing' ? to(s, 'overdue') : refuse(s, e.type);
    case 'payment': {
      // what the provider reports moves the invoice like the user's action would; from another status
      // (a duplicate, a late or reordered event) it is refused and changes nothing
      const open = s.status === 'payment_processing' || s.status === 'overdue';
      switch (e.result) {
        case 'failed':
          return open ? { ok: true, state: s } : refuse(s, 'payment failed');
        case 'paid':
          return open || s.status === 'uncollectible' ? to(s, 'paid') : refuse(s, 'payment paid');
        case 'uncollectible':
          return open ? to(s, 'uncollectible') : refuse(s, 'payment uncollectible');
        case 'voided':
          return open || s.status === 'uncollectible' ? to(s, 'voided') : refuse(s, 'payment voided');
      }
    }
  }
}

/** The next state after a user action or an observed event, or a refusal naming the available actions. */
export function apply(s: LifecycleState, input: InvoiceAction | InvoiceEvent): ApplyResult {
  return typeof input === 'string' ? applyAction(s, input) : applyEvent(s, input);
}

/** The action names as the API spells them in paths (`snapshot-quantities`, `mark-paid`, …). */
export const actionPath = (a: InvoiceAction): string => a.replace(/_/g, '-');
