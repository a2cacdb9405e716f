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
