/**
 * Customers and the usage subjects attributed to them (tables `customers`, `customer_subjects`, plus
 * `customer_subject_releases` for subjects given up). Among live customers, keys and subject keys map each
 * name to one customer (the service keeps them disjoint). Each claim records `owned_from` (raw SQL, with
 * microseconds; not mapped here): an event belongs to the customer whose ownership window of its subject
 * contains its time (see `SubjectWindow` in the service).
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { softDelete, timestamps } from '../db/columns';
import type { PostalAddress } from '../profiles/types';

export type Address = PostalAddress;

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
