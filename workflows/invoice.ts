/**
 * One durable workflow per invoice (`invoice-<id>`), started by the subscription's hand-over with the new
 * draft. It decides WHEN (the draft period, approval, the due date) and leaves the I/O to idempotent
 * activities; the state machine is pure (src/billing/lifecycle.ts).
 *
 * - draft: sleeps until `draft_until`; with auto advance it then issues, else it waits for `approve`
 *   (re-rating the usage lines at `draft_until`). Edits and `snapshot_quantities` re-rate/change the draft.
 * - issuing: `issueDraftInvoice` (re-rate, number, dates, frozen quantities, in one transaction).
 * - issued: `handOverToPayment` (the sandbox app: charged → paid, or sent → payment_processing), recorded in
 *   the row so that it happens once.
 * - payment_processing: sleeps until `due_at` and marks the invoice overdue if still unpaid.
 * - a step that fails after its retries leaves the invoice `failed` (row and search attribute) until `retry`.
 *
 * User actions arrive as ONE Update (`invoiceAction`) whose validator refuses, with the available actions,
 * what the state does not allow. An accepted action changes the state at once (so a concurrent action is
 * judged against it: of approve and delete, one wins), and is answered once its steps have run.
 *
 * History: an invoice's life is short (the default profile: 8 events, one workflow task; a draft approved,
 * sent, overdue and paid: ~70); only edits of a long-lived draft grow it, so a run continues as new past
 * INVOICE_HISTORY_LIMIT events, carrying its state.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  makeContinueAsNewFunc,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { InvoiceActivities } from '../activities/contract';
import type { DraftEdit, RecordedStatus } from '../src/billing/contract';
import {
  apply,
  isFinal,
  type InvoiceEvent,
  type InvoiceStatus,
  type LifecycleState,
  type Refusal,
} from '../src/billing/lifecycle';
import { SA_INVOICE_NUMBER, SA_INVOICE_STATUS } from '../src/temporal/search-attributes';
import {
  getInvoiceStateQuery,
  INVOICE_REFUSAL_TYPE,
  invoiceActionUpdate,
  paymentEventUpdate,
  appSyncUpdate,
  REJECTION_TYPES,
  type AppSyncArgs,
  type InvoiceActionArgs,
  type PaymentEventArgs,
  type InvoiceWorkflowInput,
} from './definitions';

/** errors an activity raises for a request that cannot succeed by retrying */
const nonRetryableErrorTypes = ['ConflictError', 'InvalidError', 'NotFoundError'];

/**
 * Issuing and the payment hand-over, first as ONE local attempt (no activity task round trip through the
 * server: the default profile's invoice goes from draft to paid in one workflow task), then, if it failed,
 * as remote attempts (visible as a pending activity, retried by the server with a backoff), then failed.
 */
const quickSteps = proxyLocalActivities<InvoiceActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});
const steps = proxyActivities<InvoiceActivities>({
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes,
  },
});
/** row writes (status, failure, edits, re-rating): local, one idempotent transaction each */
const writes = proxyLocalActivities<InvoiceActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes },
});

export const INVOICE_HISTORY_LIMIT = 500;

/** one quick local attempt, then the remote attempts */
async function step<T>(run: (a: InvoiceActivities) => Promise<T>): Promise<T> {
  try {
    return await run(quickSteps);
  } catch {
    return run(steps);
  }
}

const refused = (r: Refusal) =>
  ApplicationFailure.create({
    type: INVOICE_REFUSAL_TYPE,
    message: r.message,
    details: [r.available_actions],
    nonRetryable: true,
  });

/** the workflow's now (deterministic): what the activities store, what the timers count from */
const now = () => new Date(Date.now()).toISOString();

const errorMessage = (err: unknown): string =>
  err instanceof ActivityFailure && err.cause
    ? err.cause.message
    : err instanceof Error
      ? err.message
      : String(err);

