/**
 * The billing settings an invoice is created with (its snapshot): the customer's effective profile, as the
 * profiles domain resolves it. And the start-up step that makes sure a default profile exists and that the
 * invoices numbered before profiles existed belong to it.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec, Sql } from '../db/sql';
import { ensureDefaultProfile, resolveCustomerBilling } from '../profiles/service';
import type { InvoicingSnapshot } from '../profiles/types';

/**
 * The profile id that invoices and the number counter carried before billing profiles existed (the
 * lifecycle migration's name for "the default profile"); adopted by the real default profile at start.
 */
export const LEGACY_DEFAULT_PROFILE_ID = 'default';

export type SnapshotResolver = (em: EntityManager, customerId: string) => Promise<InvoicingSnapshot>;

/** The customer's effective billing settings: its profile with its overrides (profiles domain). */
export const customerInvoicingSnapshot: SnapshotResolver = resolveCustomerBilling;

/**
 * Run by the API and the worker at start (and the test harness): creates the default profile unless one
 * exists, then hands it the invoices and the number sequence kept under the legacy id, so numbering goes on
 * where it stopped. Idempotent and safe when both processes start at once (the counter row's lock orders
 * them; the second finds nothing left to adopt). Returns the default profile's id.
 */
export async function ensureBillingSetup(em: EntityManager, collectionInterval: string): Promise<string> {
  const profile = await ensureDefaultProfile(em, collectionInterval);
  await em.transactional(async (tem) => {
    await exec(
      tem,
      new Sql().add(
        `update invoice_number_counter set name = ?
          where name = ? and not exists (select 1 from invoice_number_counter where name = ?)`,
        profile.id,
        LEGACY_DEFAULT_PROFILE_ID,
        profile.id,
      ),
    );
    await exec(
      tem,
      new Sql().add(
        'update invoices set profile_id = ? where profile_id = ?',
        profile.id,
        LEGACY_DEFAULT_PROFILE_ID,
      ),
    );
  });
  return profile.id;
}
