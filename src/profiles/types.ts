/**
 * Billing profile types shared by the profiles domain, billing and the invoice workflow. A leaf file: it imports
 * nothing, so the workflow bundle may import it. Shapes follow OpenMeter v3 (`BillingProfile`, `BillingParty`,
 * `BillingWorkflow`); ISO-8601 durations are strings (`P30D`, `PT1H`).
 */

export interface PostalAddress {
  country?: string;
  postal_code?: string;
  state?: string;
  city?: string;
  line1?: string;
  line2?: string;
  phone_number?: string;
}

/** The supplier printed on every invoice (OpenMeter's `BillingParty`; `email` is Tally's addition). */
export interface Supplier {
  id?: string;
  key?: string;
  name?: string;
  email?: string;
  tax_id?: { code?: string };
  addresses?: { billing_address: PostalAddress };
}

export type CollectionAlignment =
  { type: 'subscription' } | { type: 'anchored'; recurring_period: { anchor: string; interval: string } };

export type PaymentSettings =
  { collection_method: 'charge_automatically' } | { collection_method: 'send_invoice'; due_after: string };

/** What an invoice runs by; each invoice keeps a snapshot of it (a profile edit affects later invoices only). */
export interface BillingWorkflowSettings {
  collection: { alignment: CollectionAlignment; interval: string };
  invoicing: { auto_advance: boolean; draft_period: string };
  payment: PaymentSettings;
}

export interface AppReferences {
  invoicing: { id: string };
  payment: { id: string };
  tax: { id: string };
}

/** A customer's effective billing settings: its profile with the customer's overrides applied. */
export interface InvoicingSnapshot {
  profile_id: string;
  supplier: Supplier;
  workflow: BillingWorkflowSettings;
  apps: AppReferences;
}