export async function invoiceWorkflow(input: InvoiceWorkflowInput): Promise<LifecycleState> {
  const { invoiceId } = input;
  let s = input.lifecycle;
  /** the status the row shows (written by the last step) */
  let persisted: InvoiceStatus = s.status;
  let number = input.number ?? null;
  let dueAt = input.dueAt ? Date.parse(input.dueAt) : undefined;
  let draftUntil = Date.parse(input.draftUntil);
  let draftPeriodOver = false;
  let handedOver = input.handedOver ?? false;
  /** the payment app's issuing steps, as the issuing activity answered them (this run only) */
  let appSteps: string[] | undefined;
  // custom invoicing: the hooks the invoice waits for before it is issued, and which were reported
  const hooks = input.syncHooks ?? { draft: false, issuing: false };
  const synced = { draft: false, issuing: false, ...input.synced };
  let waitingFor: 'draft' | 'issuing' | undefined;

  // accepted actions: a ticket each; `done` = every ticket up to it has taken effect
  let tickets = 0;
  let done = 0;
  const work: { ticket: number; action: 'edit' | 'snapshot_quantities'; edit?: DraftEdit }[] = [];
  const errors = new Map<number, string>();

  const must = (e: InvoiceEvent) => {
    const r = apply(s, e);
    // the workflow only applies events its own state expects: anything else is a bug, which fails the
    // workflow task (retried, visible in the UI) rather than the invoice's workflow
    if (!r.ok) throw new Error(`invoice ${invoiceId}: ${r.refusal.message}`);
    s = r.state;
  };

  setHandler(getInvoiceStateQuery, () => s);
  setHandler(
    invoiceActionUpdate,
    async ({ action, edit }: InvoiceActionArgs) => {
      // judged again here: an action accepted just before (same task) may have changed the state
      const r = apply(s, action);
      if (!r.ok) throw refused(r.refusal);
      s = r.state;
      const ticket = ++tickets;
      if (action === 'edit' || action === 'snapshot_quantities') work.push({ ticket, action, edit });
      await condition(() => done >= ticket);
      const err = errors.get(ticket);
      errors.delete(ticket);
      if (err !== undefined)
        throw ApplicationFailure.create({
          type: REJECTION_TYPES.bad_request,
          message: err,
          nonRetryable: true,
        });
      return s;
    },
    {
      validator: ({ action }: InvoiceActionArgs) => {
        const r = apply(s, action);
        if (!r.ok) throw refused(r.refusal);
      },
    },
  );

  // payment events (a provider's webhooks): applied at once, written by the loop; each event id once
  const seenEvents = new Set<string>();
  let paymentIssue: string | undefined;
  const paymentRefusal = (p: PaymentEventArgs) => {
    const r = apply(s, { type: 'payment', result: p.result });
    if (!r.ok) return refused(r.refusal);
    if (seenEvents.has(p.eventId))
      return refused({ message: `event ${p.eventId} was applied already`, available_actions: {} });
    return undefined;
  };
  setHandler(
    paymentEventUpdate,
    async (p: PaymentEventArgs) => {
      const bad = paymentRefusal(p);
      if (bad) throw bad;
      seenEvents.add(p.eventId);
      must({ type: 'payment', result: p.result });
      if (p.result === 'failed') paymentIssue = p.message ?? 'the payment failed';
      const ticket = ++tickets;
      await condition(() => done >= ticket);
      return s;
    },
    {
      validator: (p: PaymentEventArgs) => {
        const bad = paymentRefusal(p);
        if (bad) throw bad;
      },
    },
  );

  setHandler(
    appSyncUpdate,
    async ({ step, references }: AppSyncArgs) => {
      if (synced[step]) return s; // a repeat: nothing changes
      synced[step] = true;
      await writes.recordAppSync({ invoiceId, step, references, at: now() });
      return s;
    },
    {
      validator: ({ step }: AppSyncArgs) => {
        if (!hooks[step])
          throw refused({
            message: `the invoice's app has no ${step} sync hook enabled`,
            available_actions: {},
          });
        if (!synced[step] && waitingFor !== step)
          throw refused({
            message:
              `the invoice is not waiting for the ${step} sync` +
              (waitingFor ? ` (it waits for the ${waitingFor} sync)` : ` (it is ${s.status})`),
            available_actions: {},
          });
      },
    },
  );

  // what the search attributes show: what the workflow was started with (not `s`, which an Update delivered
  // with the first task may already have moved before this line runs)
  let shown = { status: input.lifecycle.status as string, number: input.number ?? null };
  const show = () => {
    if (shown.status === s.status && shown.number === number) return;
    upsertSearchAttributes([
      { key: SA_INVOICE_STATUS, value: s.status },
      ...(number && number !== shown.number ? [{ key: SA_INVOICE_NUMBER, value: number }] : []),
    ]);
    shown = { status: s.status, number };
  };

  for (;;) {
    // 1. edits and snapshots of the draft, in the order they were accepted
    while (work.length) {
      const w = work.shift()!;
      try {
        if (w.action === 'edit') {
          const r = await writes.editDraftInvoice({ invoiceId, edit: w.edit ?? {}, at: now() });
          // an update may change what the draft runs by (absent: a history from before it answered)
          if (r && (r.autoAdvance !== s.autoAdvance || r.draftUntil !== undefined)) {
            s = { ...s, autoAdvance: r.autoAdvance };
            if (r.draftUntil !== undefined) draftUntil = Date.parse(r.draftUntil);
            draftPeriodOver = false;
          }
          if (r) s = { ...s, collectionMethod: r.collectionMethod };
        } else await writes.rerateDraftInvoice({ invoiceId, at: now() });
      } catch (err) {
        errors.set(w.ticket, errorMessage(err));
      }
    }
    // 2. the step the state asks for
    if (s.status === 'issuing' && !s.failed) {
      // custom invoicing: the external system synchronizes the draft, then the issuing, before it is issued
      const wait = (['draft', 'issuing'] as const).find((h) => hooks[h] && !synced[h]);
      if (wait) {
        // the accepted actions (approve) have taken effect: the invoice now rests until the report
        show();
        done = tickets;
        waitingFor = wait;
        await condition(() => synced[wait] || tickets > done || work.length > 0);
        waitingFor = undefined;
        continue;
      }
      try {
        const ref = await step((a) => a.issueDraftInvoice({ invoiceId, at: now() }));
        appSteps = ref.appSteps;
        number = ref.number;
        dueAt = ref.dueAt ? Date.parse(ref.dueAt) : undefined;
        must({ type: 'issued' });
        persisted = 'issued';
      } catch (err) {
        must({ type: 'issue_failed' });
        await writes.recordInvoiceStepFailure({
          invoiceId,
          step: 'issuing',
          message: errorMessage(err),
          at: now(),
        });
        persisted = 'issuing';
      }
      continue;
    }
    if (s.status === 'issued' && !s.failed && !handedOver) {
      try {
        // the payment app's issuing steps (none for the sandbox; known from issuing, else asked), each its
        // own activity, then the hand-over
        const app = appSteps ? { steps: appSteps } : await step((a) => a.paymentAppSteps({ invoiceId }));
        for (const name of app.steps) await step((a) => a.issueInPaymentApp({ invoiceId, step: name }));
        const r = await step((a) => a.handOverToPayment({ invoiceId, at: now() }));
        if (r.status !== 'paid' && r.status !== 'payment_processing' && r.status !== 'uncollectible')
          throw new Error(`the payment app left the invoice ${r.status}`);
        must({ type: 'handed_over', result: r.status });
        persisted = r.status;
        handedOver = true;
      } catch (err) {
        must({ type: 'hand_over_failed' });
        await writes.recordInvoiceStepFailure({
          invoiceId,
          step: 'payment',
          message: errorMessage(err),
          at: now(),
        });
      }
      continue;
    }
    if (paymentIssue !== undefined) {
      await writes.recordPaymentIssue({ invoiceId, message: paymentIssue, at: now() });
      paymentIssue = undefined;
      continue;
    }
    if (s.status !== persisted) {
      await writes.recordInvoiceStatus({ invoiceId, status: s.status as RecordedStatus, at: now() });
      persisted = s.status;
      continue;
    }
    if (work.length) continue;
    // 3. every accepted action has taken effect: the search attributes show where the invoice rests
    show();
    done = tickets;
    if (isFinal(s.status)) break;

    const woken = () => tickets > done || work.length > 0;
    if (s.status === 'draft' && !draftPeriodOver) {
      const wait = draftUntil - Date.now();
      if (wait > 0 && (await condition(woken, wait))) continue;
      draftPeriodOver = true;
      if (s.status === 'draft' && !s.autoAdvance) await writes.rerateDraftInvoice({ invoiceId, at: now() });
      if (s.status === 'draft') must({ type: 'draft_period_ended' });
      continue;
    }
    if (s.status === 'payment_processing' && dueAt !== undefined) {
      const wait = dueAt - Date.now();
      if (wait > 0 && (await condition(woken, wait))) continue;
      if (s.status === 'payment_processing') must({ type: 'due' });
      continue;
    }
    const info = workflowInfo();
    if (info.historyLength >= INVOICE_HISTORY_LIMIT || info.continueAsNewSuggested) {
      await condition(() => allHandlersFinished() || woken());
      if (woken()) continue;
      const next = makeContinueAsNewFunc<typeof invoiceWorkflow>({
        memo: info.memo,
        typedSearchAttributes: info.typedSearchAttributes,
      });
      return await next({
        ...input,
        lifecycle: s,
        number,
        handedOver,
        synced,
        dueAt: dueAt === undefined ? null : new Date(dueAt).toISOString(),
        // the draft period was over (or never mattered) when this run ended
        draftUntil: new Date(draftPeriodOver ? 0 : draftUntil).toISOString(),
      });
    }
    await condition(woken);
  }
  await condition(allHandlersFinished);
  return s;
}
