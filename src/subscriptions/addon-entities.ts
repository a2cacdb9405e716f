/** Tables `subscription_addons` and `subscription_addon_quantities` (the service reads and writes them with SQL). */
import { defineEntity, p } from '@mikro-orm/core';
import type { AddonApplication } from './addon-changes';

export const SubscriptionAddonEntity = defineEntity({
  name: 'SubscriptionAddon',
  tableName: 'subscription_addons',
  properties: {
    id: p.string().primary().columnType('text'),
    subscriptionId: p.string().columnType('text'),
    addonId: p.string().columnType('text'),
    planAddonId: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    application: p.json<AddonApplication>().columnType('jsonb'),
    createdAt: p.datetime().columnType('timestamptz'),
    updatedAt: p.datetime().columnType('timestamptz'),
  },
});

export const SubscriptionAddonQuantityEntity = defineEntity({
  name: 'SubscriptionAddonQuantity',
  tableName: 'subscription_addon_quantities',
  properties: {
    subscriptionAddonId: p.string().primary().columnType('text'),
    activeFrom: p.datetime().primary().columnType('timestamptz'),
    quantity: p.integer(),
    planVersionId: p.string().columnType('text'),
    createdAt: p.datetime().columnType('timestamptz'),
  },
});
