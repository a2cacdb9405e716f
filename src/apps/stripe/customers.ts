/**
 * A customer's Stripe data per Stripe app (`app_customer_data`): the Stripe customer id and its default
 * payment method. The customer's app is its billing profile's payment app. A missing Stripe customer is
 * created (idempotency key per app and customer: a retry finds the same one).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { getCustomer } from '../../customers/service';
import { exec, Sql } from '../../db/sql';
import type { AppDeps } from '../../deps';
import { invalid } from '../../lib/errors';
import { resolveCustomerBilling } from '../../profiles/service';
import { appSecrets, findInstalledApp } from '../state';
import { stripeClient, type StripeClient } from './client';

export interface StripeCustomerData {
  customer_id?: string;
  default_payment_method_id?: string;
  labels?: Record<string, string>;
}

type Deps = Pick<AppDeps, 'config' | 'stripeHttpClient'>;

/** The Stripe client of an installed Stripe app (its key read write-only). */
export async function stripeOfApp(deps: Deps, em: EntityManager, appId: string): Promise<StripeClient> {
  const { api_key } = await appSecrets(em, appId);
  if (!api_key) throw invalid(`app ${appId} is not a connected Stripe app`);
  return stripeClient(deps, api_key);
}

/** The customer's Stripe app: its profile's payment app when that is a Stripe app, else null. */
export async function stripeAppOfCustomer(em: EntityManager, customerId: string): Promise<string | null> {
  const { apps } = await resolveCustomerBilling(em, customerId);
  const app = await findInstalledApp(em, apps.payment.id);
  return app?.type === 'stripe' ? app.id : null;
}

export async function storedCustomerData(
  em: EntityManager,
  appId: string,
  customerId: string,
): Promise<StripeCustomerData | null> {
  const rows = await exec<{ data: StripeCustomerData }>(
    em,
    new Sql().add(
      'select data from app_customer_data where app_id = ? and customer_id = ?',
      appId,
      customerId,
    ),
  );
  return rows[0]?.data ?? null;
}

async function storeCustomerData(
  em: EntityManager,
  appId: string,
  customerId: string,
  data: StripeCustomerData,
): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `insert into app_customer_data (app_id, customer_id, data) values (?, ?, ?::jsonb)
       on conflict (app_id, customer_id) do update set data = excluded.data, updated_at = now()`,
      appId,
      customerId,
      JSON.stringify(data),
    ),
  );
}

/**
 * The customer's Stripe data, with a Stripe customer (created when missing: name, email and Tally's ids
 * in its metadata; its default payment method taken from Stripe when it has one).
 */
export async function ensureStripeCustomer(
  deps: Deps,
  em: EntityManager,
  appId: string,
  customerId: string,
  wanted: StripeCustomerData = {},
): Promise<Required<Pick<StripeCustomerData, 'customer_id'>> & StripeCustomerData> {
  const stored = (await storedCustomerData(em, appId, customerId)) ?? {};
  const data: StripeCustomerData = { ...stored, ...wanted };
  const stripe = await stripeOfApp(deps, em, appId);
  if (!data.customer_id) {
    const c = await getCustomer(em, { id: customerId });
    const created = await stripe.customers.create(
      {
        name: c.name,
        ...(c.primary_email ? { email: c.primary_email } : {}),
        metadata: { tally_customer_id: c.id, tally_customer_key: c.key },
      },
      { idempotencyKey: `tally-${appId}-customer-${c.id}` },
    );
    data.customer_id = created.id;
  } else if (wanted.customer_id && wanted.customer_id !== stored.customer_id) {
    // a Stripe customer named by the user must exist in the app's account
    try {
      const found = await stripe.customers.retrieve(wanted.customer_id);
      if ('deleted' in found && found.deleted) throw new Error('deleted');
    } catch {
      throw invalid(`Stripe customer ${wanted.customer_id} cannot be used`, [
        { field: 'body.stripe.customer_id', reason: 'no such customer in the Stripe account' },
      ]);
    }
  }
  await storeCustomerData(em, appId, customerId, data);
  return data as Required<Pick<StripeCustomerData, 'customer_id'>> & StripeCustomerData;
}

export interface AppDataView {
  stripe?: StripeCustomerData;
}

export async function getCustomerAppData(em: EntityManager, customerRef: string): Promise<AppDataView> {
  const c = await getCustomer(em, customerRef);
  const appId = await stripeAppOfCustomer(em, c.id);
  if (!appId) return {};
  const data = await storedCustomerData(em, appId, c.id);
  return data ? { stripe: data } : {};
}

export async function putCustomerAppData(
  deps: Deps,
  em: EntityManager,
  customerRef: string,
  body: AppDataView,
): Promise<AppDataView> {
  const c = await getCustomer(em, customerRef);
  const appId = await stripeAppOfCustomer(em, c.id);
  if (!appId) {
    if (body.stripe)
      throw invalid(`customer ${c.id} is not billed through a Stripe app`, [
        { field: 'body.stripe', reason: "the customer's billing profile has no Stripe payment app" },
      ]);
    return {};
  }
  return { stripe: await ensureStripeCustomer(deps, em, appId, c.id, body.stripe ?? {}) };
}
