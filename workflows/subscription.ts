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
 * Invoices never block the subscription: an invoice try runs beside the loop (one at a time), so
 * requests are answered and scheduled transitions happen while it runs or keeps failing. A try is
 * bounded (the first: a few quick local attempts; later ones: a few remote attempts, whose retries cost
 * no history and show their last failure on the pending activity); a failed try backs off on a durable
 * timer (machine.invoiceFailed: 1 min doubling to 15 min) and is shown to operators: the row's
 * `invoice_failure` (GET /subscriptions/{id}), the `TallyInvoiceFailing` search attribute (the invoice
 * key) and a warning in the workflow log.
 *
 * Versioning policy. Tally has not been released: this file is the baseline (the pre-release patches
 * `decision-fixes-1`, `row-writes-as-local-activities`, `local-invoices-multi-cycle-runs` and
 * `deferred-plain-rollover` are folded in, their old branches and histories dropped). From the first
 * release on, every change to the commands this workflow issues (activities, timers, markers, search
 * attributes, continue-as-new), or to the machine's decisions for states already reached, goes behind
 * `patched('<change-id>')` with the old branch kept until no running history needs it (then
 * `deprecatePatch`), and gets a recorded history: test/fixtures/histories/ holds one per scenario, replayed
 * by test/integration/subscription-replay.test.ts (re-record with RECORD_HISTORIES=1; keep the old files
 * of released versions).
 *
 * Activities never call back into the workflow; hand-over keys are deterministic (`<subscription>:<period
 * start>`), so a retried or replayed `handOverInvoice` finds the pending line it already wrote. At each
 * period end the closed period is handed over as a pending line of the customer; the customer's collection
 * workflow (workflows/collection.ts) gathers it, with the customer's other lines due then, onto one invoice
 * after the late-usage window, whose own workflow carries it (workflows/invoice.ts). The "invoice try" here
 * is the hand-over.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  makeContinueAsNewFunc,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BillingActivities, SubscriptionActivities } from '../activities/contract';
import {
  applyRequest,
  describeState,
  editPhaseEndIssue,
  failingInvoice,
  invoiceFailed,
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
  editUpdate,
  getStateQuery,
  migrateUpdate,
  REJECTION_TYPES,
  unscheduleCancelationUpdate,
  unscheduleEditUpdate,
  type CancelArgs,
  type ChangeArgs,
} from './definitions';
import { nextBillingAt, operatorDetails } from '../src/subscriptions/operator-details';
import {
  SA_BILLING_PROFILE,
  SA_CUSTOMER_KEY,
  SA_INVOICE_FAILING,
  SA_NEXT_BILLING_AT,
  SA_PLAN_KEY,
  SA_PLAN_VERSION,
  SA_STATUS,
} from '../src/temporal/search-attributes';

const rowWriteOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;
/**
 * The row writes as local activities (one idempotent UPDATE each): no activity task round trip through
 * the server and fewer history events per billing cycle (BENCHMARKS.md, billing-run).
 */
const rowWrites = proxyLocalActivities<SubscriptionActivities>(rowWriteOptions);
/**
 * An invoice's first try: one local attempt (idempotent by invoice key: no activity task round trip, one
 * marker instead of three events and a workflow task). One and short, because a local activity holds
 * the workflow task open — a cancel or change arriving meanwhile waits for it — and a failing one grows
 * the history: a hand-over that takes longer than 3 s (a slow query, a lock or connection wait) goes on
 * as a remote activity, which holds nothing. Not longer: a cancel arriving while an invoice hangs must
 * answer within seconds (hardening 1.w2). On a billing day hundreds of 3 s tries fail under load and
 * wait for their remote retry (BENCHMARKS.md, billing-day): a cost to remove by design, not by timeout.
 */
const localBilling = proxyLocalActivities<BillingActivities>({
  startToCloseTimeout: '3s',
  retry: { maximumAttempts: 1 },
});
/**
 * Later tries: remote attempts (their retries cost no history; the pending activity shows the last
 * failure in the Temporal UI), bounded: then the try fails and backs off on a timer.
 */
const remoteBilling = proxyActivities<BillingActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumAttempts: 3 },
});
/**
 * About 8–14 plain billing cycles (7–12 events each). Kept small on purpose: a subscription that is not
 * in the worker's sticky cache is replayed from its run's history when its timer fires, so a longer run
 * makes every replay dearer (BENCHMARKS.md, billing-run). A run continues as new once past it.
 */
