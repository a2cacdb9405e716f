/**
 * Notification activities: one signed webhook attempt per call (src/notifications/delivery.ts), its outcome
 * recorded on the delivery row.
 */
import type { AppDeps } from '../src/deps';
import { attemptDelivery } from '../src/notifications/delivery';
import { parseAllowList } from '../src/notifications/ssrf';
import type { NotificationActivities } from './contract';

export type { NotificationActivities };

export function createNotificationActivities(deps: Pick<AppDeps, 'orm' | 'config'>): NotificationActivities {
  const allow = parseAllowList(deps.config.TALLY_WEBHOOK_ALLOWED_HOSTS);
  return {
    attemptNotificationDelivery: (input) => attemptDelivery(deps.orm.em.fork(), input, allow),
  };
}
