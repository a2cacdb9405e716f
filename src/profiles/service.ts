/**
 * Billing profiles: who bills (the supplier), how invoices run (the workflow settings) and with which apps;
 * and each customer's billing settings (its profile, absent = the default, and its workflow overrides).
 *
 * Invariants:
 * - Exactly one live profile is the default. At most one: the partial unique index
 *   `billing_profiles_default_uq`. At least one: `ensureDefaultProfile` creates it at start (API, worker,
 *   test harness; idempotent, safe when processes race: the insert yields to the index), and the service
 *   never leaves none: making a profile the default unsets the previous one in the same transaction
 *   (serialised by an advisory lock), unsetting the default or deleting it is a conflict.
 * - A customer's profile is a live profile: setting it locks the profile row (`for share`) and deleting a
 *   profile locks it `for update` before looking for live customers that use it, so neither can slip past
 *   the other.
 * - A profile edit affects invoices created after it: billing snapshots `resolveCustomerBilling`'s result
 *   on each invoice.
 *
 * For other domains: `resolveCustomerBilling`, `getProfile`, `getDefaultProfile`, `ensureDefaultProfile`.
 */
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { appUnusableReason } from '../apps/state';
import { ROLE_CAPABILITY } from '../apps/types';
import { findCustomerState, liveCustomerIds } from '../customers/state';
import { exec, Sql } from '../db/sql';
import type { AppDeps } from '../deps';
import { conflict, gone, invalid, notFound, unavailable } from '../lib/errors';
import { newId } from '../lib/ids';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { sandboxApps } from './apps';
import { BillingProfileEntity, CustomerBillingOverride, type BillingProfileRow } from './entities';
import {
  applyOverrides,
  compactOverrides,
  fillWorkflow,
  type WorkflowInput,
  type WorkflowOverrides,
} from './merge';
import type { AppReferences, InvoicingSnapshot, Supplier } from './types';
import { customerBillingView, profileView, type BillingProfile, type CustomerBillingData } from './views';

export type { BillingProfile, CustomerBillingData } from './views';

/** Body of PUT (full replace; what is left out takes its default). `apps` cannot change. */
export interface ProfileReplace {
  name: string;
  description?: string | null;
  labels?: Record<string, string> | null;
  supplier: Supplier;
  workflow?: WorkflowInput;
  /** tolerated when it repeats the profile's apps */
  apps?: AppReferences;
  default: boolean;
}

/** Body of POST; `apps` left out: the sandbox app in every role. */
export interface ProfileCreate extends Omit<ProfileReplace, 'apps'> {
  apps?: AppReferences;
}

/** Body of PUT /customers/{customerId}/billing (full replace: absent = none). */
export interface CustomerBillingReplace {
  billing_profile?: { id: string } | null;
  workflow?: WorkflowOverrides | null;
}

const DEFAULT_PROFILE_NAME = 'Default billing profile';

const upper = (id: string) => id.toUpperCase();

/** Serialises the transactions that choose the default profile (transaction-scoped). */
async function lockDefault(em: EntityManager): Promise<void> {
  await exec(
    em,
    new Sql().add("select pg_advisory_xact_lock(hashtextextended('billing-profiles:default', 0))"),
  );
}

/** Unsets the current default (inside a transaction holding `lockDefault`). */
async function unsetDefault(em: EntityManager, except?: string): Promise<void> {
  await em.nativeUpdate(
    BillingProfileEntity,
    { isDefault: true, deletedAt: null, ...(except ? { id: { $ne: except } } : {}) },
    { isDefault: false, updatedAt: new Date() },
  );
}

/** The profile row (live or deleted), optionally locked; 404 when it never existed. */
async function loadRow(em: EntityManager, id: string, lockMode?: LockMode): Promise<BillingProfileRow> {
  const row = await em.findOne(
    BillingProfileEntity,
    { id: upper(id) },
    { refresh: true, ...(lockMode ? { lockMode } : {}) },
  );
  if (!row) throw notFound('billing profile', id);
  return row;
}

async function loadLive(em: EntityManager, id: string, lockMode?: LockMode): Promise<BillingProfileRow> {
  const row = await loadRow(em, id, lockMode);
  if (row.deletedAt) throw gone('billing profile', row.id);
  return row;
}

