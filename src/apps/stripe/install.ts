/**
 * Connecting a Stripe account: the secret key is checked by a call (the account it belongs to), the
 * webhook endpoint of the app is registered, and the key and the endpoint's signing secret are returned
 * to be stored write-only. Never logs a key or a secret.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
import type { AppDeps } from '../../deps';
import { invalid, unavailable } from '../../lib/errors';
import { logger } from '../../lib/logger';
import type { AppRow } from '../entities';
import { appSecrets } from '../state';
import { maskKey } from '../views';
import { stripeClient } from './client';

/** The Stripe events the app listens to. */
export const STRIPE_WEBHOOK_EVENTS = [
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.marked_uncollectible',
  'invoice.voided',
] as const;

export const stripeWebhookPath = (appId: string) => `/v3/openmeter/apps/${appId}/stripe/webhook`;

export async function connectStripe(
  deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>,
  appId: string,
  apiKey: string,
  webhookSecret: string | undefined,
  opts: { keyOnly?: boolean } = {},
): Promise<{ settings: Record<string, unknown>; secrets: Record<string, string> }> {
  const field = opts.keyOnly ? 'body.secret_api_key' : 'body.api_key';
  if (!/^(sk|rk)_(test|live)_\S+$/.test(apiKey))
    throw invalid('a Stripe secret key is required', [
      { field, reason: 'must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)' },
    ]);
  const stripe = stripeClient(deps, apiKey);
  let account: Stripe.Account;
  try {
    account = await stripe.accounts.retrieveCurrent();
  } catch (err) {
    if (
      err instanceof Stripe.errors.StripeAuthenticationError ||
      err instanceof Stripe.errors.StripePermissionError
    )
      throw invalid('Stripe refused the key', [{ field, reason: 'Stripe does not accept this key' }]);
    throw unavailable(`Stripe could not be reached to check the key (${(err as Error).name})`);
  }
  const livemode = apiKey.includes('_live_');
  const settings: Record<string, unknown> = {
    account_id: account.id,
    livemode,
    masked_api_key: maskKey(apiKey),
  };
  const secrets: Record<string, string> = { api_key: apiKey };
  if (opts.keyOnly) return { settings, secrets };
  const url = new URL(stripeWebhookPath(appId), deps.config.TALLY_PUBLIC_URL).toString();
  const endpoint = await stripe.webhookEndpoints.create(
    {
      url,
      enabled_events: [...STRIPE_WEBHOOK_EVENTS],
      description: `Tally app ${appId}`,
      metadata: { tally_app_id: appId },
    },
    { idempotencyKey: `tally-app-${appId}-webhook` },
  );
  const secret = endpoint.secret ?? webhookSecret;
  if (!secret)
    throw invalid('Stripe returned no webhook signing secret', [
      { field: 'body.webhook_secret', reason: 'required when Stripe returns no signing secret' },
    ]);
  settings.webhook_endpoint_id = endpoint.id;
  logger.info(
    { app_id: appId, account_id: account.id, webhook_endpoint_id: endpoint.id },
    'stripe connected',
  );
  return { settings, secrets: { ...secrets, webhook_secret: secret } };
}

/** Removes the app's webhook endpoint at Stripe (best effort: the app is uninstalled either way). */
export async function disconnectStripe(
  deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>,
  em: EntityManager,
  row: AppRow,
): Promise<void> {
  const endpoint = (row.settings as { webhook_endpoint_id?: string }).webhook_endpoint_id;
  const { api_key } = await appSecrets(em, row.id);
  if (!endpoint || !api_key) return;
  try {
    await stripeClient(deps, api_key).webhookEndpoints.del(endpoint);
  } catch (err) {
    logger.warn({ app_id: row.id, err: (err as Error).name }, 'stripe webhook endpoint not removed');
  }
}
