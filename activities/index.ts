import type { AppDeps } from '../src/deps';
import { createBillingActivities } from './billing';
import { createSubscriptionActivities } from './subscriptions';

/** All activities, built from the app's dependencies (createActivities(deps) factory). */
export function createActivities(deps: AppDeps) {
  return {
    ...createSubscriptionActivities(deps),
    ...createBillingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
