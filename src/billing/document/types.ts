/**
 * The invoice as a document: everything printed on the PDF and the HTML rendering, already resolved (no I/O
 * and no ORM here). Money, quantities and prices are decimal strings; instants are ISO-8601 strings.
 */
import type { PostalAddress } from '../../profiles/types';

export interface DocumentParty {
  name?: string;
  tax_id?: string;
  email?: string;
  address?: PostalAddress;
}

export interface DocumentCustomer {
  name: string;
  key?: string;
  email?: string;
  billing_address?: PostalAddress;
}

/** Half-open [from, to). */
export interface DocumentPeriod {
  from: string;
  to: string;
}

/** A part of a line: one per tier or flat part (OpenMeter's `detailed_lines`). */
export interface DocumentDetailedLine {
  name: string;
  quantity: string;
  unit_price: string | null;
  amount: string;
}

export interface DocumentLine {
  name: string;
  /** printed under the name (e.g. a proration) */
  description?: string;
  quantity: string;
  /** null for prices without one per-unit price (graduated) */
  unit_price: string | null;
  amount: string;
  service_period: DocumentPeriod;
  detailed_lines: DocumentDetailedLine[];
}

export interface DocumentTotals {
  subtotal: string;
  discounts: string;
  taxes: string;
  /** printed when not zero */
  credits?: string;
  total: string;
}

export interface InvoiceDocument {
  /** absent until billing profiles give invoices a supplier */
  supplier?: DocumentParty;
  customer: DocumentCustomer;
  /** the invoice number (a draft number for drafts) */
  number: string;
  status: string;
  issued_at?: string;
  due_at?: string;
  service_period: DocumentPeriod;
  /** ISO 4217 code */
  currency: string;
  lines: DocumentLine[];
  totals: DocumentTotals;
  notes?: string[];
}
