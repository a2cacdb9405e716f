/**
 * Customers and the usage subjects attributed to them (tables `customers`, `customer_subjects`).
 * An event belongs to the live customer whose `key` equals its subject, or who owns a `customer_subjects`
 * row with that subject key; the service keeps the two sets disjoint between customers.
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { softDelete, timestamps } from '../db/columns';

export interface Address {
  country?: string;
  postal_code?: string;
  state?: string;
  city?: string;
  line1?: string;
  line2?: string;
  phone_number?: string;
}

export const Customer = defineEntity({
  name: 'Customer',
  tableName: 'customers',
  properties: {
    id: p.string().primary().columnType('text'),
    key: p.string().columnType('text'),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    primaryEmail: p.string().columnType('text').nullable(),
    currency: p.string().columnType('char(3)').nullable(),
    billingAddress: p.json<Address>().columnType('jsonb').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export const CustomerSubject = defineEntity({
  name: 'CustomerSubject',
  tableName: 'customer_subjects',
  properties: {
    subjectKey: p.string().primary().columnType('text'),
    customerId: p.string().columnType('text'),
  },
});

export type CustomerEntity = InferEntity<typeof Customer>;
export type CustomerSubjectEntity = InferEntity<typeof CustomerSubject>;
