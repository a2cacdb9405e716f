/**
 * The billing settings an invoice is created with (its snapshot). Until the profiles domain is merged this
 * is the default profile built from the configuration; `invoicingSnapshotFor` is the ONE function to swap for
 * profiles' `resolveCustomerBilling(em, customerId)`.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config';
import type { InvoicingSnapshot } from '../profiles/types';

/** the default profile's id until profiles exist (also the name of its invoice-number counter row) */
export const DEFAULT_PROFILE_ID = 'default';

/** The default profile: auto advance, no draft period, charged automatically, no supplier details yet. */
export function defaultInvoicingSnapshot(config: Pick<Config, 'TALLY_COLLECTION_PERIOD'>): InvoicingSnapshot {
  return {
    profile_id: DEFAULT_PROFILE_ID,
    supplier: {},
    workflow: {
      collection: { alignment: { type: 'subscription' }, interval: config.TALLY_COLLECTION_PERIOD },
      invoicing: { auto_advance: true, draft_period: 'P0D' },
      payment: { collection_method: 'charge_automatically' },
    },
    apps: { invoicing: { id: 'sandbox' }, payment: { id: 'sandbox' }, tax: { id: 'sandbox' } },
  };
}

export type SnapshotResolver = (em: EntityManager, customerId: string) => Promise<InvoicingSnapshot>;

/** The customer's effective billing settings (swap for profiles' `resolveCustomerBilling` at merge). */
export function invoicingSnapshotFor(config: Pick<Config, 'TALLY_COLLECTION_PERIOD'>): SnapshotResolver {
  return () => Promise.resolve(defaultInvoicingSnapshot(config));
}
