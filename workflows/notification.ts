/**
 * One workflow per notification delivery (event × channel) and resend generation:
 * `notification-delivery-<delivery id>-<generation>`, started by the dispatcher after the commit that
 * recorded the event (src/notifications/dispatch.ts). It decides WHEN: attempt now; after a failed attempt,
 * sleep the backoff the activity returned (30 s doubling, at most 6 h apart: src/notifications/backoff.ts),
 * and try again, for up to three days. The activity does the I/O (signed POST, the recorded outcome) and
 * says `stop` when the channel was disabled or deleted, the URL is refused, or a resend superseded this
 * run. Deterministic and small: ~20 attempts at most, no continue-as-new needed.
 */
import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { NotificationActivities } from '../activities/contract';
import type { DeliveryWorkflowInput } from '../src/notifications/types';

const { attemptNotificationDelivery } = proxyActivities<NotificationActivities>({
  // a POST takes at most 10 s; the rest is the database
  startToCloseTimeout: '1 minute',
  // an attempt that failed in Tally (database down), not at the receiver: retried at once, then backing off
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 20 },
});

export async function notificationDeliveryWorkflow(
  input: DeliveryWorkflowInput,
): Promise<'success' | 'stop'> {
  const startedAt = new Date(workflowInfo().startTime).toISOString();
  for (let attempt = 1; ; attempt++) {
    const r = await attemptNotificationDelivery({
      ...input,
      attempt,
      startedAt,
      at: new Date(Date.now()).toISOString(),
    });
    if (r.result !== 'retry' || r.retryInMs === undefined) return r.result === 'success' ? 'success' : 'stop';
    await sleep(r.retryInMs);
  }
}
