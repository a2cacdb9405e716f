/** The API views of customers: the `BillingCustomer` shape and its mapper from a raw customer row. */
import { instant } from '../lib/time';
import type { Address } from './entities';

/** The API shape of a customer (`BillingCustomer`). */
export interface BillingCustomer {
  id: string;
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  usage_attribution: { subject_keys: string[] };
  primary_email?: string;
  currency?: string;
  billing_address?: Address;
  created_at: string;
  updated_at: string;
}

export interface CustomerRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  primary_email: string | null;
  currency: string | null;
  billing_address: Address | null;
  labels: Record<string, string> | null;
  /** timestamptz as PostgreSQL prints it (raw rows carry timestamps as text) */
  created_at: string;
  updated_at: string;
  subject_keys: string[] | null;
  total?: string | number;
}

export function customerView(r: CustomerRow): BillingCustomer {
  const out: BillingCustomer = {
    id: r.id,
    key: r.key,
    name: r.name,
    usage_attribution: { subject_keys: r.subject_keys ?? [] },
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
  };
  if (r.description != null) out.description = r.description;
  if (r.labels != null) out.labels = r.labels;
  if (r.primary_email != null) out.primary_email = r.primary_email;
  if (r.currency != null) out.currency = r.currency;
  if (r.billing_address != null) out.billing_address = r.billing_address;
  return out;
}