// ---------------------------------------------------------------------------------------------------
// profiles

/**
 * Creates the default profile unless one exists: the workflow collects late usage for `interval` (the
 * configured `TALLY_COLLECTION_PERIOD`, so existing set-ups keep their window), advances automatically with
 * no draft period and charges automatically; the sandbox app in every role. Idempotent and safe when several
 * processes start at once, or a profile is created as the default meanwhile (the default lock serialises
 * them; the partial unique index would turn a second insert into a no-op anyway). Later starts change
 * nothing: from then on the profile, not the configuration, says what the window is.
 */
export async function ensureDefaultProfile(em: EntityManager, interval: string): Promise<BillingProfile> {
  const workflow = fillWorkflow({ collection: { interval } });
  await em.transactional(async (tem) => {
    // serialised with the transactions that move the default; the index would stop a second default anyway
    await lockDefault(tem);
    await exec(
      tem,
      new Sql().add(
        `insert into billing_profiles (id, name, supplier, workflow, apps, is_default)
         select ?, ?, '{}'::jsonb, ?::jsonb, ?::jsonb, true
          where not exists (select 1 from billing_profiles where is_default and deleted_at is null)
         on conflict do nothing`,
        newId(),
        DEFAULT_PROFILE_NAME,
        JSON.stringify(workflow),
        JSON.stringify(sandboxApps()),
      ),
    );
  });
  return getDefaultProfile(em);
}

/** The default profile; unavailable while none exists (before the first start of the API or the worker). */
export async function getDefaultProfile(em: EntityManager): Promise<BillingProfile> {
  return profileView(await defaultRow(em));
}

async function defaultRow(em: EntityManager): Promise<BillingProfileRow> {
  const row = await em.findOne(BillingProfileEntity, { isDefault: true, deletedAt: null }, { refresh: true });
  if (!row)
    throw unavailable(
      'there is no default billing profile yet: it is created when the API or the worker starts',
    );
  return row;
}

/** A profile by id (ULID, any case); 404 when unknown, 410 when deleted. */
export async function getProfile(em: EntityManager, id: string): Promise<BillingProfile> {
  return profileView(await loadLive(em, id));
}

/** Live profiles, oldest first. */
export async function listProfiles(em: EntityManager, page: PageParams): Promise<Page<BillingProfile>> {
  const { limit, offset } = pageOffset(page);
  const [rows, total] = await em.findAndCount(
    BillingProfileEntity,
    { deletedAt: null },
    { orderBy: { createdAt: 'asc', id: 'asc' }, limit, offset, refresh: true },
  );
  return toPage(rows.map(profileView), total, page);
}

export async function createProfile(em: EntityManager, input: ProfileCreate): Promise<BillingProfile> {
  return em.transactional(async (tem) => {
    if (input.default) {
      await lockDefault(tem);
      await unsetDefault(tem);
    }
    const now = new Date();
    const row = tem.create(BillingProfileEntity, {
      id: newId(),
      name: input.name,
      description: input.description ?? null,
      labels: input.labels ?? null,
      supplier: input.supplier,
      workflow: fillWorkflow(input.workflow),
      apps: await checkedApps(tem, input.apps ?? sandboxApps()),
      isDefault: input.default,
      createdAt: now,
      updatedAt: now,
    });
    await tem.flush();
    return profileView(row);
  });
}

/**
 * The apps named, each installed with the capability of its role (400 naming the field otherwise); each
 * app row is locked `for share` until the profile is stored, so an uninstall cannot slip past it.
 */
async function checkedApps(em: EntityManager, a: AppReferences): Promise<AppReferences> {
  for (const role of ['invoicing', 'payment', 'tax'] as const) {
    const reason = await appUnusableReason(em, a[role].id, ROLE_CAPABILITY[role]);
    if (reason)
      throw invalid(`app ${a[role].id} cannot be the profile's ${role} app`, [
        { field: `body.apps.${role}.id`, reason },
      ]);
  }
  return normaliseApps(a);
}

