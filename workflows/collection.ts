/**
 * One workflow per customer (`collection-<customerId>`): it decides WHEN the customer's pending lines are
 * gathered onto invoices (OpenMeter's gathering invoice). Hand-overs and charges signal it (signal-with-start)
 * with the instant their line is due; it sleeps until the earliest, then one idempotent activity gathers
 * everything due by then per currency onto one draft each and starts their `invoice-<id>` workflows.
 * The activity answers when the next pending line is due (the database has the last word), so a signal
 * lost to a crash between a line's insert and its signal is found at the next collection.
 * The gathering is first ONE local attempt (no activity task through the server and one workflow task less
 * per collection: on a billing day every customer collects at once, BENCHMARKS.md, billing-day); if it
 * fails, remote attempts follow, retried by Temporal (backing off to 10 min; the pending activity shows the
 * last failure in the Temporal UI). The activity is idempotent, so a local attempt that failed after its
 * commit is harmless. With nothing left, the workflow ends; the next hand-over starts it again. History is
 * bounded by continue-as-new.
 */
import {
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CollectionActivities } from '../activities/contract';
import { collectSignal, type CollectionWorkflowInput } from './definitions';

const remote = proxyActivities<CollectionActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '10m' },
});
const local = proxyLocalActivities<CollectionActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 1 },
});

/** one local attempt, then the remote attempts */
async function gatherPendingLines(input: Parameters<CollectionActivities['gatherPendingLines']>[0]) {
  try {
    return await local.gatherPendingLines(input);
  } catch {
    return remote.gatherPendingLines(input);
  }
}

/** Continue as new past this many history events (a few dozen collections). */
export const COLLECTION_HISTORY_LIMIT = 200;

const ms = (s: string) => new Date(s).getTime();

export async function collectionWorkflow(input: CollectionWorkflowInput): Promise<void> {
  const due = new Set<number>(input.due.map(ms));
  setHandler(collectSignal, ({ at }) => {
    due.add(ms(at));
  });
  const earliest = () => (due.size ? Math.min(...due) : undefined);
  for (;;) {
    const next = earliest();
    if (next === undefined) return;
    const now = Date.now();
    if (next > now) {
      // wake at the earliest instant, or earlier when a signal brings an earlier one
      await condition(() => (earliest() ?? Infinity) < next, next - now);
      continue;
    }
    const at = new Date(Date.now()).toISOString();
    const res = await gatherPendingLines({ customerId: input.customerId, at });
    for (const t of [...due]) if (t <= ms(at)) due.delete(t);
    if (res.nextCollectAt) due.add(ms(res.nextCollectAt));
    const info = workflowInfo();
    if (info.historyLength >= COLLECTION_HISTORY_LIMIT || info.continueAsNewSuggested) {
      await continueAsNew<typeof collectionWorkflow>({
        customerId: input.customerId,
        due: [...due].map((t) => new Date(t).toISOString()),
      });
    }
  }
}
