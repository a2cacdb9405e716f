import type { AppDeps } from '../src/deps';

/** All activities, built from the app's dependencies (createActivities(deps) factory). */
export function createActivities(_deps: AppDeps) {
  return {};
}
