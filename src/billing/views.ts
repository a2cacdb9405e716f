/** API shapes of invoices and their lines (OpenMeter's `BillingInvoiceStandard`, `BillingInvoiceStandardLine`). */
import Decimal from 'decimal.js';
import { roundMoney } from '../catalog/pricing';
import type { Price } from '../catalog/types';
import { instant, optionalInstant } from '../lib/time';
import type { AppReferences, BillingWorkflowSettings, Supplier, PostalAddress } from '../profiles/types';
import type { BillingTotals, ComposedLine } from './compose';
import type { DetailedLine, InvoiceEntity, InvoiceLineEntity, ValidationIssue } from './entities';
import { lifecycleOf } from './invoice-state';
import { statusDetails, type StatusDetails } from './lifecycle';

export interface DetailedLineView {
  name: string;
  quantity: string;
  unit_price: string;
  category: 'regular';
  service_period: { from: string; to: string };
  totals: BillingTotals;
  tier_index?: number;
}

/** API shape of an invoice line. */
export interface InvoiceLineView {
  id: string | null;
  type: 'standard_line';
  name: string;
  description?: string;
  labels?: Record<string, string>;
  /** `manual`: added by a user on a draft; `system`: billed from the subscription */
  lifecycle_controller: 'system' | 'manual';
  feature_key: string | null;
  rate_card_key: string;
  kind: 'usage' | 'flat';
  quantity: string;
  unit_price: string | null;
  service_period: { from: string; to: string };
  totals: BillingTotals;
  price: Price;
  rate_card: Record<string, unknown>;
  usage_quantity_detail?: { raw_quantity: string; invoiced_quantity: string };
  detailed_lines: DetailedLineView[];
  subscription?: { id: string; phase: { key: string } };
  detail: Record<string, unknown>;
  created_at: string | null;
  updated_at: string | null;
}

/** API shape of an invoice; previews have id/number null and status `preview`. */
export interface InvoiceView {
  id: string | null;
  number: string | null;
  type: 'standard';
  status: string;
  status_details?: StatusDetails;
  description?: string;
  labels?: Record<string, string>;
  currency: string;
  supplier?: Supplier;
  customer: {
    id: string;
    key: string;
    name: string;
    primary_email?: string | null;
    billing_address?: PostalAddress | null;
  };
  workflow?: BillingWorkflowSettings | null;
  apps?: AppReferences | null;
  subscription: { id: string } | null;
  service_period: { from: string; to: string };
  issued_at: string | null;
  draft_until?: string;
  due_at?: string;
  collection_at?: string;
  sent_to_customer_at?: string;
  quantity_snapshotted_at?: string;
  voided_at?: string;
  paid_at?: string;
  deleted_at?: string;
  validation_issues?: ValidationIssue[];
  external_references?: Record<string, string>;
  failure?: { step: string; message: string; at: string };
  totals: BillingTotals;
  lines?: InvoiceLineView[];
  created_at: string | null;
  updated_at: string | null;
}

/**
 * A payment that did not go through shows in `status_details` while the invoice awaits its payment:
 * `extended_status` `payment_processing.failed` / `.action_required`, and `payment_issue` (the reason).
 */
function withPaymentIssue(
  d: StatusDetails,
  status: string,
  issue: { state: string; message: string; at: string } | null,
): StatusDetails {
  if (!issue || (status !== 'payment_processing' && status !== 'overdue')) return d;
  return {
    ...d,
    ...(status === 'payment_processing' ? { extended_status: `payment_processing.${issue.state}` } : {}),
    payment_issue: issue,
  };
}

export function totalsView(t: {
  amount: string;
  charges: string;
  discounts: string;
  taxes: string;
  credits: string;
  total: string;
  currency: string;
}): BillingTotals {
  const m = (v: string) => roundMoney(v, t.currency);
  return {
    amount: m(t.amount),
    taxes_total: m(t.taxes),
    taxes_inclusive_total: m('0'),
    taxes_exclusive_total: m(t.taxes),
    charges_total: m(t.charges),
    discounts_total: m(t.discounts),
    credits_total: m(t.credits),
    total: m(t.total),
  };
}

const plainTotals = (amount: string, currency: string) =>
  totalsView({ amount, charges: '0', discounts: '0', taxes: '0', credits: '0', total: amount, currency });

/** A decimal string as stored (`numeric`), without trailing zeros (`"3"`, `"0.5"`). */
const plain = (v: string) => new Decimal(v).toFixed();

function detailedView(d: DetailedLine, period: { from: string; to: string }, currency: string) {
  return {
    name: d.name,
    quantity: d.quantity,
    unit_price: d.unit_price,
    category: 'regular' as const,
    service_period: period,
    totals: plainTotals(d.amount, currency),
    ...(d.tier_index !== undefined ? { tier_index: d.tier_index } : {}),
  };
}

