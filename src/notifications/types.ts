/**
 * Notification shapes shared by the service, the activities and the delivery workflow. Pure declarations
 * and constants, a leaf (workflow-safe: no I/O, no imports).
 */

export const EVENT_TYPES = [
  'invoice.created',
  'invoice.updated',
  'subscription.created',
  'subscription.changed',
  'subscription.canceled',
  'entitlements.balance.threshold',
  'entitlements.reset',
] as const;
export type NotificationEventType = (typeof EVENT_TYPES)[number];

/** A balance threshold: `percent` of the entitlement's limit (`usage_limit`), or an absolute usage `number`. */
export interface ThresholdValue {
  type: 'percent' | 'number';
  /** a decimal string */
  value: string;
}

/** Delivery states, as OpenMeter's (lower-case). */
export type DeliveryState = 'pending' | 'sending' | 'success' | 'failed' | 'resending';

/** One delivery attempt, as the workflow asks for it. */
export interface DeliveryAttemptInput {
  deliveryId: string;
  generation: number;
  /** 1-based, counted by the workflow */
  attempt: number;
  /** ISO instant of the workflow's first attempt (the three-day window starts there) */
  startedAt: string;
  /** the workflow's "now" (ISO): what the window and `next_attempt_at` count in */
  at?: string;
}

/**
 * What one attempt came to: `success` (2xx), `retry` after `retryInMs`, or `stop` (no more attempts: the
 * channel was disabled or deleted, the URL is refused, three days have passed, or a resend superseded it).
 */
export interface AttemptResult {
  result: 'success' | 'retry' | 'stop';
  retryInMs?: number;
}

/** The delivery workflow's input: one event × channel, at one resend generation. */
export interface DeliveryWorkflowInput {
  deliveryId: string;
  generation: number;
}

/** What one look at a subscription's metered entitlements found (the resets workflow's activity). */
export interface EntitlementResetsResult {
  /** how many resets were recorded now (new marks) */
  recorded: number;
  /** ISO instant at which the next usage period of one of them rolls over; null when none is in force */
  nextResetAt: string | null;
}
