/**
 * Issued invoices (table `invoices`) and their lines (`invoice_lines`). Money columns are `numeric`,
 * read as decimal strings.
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../db/columns';

/** The customer as it was when the invoice was issued. */
export interface CustomerSnapshot {
  id: string;
  key: string;
  name: string;
  primary_email?: string | null;
  billing_address?: unknown;
}

const money = () => p.decimal('string').columnType('numeric');
const ts = () => p.datetime().columnType('timestamptz');

export const Invoice = defineEntity({
  name: 'Invoice',
  tableName: 'invoices',
  properties: {
    id: p.string().primary().columnType('text'),
    number: p.string().columnType('text'),
    invoiceKey: p.string().columnType('text'),
    customerId: p.string().columnType('text'),
    subscriptionId: p.string().columnType('text').nullable(),
    currency: p.string().columnType('text'),
    status: p.string().columnType('text'),
    servicePeriodFrom: ts(),
    servicePeriodTo: ts(),
    issuedAt: ts(),
    amount: money(),
    chargesTotal: money(),
    discountsTotal: money(),
    taxesTotal: money(),
    creditsTotal: money(),
    total: money(),
    customer: p.json<CustomerSnapshot>().columnType('jsonb'),
    ...timestamps(),
  },
});

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
    ...timestamps(),
  },
});

export type InvoiceEntity = InferEntity<typeof Invoice>;
export type InvoiceLineEntity = InferEntity<typeof InvoiceLine>;
