/** API views of billing profiles (`BillingProfile`) and of a customer's billing data (`BillingCustomerData`). */
import { instant, optionalInstant } from '../lib/time';
import type { BillingProfileRow, CustomerBillingOverrideRow } from './entities';
import type { WorkflowOverrides } from './merge';
import type { AppReferences, BillingWorkflowSettings, Supplier } from './types';

export interface BillingProfile {
  id: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
  supplier: Supplier;
  workflow: BillingWorkflowSettings;
  apps: AppReferences;
  default: boolean;
}

export function profileView(r: BillingProfileRow): BillingProfile {
  const deleted_at = optionalInstant(r.deletedAt);
  return {
    id: r.id,
    name: r.name,
    ...(r.description != null ? { description: r.description } : {}),
    ...(r.labels != null ? { labels: r.labels } : {}),
    created_at: instant(r.createdAt),
    updated_at: instant(r.updatedAt),
    ...(deleted_at ? { deleted_at } : {}),
    supplier: supplierView(r.supplier),
    workflow: workflowView(r.workflow),
    apps: { invoicing: r.apps.invoicing, payment: r.apps.payment, tax: r.apps.tax },
    default: r.isDefault,
  };
}

/** `obj` with its keys in `order` (jsonb keeps its own order), absent ones left out. */
function ordered<T extends object>(obj: T, order: (keyof T)[]): T {
  const out: Partial<T> = {};
  for (const k of order) if (obj[k] !== undefined) out[k] = obj[k];
  return out as T;
}

function supplierView(s: Supplier): Supplier {
  const out = ordered(s, ['id', 'key', 'name', 'email', 'tax_id', 'addresses']);
  if (s.addresses) {
    out.addresses = {
      billing_address: ordered(s.addresses.billing_address, [
        'country',
        'postal_code',
        'state',
        'city',
        'line1',
        'line2',
        'phone_number',
      ]),
    };
  }
  return out;
}

/** Workflow settings (a profile's, or a customer's overrides) in the order the API documents them. */
export function workflowView<W extends WorkflowOverrides>(w: W): W {
  const out = {} as W;
  if (w.collection) {
    const a = w.collection.alignment;
    out.collection = ordered(
      {
        ...w.collection,
        ...(a
          ? {
              alignment:
                a.type === 'anchored'
                  ? { type: a.type, recurring_period: ordered(a.recurring_period, ['anchor', 'interval']) }
                  : { type: a.type },
            }
          : {}),
      },
      ['alignment', 'interval'],
    );
  }
  if (w.invoicing) out.invoicing = ordered(w.invoicing, ['auto_advance', 'draft_period']);
  if (w.payment)
    out.payment = ordered(w.payment, ['collection_method', 'due_after' as keyof typeof w.payment]);
  return out;
}

/** A customer's billing data: its profile (absent = the default profile) and its workflow overrides. */
export interface CustomerBillingData {
  billing_profile?: { id: string };
  workflow?: WorkflowOverrides;
}

export function customerBillingView(
  r: Pick<CustomerBillingOverrideRow, 'profileId' | 'workflow'> | null,
): CustomerBillingData {
  return {
    ...(r?.profileId ? { billing_profile: { id: r.profileId } } : {}),
    ...(r?.workflow ? { workflow: workflowView(r.workflow) } : {}),
  };
}
