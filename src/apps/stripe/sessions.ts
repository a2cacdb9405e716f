/** Stripe Checkout (collect a payment method: setup mode) and Customer Portal sessions for a customer. */
import type { EntityManager } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
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

/** OpenMeter's checkout `stripe_options` (validated by the route) */
export interface CheckoutOptions {
  billing_address_collection?: 'auto' | 'required';
  cancel_url?: string;
  client_reference_id?: string;
  customer_update?: { address?: 'auto' | 'never'; name?: 'auto' | 'never'; shipping?: 'auto' | 'never' };
  consent_collection?: {
    payment_method_reuse_agreement?: { position?: 'auto' | 'hidden' };
    promotions?: 'auto' | 'none';
    terms_of_service?: 'none' | 'required';
  };
  currency?: string;
  custom_text?: Partial<
    Record<
      'after_submit' | 'shipping_address' | 'submit' | 'terms_of_service_acceptance',
      { message?: string }
    >
  >;
  expires_at?: number;
  locale?: string;
  metadata?: Record<string, string>;
  return_url?: string;
  success_url?: string;
  ui_mode?: 'hosted' | 'embedded';
  /** accepted and ignored: the pinned Stripe API version has no such parameter (README) */
  payment_method_types?: string[];
  redirect_on_completion?: 'always' | 'if_required' | 'never';
  tax_id_collection?: { enabled: boolean; required?: 'if_supported' | 'never' };
}

/** OpenMeter's ui_mode names, as the Stripe API version the SDK pins spells them */
const UI_MODES = { hosted: 'hosted_page', embedded: 'embedded_page' } as const;

/** drops undefined members (Stripe's form encoding would send them as empty strings) */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The Stripe parameters of a setup-mode Checkout session for OpenMeter's `stripe_options`: every option but
 * `payment_method_types`, under Stripe's own name (`ui_mode` values renamed). The caller's metadata is set
 * on the session and its setup intent, with Tally's own keys. Pure.
 */
export function checkoutParams(
  o: CheckoutOptions,
  ctx: { stripeCustomerId: string; customerId: string; appId: string; currency?: string },
): Stripe.Checkout.SessionCreateParams {
  const metadata = { ...o.metadata, tally_customer_id: ctx.customerId, tally_app_id: ctx.appId };
  const cc = o.consent_collection;
  return defined({
    mode: 'setup',
    customer: ctx.stripeCustomerId,
    currency: (o.currency ?? ctx.currency ?? 'usd').toLowerCase(),
    billing_address_collection: o.billing_address_collection,
    cancel_url: o.cancel_url,
    success_url: o.success_url,
    return_url: o.return_url,
    client_reference_id: o.client_reference_id,
    customer_update: o.customer_update && defined(o.customer_update),
    consent_collection:
      cc &&
      defined({
        payment_method_reuse_agreement: cc.payment_method_reuse_agreement?.position
          ? { position: cc.payment_method_reuse_agreement.position }
          : undefined,
        promotions: cc.promotions,
        terms_of_service: cc.terms_of_service,
      }),
    custom_text:
      o.custom_text &&
      defined(
        Object.fromEntries(
          Object.entries(o.custom_text).map(([k, v]) => [
            k,
            v?.message !== undefined ? { message: v.message } : undefined,
          ]),
        ),
      ),
    expires_at: o.expires_at,
    locale: o.locale,
    ui_mode: o.ui_mode && UI_MODES[o.ui_mode],
    redirect_on_completion: o.redirect_on_completion,
    tax_id_collection: o.tax_id_collection && defined(o.tax_id_collection),
    metadata,
    setup_intent_data: { metadata },
  });
}

/** a Stripe parameter name (`custom_text[submit][message]`) as a request field */
const stripeField = (param: string) => `body.stripe_options.${param.replace(/\[([^\]]*)\]/g, '.$1')}`;

export async function createCheckoutSession(deps: Deps, em: EntityManager, ref: string, o: CheckoutOptions) {
  const { c, appId } = await customerApp(em, ref);
  const data = await ensureStripeCustomer(deps, em, appId, c.id);
  const stripe = await stripeOfApp(deps, em, appId);
  const params = checkoutParams(o, {
    stripeCustomerId: data.customer_id,
    customerId: c.id,
    appId,
    currency: c.currency ?? undefined,
  });
  let s: Stripe.Checkout.Session;
  try {
    s = await stripe.checkout.sessions.create(params);
  } catch (err) {
    // Stripe refused an option (e.g. an expires_at out of its window): a 400 naming it
    if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
    throw invalid('Stripe refused the checkout session', [
      { field: err.param ? stripeField(err.param) : 'body.stripe_options', reason: err.message },
    ]);
  }
  const setupIntent = typeof s.setup_intent === 'string' ? s.setup_intent : (s.setup_intent?.id ?? '');
  const userMetadata = Object.fromEntries(
    Object.entries(s.metadata ?? {}).filter(([k]) => k in (o.metadata ?? {})),
  );
  return {
    customer_id: c.id,
    stripe_customer_id: data.customer_id,
    session_id: s.id,
    setup_intent_id: setupIntent,
    ...(s.client_secret ? { client_secret: s.client_secret } : {}),
    ...(s.client_reference_id ? { client_reference_id: s.client_reference_id } : {}),
    ...(s.customer_email ? { customer_email: s.customer_email } : {}),
    ...(s.currency ? { currency: s.currency.toUpperCase() } : {}),
    ...(s.url ? { url: s.url } : {}),
    ...(s.success_url ? { success_url: s.success_url } : {}),
    ...(s.cancel_url ? { cancel_url: s.cancel_url } : {}),
    ...(s.return_url ? { return_url: s.return_url } : {}),
    ...(s.status ? { status: s.status } : {}),
    ...(s.expires_at ? { expires_at: instant(s.expires_at * 1000) } : {}),
    ...(Object.keys(userMetadata).length ? { metadata: userMetadata } : {}),
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
