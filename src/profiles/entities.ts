/**
 * Billing profiles (`billing_profiles`) and each customer's billing settings (`customer_billing_overrides`:
 * its profile, absent = the default one, and its workflow overrides). Supplier, workflow and apps are kept in
 * their API shape (jsonb), validated at the edge. At most one live profile is the default (partial unique
 * index `billing_profiles_default_uq`).
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { softDelete, timestamps } from '../db/columns';
import type { WorkflowOverrides } from './merge';
import type { AppReferences, BillingWorkflowSettings, Supplier } from './types';

export const BillingProfileEntity = defineEntity({
  name: 'BillingProfile',
  tableName: 'billing_profiles',
  properties: {
    id: p.string().primary().columnType('text'),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    supplier: p.json<Supplier>().columnType('jsonb'),
    workflow: p.json<BillingWorkflowSettings>().columnType('jsonb'),
    apps: p.json<AppReferences>().columnType('jsonb'),
    isDefault: p.boolean(),
    ...timestamps(),
    ...softDelete(),
  },
});

export const CustomerBillingOverride = defineEntity({
  name: 'CustomerBillingOverride',
  tableName: 'customer_billing_overrides',
  properties: {
    /** the customer's id (the customers domain owns customers: no foreign key) */
    customerId: p.string().primary().columnType('text'),
    /** null: the default profile */
    profileId: p.string().columnType('text').nullable(),
    workflow: p.json<WorkflowOverrides>().columnType('jsonb').nullable(),
    ...timestamps(),
  },
});

export type BillingProfileRow = InferEntity<typeof BillingProfileEntity>;
export type CustomerBillingOverrideRow = InferEntity<typeof CustomerBillingOverride>;
