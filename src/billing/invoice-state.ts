/**
 * The lifecycle state of a stored invoice, from its row (a leaf, so that the views and the write side both
 * use it: `invoices.ts` records notification payloads built by `views.ts`).
 */
import type { InvoicingSnapshot } from '../profiles/types';
import type { InvoiceStatus, LifecycleState } from './lifecycle';

export interface LifecycleColumns {
  status: InvoiceStatus;
  failure: { step: string } | null;
  workflow: InvoicingSnapshot['workflow'] | null;
}

/** The lifecycle state the workflow starts from (or resumes at), from the stored row. */
export function lifecycleOf(r: LifecycleColumns): LifecycleState {
  return {
    status: r.status,
    failed: r.failure !== null,
    autoAdvance: r.workflow?.invoicing.auto_advance ?? true,
    collectionMethod: r.workflow?.payment.collection_method ?? 'charge_automatically',
  };
}
