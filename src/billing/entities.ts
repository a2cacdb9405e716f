/**
 * Invoices (table `invoices`), from draft to paid, and their lines (`invoice_lines`). Money columns are `numeric`,
 * read as decimal strings.
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../db/columns';
import type { AppReferences, BillingWorkflowSettings, Supplier, PostalAddress } from '../profiles/types';
import type { IssueInvoiceInput } from './contract';

/** The customer as it was when the invoice was issued. */
export interface CustomerSnapshot {
  id: string;
  key: string;
  name: string;
  primary_email?: string | null;
  billing_address?: PostalAddress | null;
}

const money = () => p.decimal('string').columnType('numeric');
const ts = () => p.datetime().columnType('timestamptz');

export const Invoice = defineEntity({
  name: 'Invoice',
  tableName: 'invoices',
  properties: {
    id: p.string().primary().columnType('text'),
    /** the issued number (`INV-000042`), null until issued */
    number: p.string().columnType('text').nullable(),
    draftNumber: p.string().columnType('text').nullable(),
    invoiceKey: p.string().columnType('text'),
    customerId: p.string().columnType('text'),
    subscriptionId: p.string().columnType('text').nullable(),
    currency: p.string().columnType('text'),
    status: p.string().columnType('text'),
    servicePeriodFrom: ts(),
    servicePeriodTo: ts(),
    issuedAt: ts().nullable(),
    amount: money(),
    chargesTotal: money(),
    discountsTotal: money(),
    taxesTotal: money(),
    creditsTotal: money(),
    total: money(),
    customer: p.json<CustomerSnapshot>().columnType('jsonb'),
    profileId: p.string().columnType('text'),
    supplier: p.json<Supplier>().columnType('jsonb'),
    workflow: p.json<BillingWorkflowSettings>().columnType('jsonb').nullable(),
    apps: p.json<AppReferences>().columnType('jsonb').nullable(),
    source: p.json<IssueInvoiceInput>().columnType('jsonb').nullable(),
    draftUntil: ts().nullable(),
    dueAt: ts().nullable(),
    collectionAt: ts().nullable(),
    sentToCustomerAt: ts().nullable(),
    quantitySnapshottedAt: ts().nullable(),
    voidedAt: ts().nullable(),
    paidAt: ts().nullable(),
    deletedAt: ts().nullable(),
    paymentHandedOverAt: ts().nullable(),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb'),
    externalReferences: p.json<Record<string, string>>().columnType('jsonb'),
    validationIssues: p.json<ValidationIssue[]>().columnType('jsonb'),
    failure: p.json<InvoiceFailure>().columnType('jsonb').nullable(),
    paymentIssue: p
      .json<{ state: 'failed' | 'action_required'; message: string; at: string }>()
      .columnType('jsonb')
      .nullable(),
    ...timestamps(),
  },
});

/** A finding on an invoice (OpenMeter's `BillingInvoiceValidationIssue`, reduced). */
export interface ValidationIssue {
  severity: 'critical' | 'warning';
  code: string;
  message: string;
  component: string;
}

/** The step that failed last (shown as `status_details.failed`); cleared when it succeeds. */
export interface InvoiceFailure {
  step: 'issuing' | 'payment';
  message: string;
  at: string;
}

/** One tier or flat part of a line (OpenMeter's `BillingInvoiceDetailedLine`, reduced). */
export interface DetailedLine {
  name: string;
  quantity: string;
  unit_price: string;
  amount: string;
  /** the tier (0-based) of a tiered price */
  tier_index?: number;
}

export const InvoiceLine = defineEntity({
  name: 'InvoiceLine',
  tableName: 'invoice_lines',
  properties: {
    id: p.string().primary().columnType('text'),
    invoiceId: p.string().columnType('text'),
    position: p.integer(),
    name: p.string().columnType('text'),
    featureKey: p.string().columnType('text').nullable(),
    rateCardKey: p.string().columnType('text'),
    kind: p.string().columnType('text'),
    quantity: money(),
    unitPrice: money().nullable(),
    price: p.json<unknown>().columnType('jsonb'),
    servicePeriodFrom: ts(),
    servicePeriodTo: ts(),
    amount: money(),
    total: money(),
    detail: p.json<Record<string, unknown>>().columnType('jsonb'),
    /** added (or edited) by a user on a draft: never re-rated */
    manual: p.boolean(),
    rateCard: p.json<Record<string, unknown>>().columnType('jsonb').nullable(),
    detailedLines: p.json<DetailedLine[]>().columnType('jsonb'),
    /** the pending line it was gathered from (null: before consolidation, or manual) */
    sourceKey: p.string().columnType('text').nullable(),
    /** the subscription that billed it (a gathered invoice holds several) */
    subscriptionId: p.string().columnType('text').nullable(),
    /** OpenMeter's line `description` and `labels` (set by an update; stored and shown) */
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb'),
    ...timestamps(),
  },
});

export type InvoiceEntity = InferEntity<typeof Invoice>;
export type InvoiceLineEntity = InferEntity<typeof InvoiceLine>;
