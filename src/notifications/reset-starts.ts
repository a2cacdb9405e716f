/**
 * Starting (or waking) a subscription's entitlement-resets workflow (workflows/entitlement-resets.ts) with
 * signal-with-start: idempotent, so the subscriptions domain calls it whenever what is in force may have
 * changed (created; plan, phase or status written). A leaf of the notifications domain (no ORM).
 */
import type { Client } from '@temporalio/client';
import {
  entitlementResetsWorkflowId,
  recheckResetsSignal,
  type EntitlementResetsWorkflow,
} from '../../workflows/definitions';

export async function kickEntitlementResets(
  client: Client,
  taskQueue: string,
  input: { subscriptionId: string; customerId: string },
): Promise<void> {
  await client.workflow.signalWithStart<EntitlementResetsWorkflow, []>('entitlementResetsWorkflow', {
    taskQueue,
    workflowId: entitlementResetsWorkflowId(input.subscriptionId),
    args: [input],
    signal: recheckResetsSignal,
    signalArgs: [],
  });
}
