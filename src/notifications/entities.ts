/**
 * Notification channels (`notification_channels`) and rules (`notification_rules`), mapped for their CRUD;
 * events, deliveries and threshold marks are written with raw SQL by the outbox and the delivery activity.
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { softDelete, timestamps } from '../db/columns';
import type { ThresholdValue } from './types';

export const NotificationChannelEntity = defineEntity({
  name: 'NotificationChannel',
  tableName: 'notification_channels',
  properties: {
    id: p.string().primary().columnType('text'),
    type: p.string().columnType('text'),
    name: p.string().columnType('text'),
    url: p.string().columnType('text'),
    /** `whsec_` + base64: write-only (never returned, never logged) */
    signingSecret: p.string().columnType('text'),
    customHeaders: p.json<Record<string, string>>().columnType('jsonb'),
    disabled: p.boolean(),
    metadata: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export const NotificationRuleEntity = defineEntity({
  name: 'NotificationRule',
  tableName: 'notification_rules',
  properties: {
    id: p.string().primary().columnType('text'),
    type: p.string().columnType('text'),
    name: p.string().columnType('text'),
    disabled: p.boolean(),
    channelIds: p.array().columnType('text[]'),
    featureKeys: p.array().columnType('text[]').nullable(),
    thresholds: p.json<ThresholdValue[]>().columnType('jsonb').nullable(),
    metadata: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export type ChannelRow = InferEntity<typeof NotificationChannelEntity>;
export type RuleRow = InferEntity<typeof NotificationRuleEntity>;
