/**
 * Table `subscriptions`: the read model of each subscription workflow. The API inserts the row and starts
 * the workflow; afterwards only the workflow's activities change it (period, phase, plan, status).
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../db/columns';
import type { InvoiceFailureRecord, PendingChangeRecord } from './records';

export type { InvoiceFailureRecord, PendingChangeRecord };

export const Subscription = defineEntity({
  name: 'Subscription',
  tableName: 'subscriptions',
  properties: {
    id: p.string().primary().columnType('text'),
    customerId: p.string().columnType('text'),
    customerKey: p.string().columnType('text'),
    planId: p.string().columnType('text'),
    planKey: p.string().columnType('text'),
    planVersion: p.integer(),
    status: p.string().columnType('text').$type<'scheduled' | 'active' | 'canceled'>(),
    billingAnchor: p.datetime().columnType('timestamptz'),
    activeFrom: p.datetime().columnType('timestamptz'),
    activeTo: p.datetime().columnType('timestamptz').nullable(),
    planSince: p.datetime().columnType('timestamptz').nullable(),
    phaseKey: p.string().columnType('text'),
    phaseStartedAt: p.datetime().columnType('timestamptz'),
    currentPeriodStart: p.datetime().columnType('timestamptz').nullable(),
    currentPeriodEnd: p.datetime().columnType('timestamptz').nullable(),
    nextPeriodEnd: p.datetime().columnType('timestamptz').nullable(),
    pendingChange: p.json<PendingChangeRecord>().columnType('jsonb').nullable(),
    invoiceFailure: p.json<InvoiceFailureRecord>().columnType('jsonb').nullable(),
    workflowId: p.string().columnType('text'),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    settlementMode: p.string().columnType('text').nullable(),
    costBasisMode: p.string().columnType('text').nullable(),
    ...timestamps(),
  },
});

export type SubscriptionEntity = InferEntity<typeof Subscription>;

/**
 * Table `subscription_plan_segments`: which plan version was in force from when (`since`), with the phase in
 * force at that instant and its start; the timeline of `phases[]` (views.ts). Read and written with SQL.
 */
export const SubscriptionPlanSegment = defineEntity({
  name: 'SubscriptionPlanSegment',
  tableName: 'subscription_plan_segments',
  properties: {
    subscriptionId: p.string().primary().columnType('text'),
    since: p.datetime().primary().columnType('timestamptz'),
    planId: p.string().columnType('text'),
    phaseKey: p.string().columnType('text'),
    phaseStartedAt: p.datetime().columnType('timestamptz'),
    createdAt: p.datetime().columnType('timestamptz'),
  },
});
