/**
 * One workflow per subscription with metered entitlements: `entitlement-resets-<subscription id>`, for the
 * `entitlements.reset` notifications. It decides WHEN: look at what is in force now (the activity records a
 * reset for every metered entitlement whose usage period rolled over, once per entitlement and period), then
 * sleep until the next usage period of one of them rolls over, or until the subscription's plan, phase or
 * status changed (`recheckResets`, sent with signal-with-start by the subscription's activities). It ends
 * when nothing metered is in force (canceled, or a plan without metered entitlements): a later change starts
 * it again. Started by src/notifications/reset-starts.ts; bounded history (continue-as-new).
 */
import { condition, continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import type { NotificationActivities } from '../activities/contract';
import { recheckResetsSignal, type EntitlementResetsInput } from './definitions';

const { recordEntitlementResets } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '1 minute',
  // a failure inside Tally (database down): retried, backing off (the marks make a retry record nothing twice)
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/** looks per run before continuing as new (each look: about 6 history events) */
const LOOKS_PER_RUN = 50;

export async function entitlementResetsWorkflow(input: EntitlementResetsInput): Promise<void> {
  let recheck = false;
  setHandler(recheckResetsSignal, () => {
    recheck = true;
  });
  for (let look = 0; look < LOOKS_PER_RUN; look++) {
    recheck = false;
    const { nextResetAt } = await recordEntitlementResets({
      ...input,
      at: new Date(Date.now()).toISOString(),
    });
    if (nextResetAt === null) {
      if (recheck) continue;
      return;
    }
    await condition(() => recheck, Math.max(Date.parse(nextResetAt) - Date.now(), 1));
  }
  await continueAsNew<typeof entitlementResetsWorkflow>(input);
}
