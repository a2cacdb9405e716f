/**
 * The custom-invoicing app (as OpenMeter's `custominvoicing`): for teams that invoice from their own system.
 * With `enable_draft_sync_hook` / `enable_issuing_sync_hook`, the invoice's workflow waits (input
 * `syncHooks`) until that system calls `POST /apps/custom-invoicing/{invoiceId}/draft/synchronized`, then
 * `/issuing/synchronized`; each report is delivered to the workflow as an Update (`appSync`), which refuses
 * (409) a report the invoice does not wait for and takes a repeat as a no-op. The hand-over leaves the
 * invoice awaiting the payment, whose status the system reports at `/payment/status` (the `paymentEvent`
 * Update, as Stripe's webhook).
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { AppDeps } from '../deps';
import { conflict, invalid, notFound, unavailable } from '../lib/errors';
import { logger } from '../lib/logger';
import { invoiceForApp } from '../billing/invoices';
import { getInvoice } from '../billing/service';
import { isFinal, type InvoiceStatus, type PaymentResult } from '../billing/lifecycle';
import {
  appSyncUpdate,
  INVOICE_REFUSAL_TYPE,
  paymentEventUpdate,
  type AppSyncArgs,
  type PaymentEventArgs,
} from '../../workflows/definitions';
import type { PaymentApp } from './payment-app';
import { findInstalledApp } from './state';

export const customInvoicingApp: PaymentApp = {
  type: 'custom_invoicing',
  issueSteps: [],
  async issue() {
    // the external system issues the invoice (reported at the issuing sync hook)
  },
  collect() {
    // the external system collects the payment and reports its status
    return Promise.resolve({ status: 'payment_processing' });
  },
};

/** `POST …/draft/synchronized` (OpenMeter's CustomInvoicingDraftSynchronizedRequest, snake_case) */
export interface DraftSyncInput {
  invoicing?: {
    invoice_number?: string;
    external_id?: string;
    line_external_ids?: { line_id: string; external_id: string }[];
  };
}
/** `POST …/issuing/synchronized` (OpenMeter's CustomInvoicingFinalizedRequest) */
export interface IssuingSyncInput {
  invoicing?: { invoice_number?: string; sent_to_customer_at?: string };
  payment?: { external_id?: string };
}
/** OpenMeter's CustomInvoicingPaymentTrigger, less `payment_overdue` (Tally's due date decides overdue) */
export const CUSTOM_PAYMENT_TRIGGERS = [
  'paid',
  'payment_failed',
  'payment_uncollectible',
  'action_required',
  'void',
] as const;
export type CustomPaymentTrigger = (typeof CUSTOM_PAYMENT_TRIGGERS)[number];

const RESULT: Record<CustomPaymentTrigger, PaymentResult> = {
  paid: 'paid',
  payment_failed: 'failed',
  payment_uncollectible: 'uncollectible',
  action_required: 'failed',
  void: 'voided',
};
/** where a reported trigger leaves the invoice (a repeat finds it there) */
const LANDS: Record<CustomPaymentTrigger, InvoiceStatus[]> = {
  paid: ['paid'],
  payment_failed: ['payment_processing', 'overdue'],
  payment_uncollectible: ['uncollectible'],
  action_required: ['payment_processing', 'overdue'],
  void: ['voided'],
};

async function customInvoice(deps: AppDeps, invoiceId: string) {
  const em = deps.orm.em.fork();
  const inv = await invoiceForApp(em, invoiceId);
  const app = inv.paymentAppId ? await findInstalledApp(em, inv.paymentAppId) : null;
  if (!app || app.type !== 'custom_invoicing') throw notFound('invoice of a custom-invoicing app', invoiceId);
  if (!deps.temporal) throw unavailable('Temporal is not configured');
  return { em, inv, temporal: deps.temporal };
}

