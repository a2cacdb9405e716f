import type { AppDeps } from '../src/deps';
import { createBillingActivities, type BillingActivityOptions } from './billing';
import { createNotificationActivities } from './notifications';
import { createSubscriptionActivities } from './subscriptions';

/** All activities, built from the app's dependencies (createActivities(deps) factory). */
export function createActivities(deps: AppDeps, billing: BillingActivityOptions = {}) {
  return {
    ...createSubscriptionActivities(deps),
    ...createBillingActivities(deps, billing),
    ...createNotificationActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
