/**
 * The contract between the subscription workflow (which decides WHEN to invoice) and billing (which computes
 * and stores invoices). Plain JSON, so it can travel through Temporal activity arguments.
 */

/** A stretch of time under one plan version and phase, billed on one invoice. Half-open [from, to). */
export interface BilledPeriod {
  /** plan version (row id in `plans`) in force during the period */
  planId: string;
  phaseKey: string;
  /** ISO-8601 instants */
  from: string;
  to: string;
  /**
   * The full billing cycle the period belongs to (equal to from/to unless the period was cut short by an
   * immediate change or cancel, or started late). Flat fees are prorated by period/cycle when the plan
   * enables pro-rating.
   */
  cycleFrom: string;
  cycleTo: string;
}

export interface IssueInvoiceInput {
  /** Idempotency key, unique in the database: a retried or replayed activity never issues twice. */
  invoiceKey: string;
  subscriptionId: string;
  customerId: string;
  /** When the subscription started: usage before it is never billed. */
  subscriptionStart: string;
  /** Usage and in-arrears flat fees for a closed period. */
  arrears?: BilledPeriod;
  /** In-advance flat fees for a period that is starting. */
  advance?: BilledPeriod;
}

export interface IssuedInvoiceRef {
  invoiceId: string;
  number: string;
  total: string;
  /** false when the invoice already existed (idempotent retry) */
  created: boolean;
}

// ---------------------------------------------------------------------------------------------------
// the invoice workflow's activities (issue 11): plain JSON in and out

import type { Price } from '../catalog/types';
import type { CollectionMethod, InvoiceStatus, LifecycleState } from './lifecycle';

/** The draft the subscription handed over (or found again: `created: false`). */
export interface DraftRef {
  invoiceId: string;
  created: boolean;
  status: InvoiceStatus;
  lifecycle: LifecycleState;
  draftNumber: string | null;
  customerKey: string;
  draftUntil: string;
  /** the invoice's payment app ('' when it has none) */
  paymentAppId: string;
}

/** What the subscription's hand-over activity answers: the pending line (consolidation). */
export interface HandOverRef {
  lineKey: string;
  customerId: string;
  /** false: handed over before (a retried or replayed hand-over) */
  created: boolean;
  /** ISO: when the customer's collection gathers it */
  collectAt: string;
}

export interface IssuedRef {
  invoiceId: string;
  number: string;
  total: string;
  issuedAt: string;
  dueAt: string | null;
  /** false: it was issued already (a retried activity) */
  issued: boolean;
}

export interface HandOverResult {
  status: InvoiceStatus;
  /** false: the hand-over was recorded already (a retried activity), nothing was done */
  handedOver: boolean;
}

/** The statuses the workflow writes after a user action or a timer (absolute writes: idempotent). */
export type RecordedStatus = 'overdue' | 'paid' | 'uncollectible' | 'voided' | 'deleted';

/**
 * What `PUT /billing/invoices/{id}` may change on a draft: Tally's partial edit (`ManualLinesEdit`) or
 * OpenMeter's `UpdateInvoiceRequest`, a full replace (`DraftReplace`, `kind: 'replace'`).
 */
export type DraftEdit = ManualLinesEdit | DraftReplace;

/** Tally's own edit: the description and the manual lines, each part only when given. */
export interface ManualLinesEdit {
  kind?: undefined;
  description?: string | null;
  /**
   * The manual lines wanted: a line with `id` updates that manual line (name, quantity, unit price), one
   * without adds a line; manual lines left out are removed. Lines billed from the subscription stay.
   * Absent: the lines are left as they are.
   */
  lines?: {
    id?: string;
    name: string;
    quantity: string;
    unit_price: string;
    service_period?: { from: string; to: string };
  }[];
}

/**
 * OpenMeter's `UpdateInvoiceStandardRequest`, as the API read it: everything editable on a draft, replaced
 * (a part left out is cleared, but `workflow.invoicing`/`workflow.payment` and `lines`, which are then left
 * as they are). The customer's and supplier's identity (`id`, `key`) and `usage_attribution` are kept.
 */
/** OpenMeter's `Address` (as `PostalAddress` of src/profiles/types.ts, which the workflow bundle may not load) */
export interface ReplaceAddress {
  country?: string;
  postal_code?: string;
  state?: string;
  city?: string;
  line1?: string;
  line2?: string;
  phone_number?: string;
}

export interface DraftReplace {
  kind: 'replace';
  description: string | null;
  labels: Record<string, string>;
  supplier: {
    name?: string;
    /** Tally's addition: kept when not given */
    email?: string;
    tax_id?: { code?: string };
    addresses?: { billing_address: ReplaceAddress };
  };
  customer: {
    name: string;
    billing_address?: ReplaceAddress;
    /** Tally's addition: kept when not given, removed by null */
    primary_email?: string | null;
  };
  workflow: {
    invoicing?: { auto_advance: boolean; draft_period: string };
    payment?:
      | { collection_method: 'charge_automatically' }
      | { collection_method: 'send_invoice'; due_after: string };
  };
  /** every line wanted (matched by `id`; lines left out are removed); absent: the lines stay */
  lines?: ReplaceLine[];
}

/** OpenMeter's `UpdateInvoiceStandardLine`: a line priced by its rate card. */
export interface ReplaceLine {
  /** an existing line's id; absent (or naming no line of the invoice): a new line */
  id?: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  service_period: { from: string; to: string };
  rate_card: {
    price: Price;
    feature_key?: string;
    /** stored and shown, not acted on (no tax, no discounts yet) */
    tax_config?: Record<string, unknown>;
    discounts?: Record<string, unknown>;
  };
}

/** What the workflow must know after an edit: the settings it runs by, and a moved draft period. */
export interface DraftEditResult {
  autoAdvance: boolean;
  collectionMethod: CollectionMethod;
  /** ISO: the new `draft_until`, when the edit moved it */
  draftUntil?: string;
}

/** Which sync hooks an invoice's workflow waits for (custom invoicing's settings, src/apps/state.ts). */
export interface SyncHooks {
  draft: boolean;
  issuing: boolean;
}
