/**
 * Catalog tables: `features` and `plans` (one row per plan version; phases and rate cards live in the
 * `phases` jsonb column in their API shape). The service reads and writes them with SQL; these entity
 * definitions describe the tables for MikroORM.
 */
import { defineEntity, p } from '@mikro-orm/core';
import type { ItemOrigins } from './derive';
import type { AddonInstanceType, FeatureMeterFilter, PlanPhase, PlanStatus, RateCard } from './types';
import { softDelete, timestamps } from '../db/columns';

export const FeatureEntity = defineEntity({
  name: 'Feature',
  tableName: 'features',
  properties: {
    id: p.string().primary().columnType('text'),
    key: p.string().columnType('text'),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    meterId: p.string().columnType('text').nullable(),
    meterFilters: p.json<Record<string, FeatureMeterFilter>>().columnType('jsonb').nullable(),
    unitCost: p.json<unknown>().columnType('jsonb').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export const PlanEntity = defineEntity({
  name: 'Plan',
  tableName: 'plans',
  properties: {
    id: p.string().primary().columnType('text'),
    key: p.string().columnType('text'),
    version: p.integer(),
    status: p.string().columnType('text').$type<PlanStatus>(),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    currency: p.string().columnType('char(3)'),
    billingCadence: p.string().columnType('text'),
    proRatingEnabled: p.boolean(),
    phases: p.json<PlanPhase[]>().columnType('jsonb'),
    effectiveFrom: p.datetime().columnType('timestamptz').nullable(),
    effectiveTo: p.datetime().columnType('timestamptz').nullable(),
    /** a subscription's own version (status `custom`): its subscription, its catalog base, item origins */
    ownerSubscriptionId: p.string().columnType('text').nullable(),
    basePlanId: p.string().columnType('text').nullable(),
    origins: p.json<ItemOrigins>().columnType('jsonb').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export const AddonEntity = defineEntity({
  name: 'Addon',
  tableName: 'addons',
  properties: {
    id: p.string().primary().columnType('text'),
    key: p.string().columnType('text'),
    version: p.integer(),
    status: p.string().columnType('text').$type<PlanStatus>(),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    instanceType: p.string().columnType('text').$type<AddonInstanceType>(),
    currency: p.string().columnType('char(3)'),
    rateCards: p.json<RateCard[]>().columnType('jsonb'),
    effectiveFrom: p.datetime().columnType('timestamptz').nullable(),
    effectiveTo: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export const PlanAddonEntity = defineEntity({
  name: 'PlanAddon',
  tableName: 'plan_addons',
  properties: {
    id: p.string().primary().columnType('text'),
    planId: p.string().columnType('text'),
    addonId: p.string().columnType('text'),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    fromPlanPhase: p.string().columnType('text'),
    maxQuantity: p.integer().nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});
