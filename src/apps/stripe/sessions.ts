/** Stripe Checkout (collect a payment method: setup mode) and Customer Portal sessions for a customer. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { getCustomer } from '../../customers/service';
import type { AppDeps } from '../../deps';
import { invalid } from '../../lib/errors';
import { instant } from '../../lib/time';
import { ensureStripeCustomer, stripeAppOfCustomer, stripeOfApp } from './customers';

type Deps = Pick<AppDeps, 'config' | 'stripeHttpClient'>;

async function customerApp(em: EntityManager, ref: string) {
  const c = await getCustomer(em, ref);
  const appId = await stripeAppOfCustomer(em, c.id);
  if (!appId)
    throw invalid(`customer ${c.id} is not billed through a Stripe app`, [
      { field: 'path.customerId', reason: "the customer's billing profile has no Stripe payment app" },
    ]);
  return { c, appId };
}

export async function createCheckoutSession(
  deps: Deps,
  em: EntityManager,
  ref: string,
  o: {
    success_url?: string;
    cancel_url?: string;
    return_url?: string;
    currency?: string;
    client_reference_id?: string;
  },
) {
  const { c, appId } = await customerApp(em, ref);
  const data = await ensureStripeCustomer(deps, em, appId, c.id);
  const stripe = await stripeOfApp(deps, em, appId);
  const s = await stripe.checkout.sessions.create({
    mode: 'setup',
    customer: data.customer_id,
    currency: (o.currency ?? c.currency ?? 'usd').toLowerCase(),
    ...(o.success_url ? { success_url: o.success_url } : {}),
    ...(o.cancel_url ? { cancel_url: o.cancel_url } : {}),
    ...(o.client_reference_id ? { client_reference_id: o.client_reference_id } : {}),
    metadata: { tally_customer_id: c.id, tally_app_id: appId },
  });
  const setupIntent = typeof s.setup_intent === 'string' ? s.setup_intent : (s.setup_intent?.id ?? '');
  return {
    customer_id: c.id,
    stripe_customer_id: data.customer_id,
    session_id: s.id,
    setup_intent_id: setupIntent,
    ...(s.client_secret ? { client_secret: s.client_secret } : {}),
    ...(s.client_reference_id ? { client_reference_id: s.client_reference_id } : {}),
    ...(s.url ? { url: s.url } : {}),
    ...(s.success_url ? { success_url: s.success_url } : {}),
    ...(s.cancel_url ? { cancel_url: s.cancel_url } : {}),
    mode: s.mode,
    created_at: instant(s.created * 1000),
  };
}

export async function createPortalSession(
  deps: Deps,
  em: EntityManager,
  ref: string,
  o: { return_url?: string; configuration_id?: string; locale?: string },
) {
  const { c, appId } = await customerApp(em, ref);
  const data = await ensureStripeCustomer(deps, em, appId, c.id);
  const stripe = await stripeOfApp(deps, em, appId);
  const s = await stripe.billingPortal.sessions.create({
    customer: data.customer_id,
    ...(o.return_url ? { return_url: o.return_url } : {}),
    ...(o.configuration_id ? { configuration: o.configuration_id } : {}),
  });
  return {
    id: s.id,
    stripe_customer_id: data.customer_id,
    configuration_id: typeof s.configuration === 'string' ? s.configuration : s.configuration.id,
    livemode: s.livemode,
    created_at: instant(s.created * 1000),
    return_url: s.return_url ?? '',
    locale: s.locale ?? '',
    url: s.url,
  };
}
