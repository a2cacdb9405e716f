/**
 * One durable workflow per subscription (`subscription-<id>`). It decides WHEN things happen — period ends,
 * phase switches, scheduled changes, invoice due dates — and leaves the I/O to activities. The state
 * machine itself is pure (src/subscriptions/machine.ts); this file only sequences it.
 *
 * Requests (cancel/change/migrate) arrive as Updates whose validators answer the caller at once; accepted
 * requests go through an inbox that the main loop drains, so only the loop mutates the state.
 * Once its history passes HISTORY_LIMIT events, after an issued invoice, the workflow continues as new,
 * carrying its state, so history stays bounded.
 *
 * Versioning: running subscriptions replay their histories against this code (see
 * test/integration/subscription-replay.test.ts). Any change to the commands this workflow issues, or to
 * the machine's decisions for states already reached, goes behind `patched('<change-id>')` (old branch
 * kept until no history needs it, then `deprecatePatch`). Recorded histories live in
 * test/fixtures/histories/.
 *
 * Activities never call back into the workflow; invoice keys are deterministic (`<subscription>:<period
 * start>`), so a retried or replayed `issueInvoice` finds the invoice it already wrote.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  makeContinueAsNewFunc,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SubscriptionActivities } from '../activities/subscriptions';
import type { BillingActivities } from '../activities/billing';
import {
  applyRequest,
  describeState,
  invoiceIssued,
  nextWakeAt,
  phaseOf,
  plainNextPeriod,
  step,
  validateRequest,
  type ChangeRequest,
  type PendingInvoice,
  type Rejection,
  type SubscriptionState,
  type SubscriptionView,
} from '../src/subscriptions/machine';
import {
  cancelUpdate,
  changeUpdate,
  getStateQuery,
  migrateUpdate,
  REJECTION_TYPES,
  type CancelArgs,
  type ChangeArgs,
} from './definitions';
import { SA_PLAN_KEY, SA_PLAN_VERSION, SA_STATUS } from '../src/temporal/search-attributes';

const rowWriteOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;
const remoteRowWrites = proxyActivities<SubscriptionActivities>(rowWriteOptions);
/**
 * The row writes as local activities (one idempotent UPDATE each): no activity task round trip through
 * the server and four fewer history events per billing cycle (BENCHMARKS.md, billing-run).
 */
const localRowWrites = proxyLocalActivities<SubscriptionActivities>(rowWriteOptions);
const ROW_WRITES_LOCAL = 'row-writes-as-local-activities';
/** late scheduled changes clamp to the current period; a migration at a phase's end moves phase too */
const DECISION_FIXES_1 = 'decision-fixes-1';
const invoiceOptions = {
  startToCloseTimeout: '2m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m' },
} as const;
const remoteBilling = proxyActivities<BillingActivities>(invoiceOptions);
/**
 * The local attempt is bounded (a few short tries, all inside one workflow task): a local activity that
 * runs long or keeps failing heartbeats the workflow task and grows the history, so after these it falls
 * back to the remote activity, whose retries cost no history.
 */
const localBilling = proxyLocalActivities<BillingActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});
/**
 * `issueInvoice` as a local activity (idempotent by invoice key, like the row writes: no activity task
 * round trip, one marker instead of three events and a workflow task), and a run that spans several
 * billing cycles: it continues as new once its history passes HISTORY_LIMIT events instead of after every
 * invoice (a new run costs a start event, a first workflow task and the patch markers).
 */
const MULTI_CYCLE_RUNS = 'local-invoices-multi-cycle-runs';
/**
 * A plain rollover (nothing changes at the period end) no longer wakes the workflow at the boundary: the
 * period closes when its invoice falls due, so one workflow task per billing cycle records the new period
 * and issues the invoice. The row carries `next_period_end` so readers see the new period meanwhile.
 */
const DEFERRED_ROLLOVER = 'deferred-plain-rollover';
/**
 * About 8–14 plain billing cycles (7–12 events each). Kept small on purpose: a subscription that is not
 * in the worker's sticky cache is replayed from its run's history when its timer fires, so a longer run
 * makes every replay dearer (BENCHMARKS.md, billing-run).
 */
export const HISTORY_LIMIT = 100;

const reject = (r: Rejection) =>
  ApplicationFailure.create({ type: REJECTION_TYPES[r.type], message: r.message, nonRetryable: true });