export function lineView(
  l: InvoiceLineEntity,
  currency: string,
  subscriptionId: string | null,
): InvoiceLineView {
  const detail = l.detail ?? {};
  const phaseKey = typeof detail.phase_key === 'string' ? detail.phase_key : undefined;
  const price = l.price as Price;
  const period = { from: instant(l.servicePeriodFrom), to: instant(l.servicePeriodTo) };
  return {
    id: l.id,
    type: 'standard_line',
    name: l.name,
    ...(l.description ? { description: l.description } : {}),
    ...(l.labels && Object.keys(l.labels).length ? { labels: l.labels } : {}),
    lifecycle_controller: l.manual ? 'manual' : 'system',
    feature_key: l.featureKey ?? null,
    rate_card_key: l.rateCardKey,
    kind: l.kind as 'usage' | 'flat',
    quantity: plain(l.quantity),
    unit_price: l.unitPrice == null ? null : plain(l.unitPrice),
    service_period: period,
    totals: plainTotals(l.amount, currency),
    price,
    rate_card: l.rateCard ?? { price, ...(l.featureKey ? { feature_key: l.featureKey } : {}) },
    ...(l.kind === 'usage'
      ? { usage_quantity_detail: { raw_quantity: plain(l.quantity), invoiced_quantity: plain(l.quantity) } }
      : {}),
    detailed_lines: (l.detailedLines ?? []).map((d) => detailedView(d, period, currency)),
    ...(subscriptionId && phaseKey && !l.manual
      ? { subscription: { id: subscriptionId, phase: { key: phaseKey } } }
      : {}),
    detail,
    created_at: instant(l.createdAt),
    updated_at: instant(l.updatedAt),
  };
}

const nonEmpty = <T extends object>(o: T | null | undefined): o is T =>
  !!o && (Array.isArray(o) ? o.length > 0 : Object.keys(o).length > 0);

export function invoiceView(inv: InvoiceEntity, lines?: InvoiceLineEntity[]): InvoiceView {
  const c = inv.customer;
  const dates = {
    draft_until: optionalInstant(inv.draftUntil),
    due_at: optionalInstant(inv.dueAt),
    collection_at: optionalInstant(inv.collectionAt),
    sent_to_customer_at: optionalInstant(inv.sentToCustomerAt),
    quantity_snapshotted_at: optionalInstant(inv.quantitySnapshottedAt),
    voided_at: optionalInstant(inv.voidedAt),
    paid_at: optionalInstant(inv.paidAt),
    deleted_at: optionalInstant(inv.deletedAt),
  };
  return {
    id: inv.id,
    number: inv.number ?? inv.draftNumber ?? null,
    type: 'standard',
    status: inv.status,
    status_details: withPaymentIssue(
      statusDetails(
        lifecycleOf({
          status: inv.status as never,
          failure: inv.failure ?? null,
          workflow: inv.workflow ?? null,
        }),
      ),
      inv.status,
      inv.paymentIssue ?? null,
    ),
    ...(inv.description ? { description: inv.description } : {}),
    ...(nonEmpty(inv.labels) ? { labels: inv.labels } : {}),
    currency: inv.currency,
    supplier: inv.supplier ?? {},
    customer: {
      id: c.id,
      key: c.key,
      name: c.name,
      ...(c.primary_email ? { primary_email: c.primary_email } : {}),
      ...(c.billing_address ? { billing_address: c.billing_address } : {}),
    },
    workflow: inv.workflow ?? null,
    apps: inv.apps ?? null,
    subscription: inv.subscriptionId ? { id: inv.subscriptionId } : null,
    service_period: { from: instant(inv.servicePeriodFrom), to: instant(inv.servicePeriodTo) },
    issued_at: inv.issuedAt ? instant(inv.issuedAt) : null,
    ...Object.fromEntries(Object.entries(dates).filter(([, v]) => v !== undefined)),
    ...(nonEmpty(inv.validationIssues) ? { validation_issues: inv.validationIssues } : {}),
    ...(nonEmpty(inv.externalReferences) ? { external_references: inv.externalReferences } : {}),
    ...(inv.failure ? { failure: inv.failure } : {}),
    totals: totalsView({
      amount: inv.amount,
      charges: inv.chargesTotal,
      discounts: inv.discountsTotal,
      taxes: inv.taxesTotal,
      credits: inv.creditsTotal,
      total: inv.total,
      currency: inv.currency,
    }),
    ...(lines ? { lines: lines.map((l) => lineView(l, inv.currency, inv.subscriptionId ?? null)) } : {}),
    created_at: instant(inv.createdAt),
    updated_at: instant(inv.updatedAt),
  };
}

/** A previewed line (nothing stored). */
export function composedLineView(l: ComposedLine, subscriptionId: string | null): InvoiceLineView {
  const phaseKey = typeof l.detail.phase_key === 'string' ? l.detail.phase_key : undefined;
  return {
    id: null,
    type: 'standard_line',
    name: l.name,
    lifecycle_controller: 'system',
    feature_key: l.featureKey,
    rate_card_key: l.rateCardKey,
    kind: l.kind,
    quantity: plain(l.quantity),
    unit_price: l.unitPrice === null ? null : plain(l.unitPrice),
    service_period: { from: l.periodFrom, to: l.periodTo },
    totals: l.totals,
    price: l.price,
    rate_card: { price: l.price, ...(l.featureKey ? { feature_key: l.featureKey } : {}) },
    ...(l.kind === 'usage'
      ? { usage_quantity_detail: { raw_quantity: plain(l.quantity), invoiced_quantity: plain(l.quantity) } }
      : {}),
    detailed_lines: [],
    ...(subscriptionId && phaseKey ? { subscription: { id: subscriptionId, phase: { key: phaseKey } } } : {}),
    detail: l.detail,
    created_at: null,
    updated_at: null,
  };
}