export const HISTORY_LIMIT = 100;

const reject = (r: Rejection) =>
  ApplicationFailure.create({ type: REJECTION_TYPES[r.type], message: r.message, nonRetryable: true });

/** The message operators should see for a failed try (the activity's own error, not its wrapper). */
const errorMessage = (err: unknown): string =>
  err instanceof ActivityFailure && err.cause
    ? err.cause.message
    : err instanceof Error
      ? err.message
      : String(err);

export async function subscriptionWorkflow(state: SubscriptionState): Promise<SubscriptionView> {
  const inbox: { id: number; req: ChangeRequest }[] = [];
  const outcomes = new Map<number, Rejection | null>();
  let nextId = 0;

  setHandler(getStateQuery, () => describeState(state));
  const handle = (kind: ChangeRequest['kind']) => ({
    validator: (args?: CancelArgs | ChangeArgs) => {
      const req = { kind, timing: 'immediate', ...args };
      // validators do not run on replay (a rejected Update leaves no history): a new check here changes
      // no recorded decision
      const r = validateRequest(state, req, Date.now()) ?? editPhaseEndIssue(state, req, Date.now());
      if (r) throw reject(r);
    },
    handler: async (args?: CancelArgs | ChangeArgs) => {
      const id = ++nextId;
      inbox.push({ id, req: { kind, timing: 'immediate', ...args } });
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
    [editUpdate, 'edit'],
  ] as const) {
    const h = handle(kind);
    setHandler(def, h.handler, { validator: h.validator });
  }
  const unschedule = handle('unschedule');
  setHandler(unscheduleCancelationUpdate, () => unschedule.handler(), {
    validator: () => unschedule.validator(),
  });
  const unscheduleEdit = handle('unschedule_edit');
  setHandler(unscheduleEditUpdate, () => unscheduleEdit.handler(), {
    validator: () => unscheduleEdit.validator(),
  });

  // what operators see in the Temporal UI: the search attributes as they stand (carried over runs) and the
  // current details (a query answer, not a command: no history)
  const started = workflowInfo().typedSearchAttributes;
  const customerKey = started.get(SA_CUSTOMER_KEY);
  let shownNext = started.get(SA_NEXT_BILLING_AT)?.toISOString() ?? null;
  let shownProfile = started.get(SA_BILLING_PROFILE);
  /** TallyNextBillingAt and TallyBillingProfileId, upserted when they change (`profileId`: as just read) */
  const showOperatorAttributes = (profileId: string | undefined) => {
    if (!patched('operator-search-attributes')) return;
    const next = nextBillingAt(state);
    const updates: Parameters<typeof upsertSearchAttributes>[0] = [];
    if (next !== shownNext) {
      shownNext = next;
      updates.push({ key: SA_NEXT_BILLING_AT, value: next === null ? null : new Date(next) });
    }
    if (profileId !== undefined && profileId !== shownProfile) {
      shownProfile = profileId;
      updates.push({ key: SA_BILLING_PROFILE, value: profileId });
    }
    if (updates.length) upsertSearchAttributes(updates);
  };
  const showDetails = () => setCurrentDetails(operatorDetails(state, customerKey));

  let searchPlan = `${state.plan.key}:${state.plan.version}`;
  const record = async () => {
    if (state.status === 'canceled') {
      await rowWrites.markSubscriptionCanceled({
        subscriptionId: state.subscriptionId,
        activeTo: state.activeTo!,
      });
      upsertSearchAttributes([{ key: SA_STATUS, value: 'canceled' }]);
      showOperatorAttributes(undefined);
      return;
    }
    const recorded = await rowWrites.recordSubscriptionPeriod({
      subscriptionId: state.subscriptionId,
      status: state.status,
      plan: { id: state.plan.id, key: state.plan.key, version: state.plan.version },
      planSince: state.planSince ?? state.activeFrom,
      phaseKey: phaseOf(state).key,
      phaseStartedAt: state.phaseStartedAt,
      periodStart: state.period!.from,
      periodEnd: state.period!.to,
      nextPeriodEnd: plainNextPeriod(state)?.to ?? null,
      pendingChange: describeState(state).pendingChange ?? null,
    });
    if (searchPlan !== `${state.plan.key}:${state.plan.version}`) {
      searchPlan = `${state.plan.key}:${state.plan.version}`;
      upsertSearchAttributes([
        { key: SA_PLAN_KEY, value: state.plan.key },
        { key: SA_PLAN_VERSION, value: state.plan.version },
      ]);
    }
    // histories from before this activity returned anything replay `undefined`
    showOperatorAttributes(recorded?.billingProfileId);
  };

  // the invoice try in flight (at most one) and its outcome, which the loop applies
  let invoicing: string | undefined;
  let settled: { invoiceKey: string; error?: string } | undefined;
  /** what the row and the search attribute show now (the key of the failing invoice, or none) */
  let shownFailure = failingInvoice(state)?.invoiceKey;
  const tryInvoice = (inv: PendingInvoice) => {
    invoicing = inv.invoiceKey;
    const input = {
      invoiceKey: inv.invoiceKey,
      subscriptionId: state.subscriptionId,
      customerId: state.customerId,
      subscriptionStart: state.activeFrom,
      ...(inv.arrears ? { arrears: inv.arrears } : {}),
      ...(inv.advance ? { advance: inv.advance } : {}),
      // the workflow's now: the draft's dates (and its workflow's timers) count from it
      at: new Date(Date.now()).toISOString(),
    };
    const billing = inv.failure ? remoteBilling : localBilling;
    billing.handOverInvoice(input).then(
      (ref) => {
        log.info('period handed over', {
          invoiceKey: inv.invoiceKey,
          created: ref.created,
          collectAt: ref.collectAt,
        });
        settled = { invoiceKey: inv.invoiceKey };
      },
      (err: unknown) => {
        settled = { invoiceKey: inv.invoiceKey, error: errorMessage(err) };
      },
    );
  };
  /** applies the finished try; shows or clears the failure (row, search attribute, log) */
  const applySettled = async () => {
    const s = settled!;
    settled = undefined;
    invoicing = undefined;
    if (s.error === undefined) invoiceIssued(state, s.invoiceKey);
    else {
      const f = invoiceFailed(state, s.invoiceKey, s.error, Date.now());
      log.warn('invoice try failed; retrying later', { invoiceKey: s.invoiceKey, ...f });
    }
    const failing = failingInvoice(state);
    if (failing || shownFailure !== undefined) {
      await rowWrites.recordInvoiceFailure({
        subscriptionId: state.subscriptionId,
        failure: failing ?? null,
      });
    }
    if (failing?.invoiceKey !== shownFailure) {
      shownFailure = failing?.invoiceKey;
      upsertSearchAttributes([{ key: SA_INVOICE_FAILING, value: shownFailure ?? null }]);
    }
  };

  for (;;) {
    // 0. the invoice try that ended
    if (settled) await applySettled();
    // 1. everything due by now, earliest first (an invoice try starts and runs beside the loop)
    for (let s = step(state, Date.now(), !!invoicing); s; s = step(state, Date.now(), !!invoicing)) {
      if (s.type === 'invoice') tryInvoice(s.invoice);
      else await record();
      if (s.type === 'activated') upsertSearchAttributes([{ key: SA_STATUS, value: 'active' }]);
    }
    // 2. accepted requests
    if (inbox.length) {
      const batch = inbox.splice(0);
      const results = batch.map(({ req }) => applyRequest(state, req, Date.now()));
      if (results.some((r) => !r)) await record();
      batch.forEach(({ id }, i) => outcomes.set(id, results[i] ?? null));
      continue;
    }
    if (settled) continue;
    if (state.status === 'canceled' && state.pendingInvoices.length === 0 && !invoicing) break;
    // 3. bounded history: start afresh once the run is long enough (or when the server suggests it),
    //    between invoice tries
    const info = workflowInfo();
    if (!invoicing && (info.historyLength >= HISTORY_LIMIT || info.continueAsNewSuggested)) {
      await condition(() => allHandlersFinished() || inbox.length > 0);
      if (inbox.length) continue;
      const next = makeContinueAsNewFunc<typeof subscriptionWorkflow>({
        memo: info.memo,
        typedSearchAttributes: workflowInfo().typedSearchAttributes,
      });
      return await next(state);
    }
    // 4. sleep until the next due instant, a request, or the end of the invoice try
    showDetails();
    const wake = nextWakeAt(state, !!invoicing);
    const woken = () => inbox.length > 0 || settled !== undefined;
    if (wake === undefined) await condition(woken);
    else await condition(woken, Math.max(wake - Date.now(), 1));
  }
  showDetails();
  await condition(allHandlersFinished);
  return describeState(state);
}