/** Up to `max` live profiles naming the app in any role (the apps domain refuses to uninstall it then). */
export async function profilesUsingApp(em: EntityManager, appId: string, max: number): Promise<string[]> {
  const rows = await exec<{ id: string }>(
    em,
    new Sql().add(
      `select id from billing_profiles where deleted_at is null
         and (apps->'invoicing'->>'id' = ? or apps->'payment'->>'id' = ? or apps->'tax'->>'id' = ?)
       order by created_at, id limit ?`,
      appId,
      appId,
      appId,
      max,
    ),
  );
  return rows.map((r) => r.id);
}

const normaliseApps = (a: AppReferences): AppReferences => ({
  invoicing: { id: upper(a.invoicing.id) },
  payment: { id: upper(a.payment.id) },
  tax: { id: upper(a.tax.id) },
});

const sameApps = (a: AppReferences, b: AppReferences): boolean =>
  JSON.stringify(normaliseApps(a)) === JSON.stringify(normaliseApps(b));

/**
 * Full replace of a live profile. `default: true` makes it the default (the previous default is unset in the
 * same transaction); `default: false` on the default profile is a conflict (make another one the default).
 */
export async function replaceProfile(
  em: EntityManager,
  id: string,
  input: ProfileReplace,
): Promise<BillingProfile> {
  return em.transactional(async (tem) => {
    // the default lock before the row lock, in every transaction that takes both
    if (input.default) await lockDefault(tem);
    const row = await loadLive(tem, id, LockMode.PESSIMISTIC_WRITE);
    if (row.isDefault && !input.default) {
      throw conflict(
        `billing profile ${row.id} is the default profile and must stay so until another profile becomes the ` +
          'default: create or update another profile with "default": true',
      );
    }
    if (input.apps && !sameApps(input.apps, row.apps)) {
      throw invalid("a billing profile's apps cannot change", [
        { field: 'body.apps', reason: 'apps are set when the profile is created and cannot change' },
      ]);
    }
    if (input.default && !row.isDefault) await unsetDefault(tem, row.id);
    tem.assign(row, {
      name: input.name,
      description: input.description ?? null,
      labels: input.labels ?? null,
      supplier: input.supplier,
      workflow: fillWorkflow(input.workflow),
      isDefault: input.default,
      updatedAt: new Date(),
    });
    await tem.flush();
    return profileView(row);
  });
}

/** How many customers a conflict message names. */
const NAMED_CUSTOMERS = 5;

/**
 * Soft delete. Refused (409) for the default profile and for a profile a live customer uses (deleted
 * customers do not hold it); 410 when already deleted.
 */
export async function deleteProfile(em: EntityManager, id: string): Promise<void> {
  await em.transactional(async (tem) => {
    const row = await loadLive(tem, id, LockMode.PESSIMISTIC_WRITE);
    if (row.isDefault) {
      throw conflict(
        `billing profile ${row.id} is the default profile and cannot be deleted: make another profile the ` +
          'default first',
      );
    }
    const users = await liveUsersOf(tem, row.id, NAMED_CUSTOMERS);
    if (users.length) {
      throw conflict(
        `billing profile ${row.id} is used by customer${users.length > 1 ? 's' : ''} ` +
          `${users.join(', ')}${users.length === NAMED_CUSTOMERS ? ' and maybe others' : ''}: ` +
          'move them to another profile first (PUT /v3/openmeter/customers/{customerId}/billing)',
        { customers: users },
      );
    }
    tem.assign(row, { deletedAt: new Date(), updatedAt: new Date() });
    await tem.flush();
  });
}

/** Up to `max` live customers whose billing settings name the profile (scanned in batches, stops early). */
async function liveUsersOf(em: EntityManager, profileId: string, max: number): Promise<string[]> {
  const BATCH = 500;
  const found: string[] = [];
  let after = '';
  for (;;) {
    const rows = await exec<{ customer_id: string }>(
      em,
      new Sql().add(
        `select customer_id from customer_billing_overrides where profile_id = ? and customer_id > ?
          order by customer_id limit ?`,
        profileId,
        after,
        BATCH,
      ),
    );
    if (!rows.length) return found;
    found.push(
      ...(await liveCustomerIds(
        em,
        rows.map((r) => r.customer_id),
      )),
    );
    if (found.length >= max) return found.slice(0, max);
    after = rows[rows.length - 1].customer_id;
  }
}

// ---------------------------------------------------------------------------------------------------
// a customer's billing settings

