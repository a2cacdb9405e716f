/**
 * Notification activities: one signed webhook attempt per call (src/notifications/delivery.ts), its outcome
 * recorded on the delivery row; the usage-period resets of a subscription (src/notifications/resets.ts).
 */
import type { AppDeps } from '../src/deps';
import { attemptDelivery } from '../src/notifications/delivery';
import { recordEntitlementResets } from '../src/notifications/resets';
import { parseAllowList } from '../src/notifications/ssrf';
import type { NotificationActivities } from './contract';

export type { NotificationActivities };

export function createNotificationActivities(deps: Pick<AppDeps, 'orm' | 'config'>): NotificationActivities {
  const allow = parseAllowList(deps.config.TALLY_WEBHOOK_ALLOWED_HOSTS);
  return {
    attemptNotificationDelivery: (input) => attemptDelivery(deps.orm.em.fork(), input, allow),
    recordEntitlementResets: (input) => recordEntitlementResets(deps.orm.em.fork(), input),
  };
}
