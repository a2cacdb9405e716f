/**
 * Stripe's webhook for one app: the signature is verified with the app's signing secret (400 otherwise),
 * the invoice is found by the Stripe invoice id (`app_invoice_sync`), and the event is delivered to the
 * invoice's workflow as an Update (`paymentEvent`), whose state machine refuses what no longer applies
 * (a late or reordered event): it changes nothing. An event applied once is recorded by its id
 * (`app_webhook_events`): its duplicates change nothing either.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type Stripe from 'stripe';
import { exec, Sql } from '../../db/sql';
import type { AppDeps } from '../../deps';
import { invalid, notFound, unavailable } from '../../lib/errors';
import { logger } from '../../lib/logger';
import { invoiceForApp } from '../../billing/invoices';
import { isFinal, type PaymentResult } from '../../billing/lifecycle';
import { INVOICE_REFUSAL_TYPE, paymentEventUpdate } from '../../../workflows/definitions';
import { appSecrets, findInstalledApp } from '../state';
import { verifyStripeEvent } from './client';

const RESULTS: Record<string, PaymentResult> = {
  'invoice.paid': 'paid',
  'invoice.payment_failed': 'failed',
  'invoice.marked_uncollectible': 'uncollectible',
  'invoice.voided': 'voided',
};

export interface WebhookAnswer {
  received: true;
  outcome: 'applied' | 'duplicate' | 'ignored';
}

export async function handleStripeWebhook(
  deps: AppDeps,
  appId: string,
  body: Buffer,
  signature: string,
): Promise<WebhookAnswer> {
  const em = deps.orm.em.fork();
  const app = await findInstalledApp(em, appId);
  if (!app || app.type !== 'stripe') throw notFound('stripe app', appId);
  const { webhook_secret } = await appSecrets(em, app.id);
  let event: Stripe.Event;
  try {
    event = verifyStripeEvent(body, signature, webhook_secret ?? '');
  } catch {
    throw invalid('the Stripe signature does not verify', [
      { field: 'header.stripe-signature', reason: 'not signed by this app’s webhook secret' },
    ]);
  }
  const result = RESULTS[event.type];
  if (!result) return { received: true, outcome: 'ignored' };
  const seen = await exec<{ outcome: string }>(
    em,
    new Sql().add(
      'select outcome from app_webhook_events where app_id = ? and event_id = ?',
      app.id,
      event.id,
    ),
  );
  if (seen.length) return { received: true, outcome: 'duplicate' };
  const stripeInvoice = event.data.object as Stripe.Invoice;
  const found = await exec<{ invoice_id: string }>(
    em,
    new Sql().add(
      'select invoice_id from app_invoice_sync where app_id = ? and external_id = ?',
      app.id,
      stripeInvoice.id ?? '',
    ),
  );
  const invoiceId = found[0]?.invoice_id;
  let outcome: WebhookAnswer['outcome'] = 'ignored';
  if (invoiceId) {
    if (!deps.temporal) throw unavailable('Temporal is not configured');
    const message =
      result === 'failed'
        ? (stripeInvoice.last_finalization_error?.message ?? 'the payment failed at Stripe')
        : undefined;
    try {
      await deps.temporal.workflow.getHandle(`invoice-${invoiceId}`).executeUpdate(paymentEventUpdate, {
        args: [{ result, eventId: event.id, ...(message ? { message } : {}) }],
      });
      outcome = 'applied';
    } catch (e) {
      const refused =
        e instanceof WorkflowUpdateFailedError &&
        e.cause instanceof ApplicationFailure &&
        e.cause.type === INVOICE_REFUSAL_TYPE;
      // a final invoice's workflow has ended: the event comes too late and changes nothing
      const ended = !refused && isFinal((await invoiceForApp(em, invoiceId)).status);
      if (!refused && !ended)
        throw unavailable(`invoice ${invoiceId} could not take the Stripe event; Stripe retries it`);
    }
  }
  await exec(
    em,
    new Sql().add(
      `insert into app_webhook_events (app_id, event_id, type, invoice_id, outcome) values (?, ?, ?, ?, ?)
       on conflict do nothing`,
      app.id,
      event.id,
      event.type,
      invoiceId ?? null,
      outcome,
    ),
  );
  logger.info(
    { app_id: app.id, event_id: event.id, event_type: event.type, invoice_id: invoiceId, outcome },
    'stripe webhook',
  );
  return { received: true, outcome };
}