const refusalOf = (e: unknown): string | undefined =>
  e instanceof WorkflowUpdateFailedError &&
  e.cause instanceof ApplicationFailure &&
  e.cause.type === INVOICE_REFUSAL_TYPE
    ? e.cause.message
    : undefined;

/** what a report names, as `external_references` keys (`custom_invoicing_line:<lineId>` per line) */
export function syncReferences(input: DraftSyncInput & IssuingSyncInput): Record<string, string> {
  const refs: Record<string, string> = {};
  const i = input.invoicing;
  if (i && 'external_id' in i && i.external_id) refs.custom_invoicing_id = i.external_id;
  if (i?.invoice_number) refs.custom_invoicing_number = i.invoice_number;
  if (i && 'sent_to_customer_at' in i && i.sent_to_customer_at)
    refs.custom_invoicing_sent_to_customer_at = i.sent_to_customer_at;
  if (input.payment?.external_id) refs.custom_invoicing_payment_id = input.payment.external_id;
  for (const l of (i && 'line_external_ids' in i ? i.line_external_ids : undefined) ?? [])
    refs[`custom_invoicing_line:${l.line_id}`] = l.external_id;
  return refs;
}

/** A sync hook's report; answers the invoice as it is after it. */
export async function reportSync(
  deps: AppDeps,
  invoiceId: string,
  step: AppSyncArgs['step'],
  input: DraftSyncInput & IssuingSyncInput,
) {
  const { em, inv, temporal } = await customInvoice(deps, invoiceId);
  const lineIds = new Set(inv.lines.map((l) => l.id));
  const unknown = (input.invoicing?.line_external_ids ?? []).findIndex((l) => !lineIds.has(l.line_id));
  if (unknown >= 0)
    throw invalid(`invoice ${inv.id} has no such line`, [
      { field: `body.invoicing.line_external_ids[${unknown}].line_id`, reason: 'not a line of the invoice' },
    ]);
  try {
    await temporal.workflow
      .getHandle(`invoice-${inv.id}`)
      .executeUpdate(appSyncUpdate, { args: [{ step, references: syncReferences(input) }] });
  } catch (e) {
    const refusal = refusalOf(e);
    if (refusal) throw conflict(refusal);
    // the workflow has ended (paid, voided, deleted): the report comes too late
    if (isFinal((await invoiceForApp(em, inv.id)).status))
      throw conflict(`invoice ${inv.id} is ${(await invoiceForApp(em, inv.id)).status}`);
    throw unavailable(`invoice ${inv.id} could not take the report; try again`);
  }
  logger.info({ invoice_id: inv.id, step }, 'custom invoicing: synchronized');
  return getInvoice(deps.orm.em.fork(), inv.id);
}

/** The external system's payment status; a repeat (the invoice is there already) is a no-op. */
export async function reportPaymentStatus(deps: AppDeps, invoiceId: string, status: CustomPaymentTrigger) {
  const { em, inv, temporal } = await customInvoice(deps, invoiceId);
  const args: PaymentEventArgs = {
    result: RESULT[status],
    eventId: `custom-invoicing-${status}`,
    ...(status === 'payment_failed'
      ? { message: 'the payment failed (reported by the invoicing system)' }
      : {}),
    ...(status === 'action_required'
      ? { message: 'the customer must act (reported by the invoicing system)' }
      : {}),
  };
  try {
    await temporal.workflow
      .getHandle(`invoice-${inv.id}`)
      .executeUpdate(paymentEventUpdate, { args: [args] });
  } catch (e) {
    const refusal = refusalOf(e);
    const now = (await invoiceForApp(em, inv.id)).status;
    if (!refusal && !isFinal(now))
      throw unavailable(`invoice ${inv.id} could not take the report; try again`);
    const repeat =
      LANDS[status].includes(now) && (RESULT[status] !== 'failed' || refusal?.includes('applied'));
    if (!repeat) throw conflict(refusal ?? `invoice ${inv.id} is ${now}`);
  }
  return getInvoice(deps.orm.em.fork(), inv.id);
}
