/** API views of notification channels, rules and events (OpenMeter's shapes, snake_case as the v3 API). */
import { instant, optionalInstant } from '../lib/time';
import type { ChannelRow, RuleRow } from './entities';
import type { DeliveryState, ThresholdValue } from './types';

export interface ChannelView {
  id: string;
  type: 'webhook';
  name: string;
  url: string;
  custom_headers: Record<string, string>;
  disabled: boolean;
  metadata?: Record<string, string>;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
  /** only in the answer that created or replaced the secret: write-only afterwards */
  signing_secret?: string;
}

export function channelView(c: ChannelRow, withSecret = false): ChannelView {
  const deleted_at = optionalInstant(c.deletedAt);
  return {
    id: c.id,
    type: 'webhook',
    name: c.name,
    url: c.url,
    custom_headers: c.customHeaders,
    disabled: c.disabled,
    ...(c.metadata ? { metadata: c.metadata } : {}),
    created_at: instant(c.createdAt),
    updated_at: instant(c.updatedAt),
    ...(deleted_at ? { deleted_at } : {}),
    ...(withSecret ? { signing_secret: c.signingSecret } : {}),
  };
}

export interface ChannelMeta {
  id: string;
  type: 'webhook';
  name: string;
}

export interface RuleView {
  id: string;
  type: string;
  name: string;
  disabled: boolean;
  channels: ChannelMeta[];
  features?: string[];
  thresholds?: ThresholdValue[];
  metadata?: Record<string, string>;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
}

export function ruleView(r: RuleRow, channels: Map<string, ChannelMeta>): RuleView {
  const deleted_at = optionalInstant(r.deletedAt);
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    disabled: r.disabled,
    channels: r.channelIds.map((id) => channels.get(id) ?? { id, type: 'webhook', name: '' }),
    ...(r.featureKeys ? { features: r.featureKeys } : {}),
    ...(r.thresholds ? { thresholds: r.thresholds } : {}),
    ...(r.metadata ? { metadata: r.metadata } : {}),
    created_at: instant(r.createdAt),
    updated_at: instant(r.updatedAt),
    ...(deleted_at ? { deleted_at } : {}),
  };
}

export interface AttemptView {
  state: 'success' | 'failed';
  timestamp: string;
  response: { status_code?: number; duration_ms: number; error?: string };
}

export interface DeliveryStatusView {
  channel: ChannelMeta;
  state: DeliveryState;
  reason?: string;
  /** how many attempts were made (all generations) */
  attempt_count: number;
  /** the newest attempts, oldest first */
  attempts: AttemptView[];
  last_response?: { status_code?: number; body: string };
  next_attempt?: string;
  updated_at: string;
}

export interface EventView {
  id: string;
  type: string;
  created_at: string;
  rule: { id: string; name: string; type: string };
  delivery_status: DeliveryStatusView[];
  /** what every webhook of this event carries: `{ id, type, timestamp, data }` */
  payload: unknown;
}

export interface DeliveryRowView {
  event_id: string;
  channel_id: string;
  channel_name: string;
  state: DeliveryState;
  reason: string | null;
  attempts: number;
  attempt_log: {
    state: 'success' | 'failed';
    timestamp: string;
    status_code: number | null;
    duration_ms: number;
    error?: string;
  }[];
  last_status_code: number | null;
  last_response: string | null;
  next_attempt_at: Date | string | null;
  updated_at: Date | string;
}

export function deliveryView(d: DeliveryRowView): DeliveryStatusView {
  const next = optionalInstant(d.next_attempt_at);
  return {
    channel: { id: d.channel_id, type: 'webhook', name: d.channel_name },
    state: d.state,
    ...(d.reason ? { reason: d.reason } : {}),
    attempt_count: d.attempts,
    attempts: d.attempt_log.map((a) => ({
      state: a.state,
      timestamp: instant(a.timestamp),
      response: {
        ...(a.status_code !== null ? { status_code: a.status_code } : {}),
        duration_ms: a.duration_ms,
        ...(a.error ? { error: a.error } : {}),
      },
    })),
    ...(d.attempts > 0
      ? {
          last_response: {
            ...(d.last_status_code !== null ? { status_code: d.last_status_code } : {}),
            body: d.last_response ?? '',
          },
        }
      : {}),
    ...(next ? { next_attempt: next } : {}),
    updated_at: instant(d.updated_at),
  };
}
