/**
 * The custom-invoicing app (as OpenMeter's `custominvoicing`): for teams that invoice from their own system.
 * With `enable_draft_sync_hook` / `enable_issuing_sync_hook`, the invoice's workflow waits (input
 * `syncHooks`) until that system calls `POST /apps/custom-invoicing/{invoiceId}/draft/synchronized`, then
 * `/issuing/synchronized`; each report is delivered to the workflow as an Update (`appSync`), which refuses
 * (409) a report the invoice does not wait for and takes a repeat as a no-op. The hand-over leaves the
 * invoice awaiting the payment, whose status the system reports at `/payment/status` (the `paymentEvent`
 * Update, as Stripe's webhook).
 *
 * The three callbacks authenticate by the app's own callback token (`Authorization: Bearer <token>`), not by
 * an API token: the bearer middleware skips them (`x-tally-auth: signature`) and `authenticateCallback`
 * compares the token's SHA-256 digest with every live custom-invoicing app's, in constant time, without an
 * early exit. No token or an unknown one (an API token included): 401; another app's invoice: 403.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { AppDeps } from '../deps';
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import { conflict, forbidden, invalid, notFound, unauthenticated, unavailable } from '../lib/errors';
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

/** A callback token: `tci_` + 32 random bytes (base64url). */
export const newCallbackToken = (): string => `tci_${randomBytes(32).toString('base64url')}`;

const tokenDigest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** What `apps.secrets` keeps of a callback token: its digest only. */
export const callbackTokenSecrets = (token: string): Record<string, string> => ({
  callback_token_sha256: tokenDigest(token).toString('hex'),
});

/**
 * The custom-invoicing app whose callback token `authorization` (`Bearer <token>`) carries: compared with
 * every live app's digest in constant time. UnauthenticatedError when there is none.
 */
export async function authenticateCallback(
  em: EntityManager,
  authorization: string | undefined,
): Promise<string> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (!token)
    throw unauthenticated(
      "missing Authorization: Bearer <callback token> (the custom-invoicing app's callback_token)",
    );
  const apps = await exec<{ id: string; digest: string | null }>(
    em,
    new Sql().add(
      `select id, secrets->>'callback_token_sha256' as digest from apps
        where type = 'custom_invoicing' and deleted_at is null order by id`,
    ),
  );
  const d = tokenDigest(token);
  let match: string | undefined;
  for (const a of apps) {
    const stored = Buffer.from(a.digest ?? '', 'hex');
    const hit = stored.length === d.length && timingSafeEqual(stored, d);
    if (hit) match = a.id;
  }
  if (!match)
    throw unauthenticated(
      "the token is not a custom-invoicing app's callback token (API tokens are not accepted here)",
    );
  return match;
}

async function customInvoice(deps: AppDeps, invoiceId: string, appId: string) {
  const em = deps.orm.em.fork();
  const inv = await invoiceForApp(em, invoiceId);
  const app = inv.paymentAppId ? await findInstalledApp(em, inv.paymentAppId) : null;
  if (!app || app.type !== 'custom_invoicing') throw notFound('invoice of a custom-invoicing app', invoiceId);
  if (app.id !== appId)
    throw forbidden(`invoice ${inv.id} is billed through another custom-invoicing app than this token's`);
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
  /** the app the caller authenticated as (`authenticateCallback`) */
  appId: string,
) {
  const { em, inv, temporal } = await customInvoice(deps, invoiceId, appId);
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
export async function reportPaymentStatus(
  deps: AppDeps,
  invoiceId: string,
  status: CustomPaymentTrigger,
  /** the app the caller authenticated as (`authenticateCallback`) */
  appId: string,
) {
  const { em, inv, temporal } = await customInvoice(deps, invoiceId, appId);
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