export async function subscriptionWorkflow(state: SubscriptionState): Promise<SubscriptionView> {
  if (patched(DECISION_FIXES_1)) state.rules = { clampLateChanges: true, phaseEndOnMigration: true };
  // histories recorded before the patch issued invoices remotely and continued as new after each one
  const multiCycle = patched(MULTI_CYCLE_RUNS);
  const issueInvoice: BillingActivities['issueInvoice'] = multiCycle
    ? async (input) => {
        try {
          return await localBilling.issueInvoice(input);
        } catch (err) {
          log.warn('issueInvoice: local attempts failed, retrying as an activity', {
            invoiceKey: input.invoiceKey,
            error: String(err),
          });
          return await remoteBilling.issueInvoice(input);
        }
      }
    : remoteBilling.issueInvoice;
  const deferRollover = patched(DEFERRED_ROLLOVER);
  const inbox: { id: number; req: ChangeRequest }[] = [];
  const outcomes = new Map<number, Rejection | null>();
  let nextId = 0;

  setHandler(getStateQuery, () => describeState(state));
  const handle = (kind: ChangeRequest['kind']) => ({
    validator: (args: CancelArgs | ChangeArgs) => {
      const r = validateRequest(state, { kind, ...args }, Date.now());
      if (r) throw reject(r);
    },
    handler: async (args: CancelArgs | ChangeArgs) => {
      const id = ++nextId;
      inbox.push({ id, req: { kind, ...args } });
      await condition(() => outcomes.has(id));
      const r = outcomes.get(id);
      outcomes.delete(id);
      if (r) throw reject(r);
      return describeState(state);
    },
  });
  for (const [def, kind] of [
    [cancelUpdate, 'cancel'],
    [changeUpdate, 'change'],
    [migrateUpdate, 'migrate'],
  ] as const) {
    const h = handle(kind);
    setHandler(def, h.handler, { validator: h.validator });
  }

  let searchPlan = `${state.plan.key}:${state.plan.version}`;
  const record = async () => {
    // histories recorded before the patch scheduled these as (remote) activities
    const { recordSubscriptionPeriod, markSubscriptionCanceled } = patched(ROW_WRITES_LOCAL)
      ? localRowWrites
      : remoteRowWrites;
    if (state.status === 'canceled') {
      await markSubscriptionCanceled({ subscriptionId: state.subscriptionId, activeTo: state.activeTo! });
      upsertSearchAttributes([{ key: SA_STATUS, value: 'canceled' }]);
      return;
    }
    await recordSubscriptionPeriod({
      subscriptionId: state.subscriptionId,
      plan: { id: state.plan.id, key: state.plan.key, version: state.plan.version },
      phaseKey: phaseOf(state).key,
      phaseStartedAt: state.phaseStartedAt,
      periodStart: state.period!.from,
      periodEnd: state.period!.to,
      ...(deferRollover ? { nextPeriodEnd: plainNextPeriod(state)?.to ?? null } : {}),
      pendingChange: describeState(state).pendingChange ?? null,
    });
    if (searchPlan !== `${state.plan.key}:${state.plan.version}`) {
      searchPlan = `${state.plan.key}:${state.plan.version}`;
      upsertSearchAttributes([
        { key: SA_PLAN_KEY, value: state.plan.key },
        { key: SA_PLAN_VERSION, value: state.plan.version },
      ]);
    }
  };
  const issue = async (inv: PendingInvoice) => {
    const ref = await issueInvoice({
      invoiceKey: inv.invoiceKey,
      subscriptionId: state.subscriptionId,
      customerId: state.customerId,
      subscriptionStart: state.activeFrom,
      ...(inv.arrears ? { arrears: inv.arrears } : {}),
      ...(inv.advance ? { advance: inv.advance } : {}),
    });
    log.info('invoice issued', {
      invoiceKey: inv.invoiceKey,
      invoiceId: ref.invoiceId,
      created: ref.created,
    });
    invoiceIssued(state, inv.invoiceKey);
  };

  let issuedThisRun = 0;
  for (;;) {
    // 1. everything due by now, earliest first
    for (let s = step(state, Date.now()); s; s = step(state, Date.now())) {
      if (s.type === 'invoice') {
        await issue(s.invoice);
        issuedThisRun++;
      } else {
        await record();
      }
    }
    // 2. accepted requests
    if (inbox.length) {
      const batch = inbox.splice(0);
      const results = batch.map(({ req }) => applyRequest(state, req, Date.now()));
      if (results.some((r) => !r)) await record();
      batch.forEach(({ id }, i) => outcomes.set(id, results[i] ?? null));
      continue;
    }
    if (state.status === 'canceled' && state.pendingInvoices.length === 0) break;
    // 3. bounded history: start afresh once an invoice went out and the run is long enough (or when the
    //    server suggests it)
    const long = !multiCycle || workflowInfo().historyLength >= HISTORY_LIMIT;
    if ((issuedThisRun > 0 && state.status === 'active' && long) || workflowInfo().continueAsNewSuggested) {
      await condition(() => allHandlersFinished() || inbox.length > 0);
      if (inbox.length) continue;
      const info = workflowInfo();
      const next = makeContinueAsNewFunc<typeof subscriptionWorkflow>({
        memo: info.memo,
        typedSearchAttributes: info.typedSearchAttributes,
      });
      return await next(state);
    }
    // 4. sleep until the next due instant, or until a request arrives
    const wake = nextWakeAt(state, deferRollover);
    if (wake === undefined) await condition(() => inbox.length > 0);
    else await condition(() => inbox.length > 0, Math.max(wake - Date.now(), 1));
  }
  await condition(allHandlersFinished);
  return describeState(state);
}