/** The live customer's id; 404 when no customer had that id or key, 410 when it was deleted. */
async function liveCustomerId(em: EntityManager, ref: string): Promise<string> {
  const c = await findCustomerState(em, ref);
  if (!c) throw notFound('customer', ref);
  if (c.deleted_at) throw gone('customer', ref);
  return c.id;
}

export async function getCustomerBilling(
  em: EntityManager,
  customerRef: string,
): Promise<CustomerBillingData> {
  const customerId = await liveCustomerId(em, customerRef);
  return customerBillingView(await em.findOne(CustomerBillingOverride, { customerId }, { refresh: true }));
}

/**
 * Full replace of a live customer's billing settings. The profile must be live (400 naming
 * `body.billing_profile.id` otherwise); overrides are validated at the edge like a profile's workflow.
 */
export async function replaceCustomerBilling(
  em: EntityManager,
  customerRef: string,
  input: CustomerBillingReplace,
): Promise<CustomerBillingData> {
  const customerId = await liveCustomerId(em, customerRef);
  const overrides = compactOverrides(input.workflow);
  return em.transactional(async (tem) => {
    let profileId: string | null = null;
    if (input.billing_profile) {
      const ref = input.billing_profile.id;
      const row = await tem.findOne(
        BillingProfileEntity,
        { id: upper(ref) },
        { refresh: true, lockMode: LockMode.PESSIMISTIC_READ },
      );
      const reason = !row
        ? 'no billing profile has this id'
        : row.deletedAt
          ? 'the billing profile has been deleted'
          : '';
      if (reason) {
        throw invalid(`billing profile ${ref} cannot be used`, [
          { field: 'body.billing_profile.id', reason },
        ]);
      }
      profileId = row!.id;
    }
    if (!profileId && !overrides) {
      await tem.nativeDelete(CustomerBillingOverride, { customerId });
      return customerBillingView(null);
    }
    await exec(
      tem,
      new Sql().add(
        `insert into customer_billing_overrides (customer_id, profile_id, workflow) values (?, ?, ?::jsonb)
         on conflict (customer_id) do update
           set profile_id = excluded.profile_id, workflow = excluded.workflow, updated_at = now()`,
        customerId,
        profileId,
        overrides ? JSON.stringify(overrides) : null,
      ),
    );
    return customerBillingView({ profileId, workflow: overrides });
  });
}

/**
 * What a customer's next invoice runs by: its profile (the default one when it names none, or when the
 * profile it named was deleted after the customer was) with the customer's workflow overrides applied.
 * Takes the customer's id; reads only this domain's tables (a deleted customer resolves too, for its final
 * invoice). Billing snapshots the result on each invoice.
 */
export async function resolveCustomerBilling(
  em: EntityManager,
  customerId: string,
): Promise<InvoicingSnapshot> {
  const o = await em.findOne(CustomerBillingOverride, { customerId: upper(customerId) }, { refresh: true });
  const named = o?.profileId
    ? await em.findOne(BillingProfileEntity, { id: o.profileId, deletedAt: null }, { refresh: true })
    : null;
  const profile = named ?? (await defaultRow(em));
  return {
    profile_id: profile.id,
    supplier: profile.supplier,
    workflow: applyOverrides(profile.workflow, o?.workflow),
    apps: profile.apps,
  };
}

// ---------------------------------------------------------------------------------------------------

/** The service bound to the app's entity manager (request-scoped under RequestContext). */
export function createProfilesService(deps: Pick<AppDeps, 'orm' | 'config'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    ensureDefault: () => ensureDefaultProfile(em(), deps.config.TALLY_COLLECTION_PERIOD),
    create: (input: ProfileCreate) => createProfile(em(), input),
    list: (page: PageParams) => listProfiles(em(), page),
    get: (id: string) => getProfile(em(), id),
    replace: (id: string, input: ProfileReplace) => replaceProfile(em(), id, input),
    delete: (id: string) => deleteProfile(em(), id),
    getCustomerBilling: (customerRef: string) => getCustomerBilling(em(), customerRef),
    replaceCustomerBilling: (customerRef: string, input: CustomerBillingReplace) =>
      replaceCustomerBilling(em(), customerRef, input),
    resolveCustomerBilling: (customerId: string) => resolveCustomerBilling(em(), customerId),
  };
}

export type ProfilesService = ReturnType<typeof createProfilesService>;
