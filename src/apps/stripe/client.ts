/**
 * The Stripe client (Stripe's official SDK). The API host is configurable (`TALLY_STRIPE_API_BASE`, e.g.
 * stripe-mock's URL in tests); `AppDeps.stripeHttpClient` lets tests observe the requests.
 */
import Stripe from 'stripe';
import type { AppDeps } from '../../deps';

export type StripeClient = Stripe;

export function stripeClient(deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>, secretKey: string): Stripe {
  const base = deps.config.TALLY_STRIPE_API_BASE;
  const url = base ? new URL(base) : undefined;
  return new Stripe(secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    ...(url
      ? {
          host: url.hostname,
          port: url.port || (url.protocol === 'http:' ? '80' : '443'),
          protocol: url.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
    ...(deps.stripeHttpClient ? { httpClient: deps.stripeHttpClient } : {}),
  });
}

/** A Stripe webhook event verified against the signing secret (throws when the signature is wrong). */
export function verifyStripeEvent(rawBody: Buffer | string, signature: string, secret: string): Stripe.Event {
  return Stripe.webhooks.constructEvent(rawBody, signature, secret);
}
