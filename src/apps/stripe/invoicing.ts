/**
 * The Stripe payment app. Issuing runs three steps, each its own activity with Stripe idempotency keys
 * derived from the invoice (and line), and each checked in `app_invoice_sync` before it calls Stripe: a
 * retry, a replay or a worker killed between two steps never makes a second Stripe invoice or charge.
 *
 * 1. `create_invoice`: the Stripe invoice (draft, no auto advance, excluding pending items), for the
 *    customer's Stripe customer (created when missing); its id goes into `external_references`.
 * 2. `add_lines`: one invoice item per Tally line, the amount in exact minor units.
 * 3. `finalize`: finalizes it (the number Stripe gives goes into `external_references`).
 * Then `collect`: `charge_automatically` pays it with the default payment method, `send_invoice` sends it.
 * The payment's fate arrives by webhook (webhook.ts).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
import { addExternalReferences, type InvoiceForApp } from '../../billing/invoices';
import { exec, Sql } from '../../db/sql';
import type { PaymentApp } from '../payment-app';
import { toMinorUnits } from './amounts';
import { ensureStripeCustomer, stripeOfApp } from './customers';

interface SyncRow {
  external_id: string | null;
  lines_added_at: Date | null;
  finalized_at: Date | null;
  collected_at: Date | null;
}

async function syncOf(em: EntityManager, appId: string, invoiceId: string): Promise<SyncRow | undefined> {
  return (
    await exec<SyncRow>(
      em,
      new Sql().add(
        `select external_id, lines_added_at, finalized_at, collected_at from app_invoice_sync
          where app_id = ? and invoice_id = ?`,
        appId,
        invoiceId,
      ),
    )
  )[0];
}

async function mark(em: EntityManager, appId: string, invoiceId: string, col: string): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `update app_invoice_sync set ${col} = now(), updated_at = now() where app_id = ? and invoice_id = ?`,
      appId,
      invoiceId,
    ),
  );
}

/** The Stripe idempotency key of a step (and line) of an invoice. */
export const stripeIdempotencyKey = (invoiceId: string, step: string, lineId?: string) =>
  `tally-${invoiceId}-${step}${lineId ? `-${lineId}` : ''}`;

const requireInvoice = (s: SyncRow | undefined, invoiceId: string): string => {
  if (!s?.external_id) throw new Error(`invoice ${invoiceId} has no Stripe invoice yet`);
  return s.external_id;
};

export const stripePaymentApp: PaymentApp = {
  type: 'stripe',
  issueSteps: ['create_invoice', 'add_lines', 'finalize'],

  async issue({ deps, em, appId }, inv: InvoiceForApp, step: string) {
    const stripe = await stripeOfApp(deps, em, appId);
    const sync = await syncOf(em, appId, inv.id);
    if (step === 'create_invoice') {
      if (sync?.external_id) return;
      const customer = await ensureStripeCustomer(deps, em, appId, inv.customerId);
      const days = inv.dueAt ? Math.max(0, Math.ceil((Date.parse(inv.dueAt) - Date.now()) / 86_400_000)) : 0;
      const created = await stripe.invoices.create(
        {
          customer: customer.customer_id,
          currency: inv.currency.toLowerCase(),
          auto_advance: false,
          pending_invoice_items_behavior: 'exclude',
          collection_method: inv.collectionMethod,
          ...(inv.collectionMethod === 'send_invoice' ? { days_until_due: days } : {}),
          ...(customer.default_payment_method_id && inv.collectionMethod === 'charge_automatically'
            ? { default_payment_method: customer.default_payment_method_id }
            : {}),
          metadata: { tally_invoice_id: inv.id, tally_app_id: appId, tally_invoice_number: inv.number ?? '' },
        },
        { idempotencyKey: stripeIdempotencyKey(inv.id, 'create_invoice') },
      );
      await em.transactional(async (tem) => {
        await exec(
          tem,
          new Sql().add(
            `insert into app_invoice_sync (app_id, invoice_id, external_id) values (?, ?, ?)
             on conflict (app_id, invoice_id) do nothing`,
            appId,
            inv.id,
            created.id,
          ),
        );
        await addExternalReferences(tem, inv.id, { stripe_invoice_id: created.id });
      });
      return;
    }
    const stripeInvoice = requireInvoice(sync, inv.id);
    if (step === 'add_lines') {
      if (sync!.lines_added_at) return;
      const customer = await ensureStripeCustomer(deps, em, appId, inv.customerId);
      for (const l of inv.lines) {
        await stripe.invoiceItems.create(
          {
            invoice: stripeInvoice,
            customer: customer.customer_id,
            currency: inv.currency.toLowerCase(),
            amount: toMinorUnits(l.amount, inv.currency),
            description: l.name,
            metadata: { tally_invoice_id: inv.id, tally_line_id: l.id, quantity: l.quantity },
          },
          { idempotencyKey: stripeIdempotencyKey(inv.id, 'line', l.id) },
        );
      }
      await mark(em, appId, inv.id, 'lines_added_at');
      return;
    }
    if (step === 'finalize') {
      if (sync!.finalized_at) return;
      const f = await stripe.invoices.finalizeInvoice(
        stripeInvoice,
        { auto_advance: false },
        { idempotencyKey: stripeIdempotencyKey(inv.id, 'finalize') },
      );
      await em.transactional(async (tem) => {
        await mark(tem, appId, inv.id, 'finalized_at');
        if (f.number) await addExternalReferences(tem, inv.id, { stripe_invoice_number: f.number });
      });
      return;
    }
    throw new Error(`unknown Stripe step ${step}`);
  },

  async collect({ deps, em, appId }, inv) {
    const sync = await syncOf(em, appId, inv.id);
    const stripeInvoice = requireInvoice(sync, inv.id);
    if (sync!.collected_at) return { status: 'payment_processing' };
    const stripe = await stripeOfApp(deps, em, appId);
    let status: 'payment_processing' | 'paid' = 'payment_processing';
    let issue: { state: 'failed'; message: string } | undefined;
    if (inv.collectionMethod === 'charge_automatically') {
      try {
        const paid = await stripe.invoices.pay(
          stripeInvoice,
          {},
          { idempotencyKey: stripeIdempotencyKey(inv.id, 'pay') },
        );
        if (paid.status === 'paid') status = 'paid';
      } catch (err) {
        // a declined card is an answer, not an outage: the invoice awaits payment with the failure shown
        if (!(err instanceof Stripe.errors.StripeCardError)) throw err;
        issue = { state: 'failed', message: err.message };
      }
    } else {
      await stripe.invoices.sendInvoice(
        stripeInvoice,
        {},
        { idempotencyKey: stripeIdempotencyKey(inv.id, 'send') },
      );
    }
    await mark(em, appId, inv.id, 'collected_at');
    return { status, ...(issue ? { issue } : {}) };
  },
};
