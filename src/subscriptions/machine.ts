/**
 * The subscription state machine: pure and deterministic (no I/O, no clock, no Node built-ins), so the
 * workflow (workflows/subscription.ts) imports it and unit tests drive it with explicit instants.
 *
 * The workflow holds one `SubscriptionState`, feeds it requests (cancel/change/migrate) and the current
 * workflow time, and performs the I/O each transition asks for (record the row, issue an invoice).
 *
 * Time rules:
 * - Periods follow the anchor grid of the plan's billing cadence: boundaries are anchor + n × cadence.
 * - A period ends at its grid boundary, or earlier when an immediate/timestamped change or cancel cuts it.
 *   After a cut, the next period runs from the cut to the next grid boundary (a short period whose cycle
 *   is the full grid period, so flat fees prorate).
 * - A phase with a duration ends at phase start + duration; the switch happens at the first period end at
 *   or after that instant.
 * - A closed period is handed over to billing at its end (arrears, plus the next period's in-advance fees
 *   when the subscription continues): a pending line of the customer, which the customer's collection
 *   workflow gathers onto an invoice after the late-usage window (src/billing/pending.ts). Every closed period gets its invoice,
 *   even a zero one (a free trial month): the invoice is the record that the period was billed. Only the
 *   start-of-subscription invoice, which could hold nothing but in-advance fees, is skipped when the first
 *   phase has none.
 */
import type { BilledPeriod } from '../billing/contract';
import { addDuration, periodContaining } from '../catalog/periods';
import { isBilledInAdvance } from '../catalog/rate-cards';
import type { Plan } from '../catalog/types';

/** What the workflow needs to know about a plan version: its timing, never its prices. */
export interface PlanSchedule {
  id: string;
  key: string;
  version: number;
  billingCadence: string;
  phases: { key: string; duration?: string; hasAdvanceFees: boolean }[];
}

export function toPlanSchedule(plan: Plan): PlanSchedule {
  return {
    id: plan.id,
    key: plan.key,
    version: plan.version,
    billingCadence: plan.billing_cadence,
    phases: plan.phases.map((ph) => ({
      key: ph.key,
      ...(ph.duration ? { duration: ph.duration } : {}),
      hasAdvanceFees: ph.rate_cards.some(isBilledInAdvance),
    })),
  };
}

/** `immediate`, `next_billing_cycle` or an ISO-8601 instant */
export type Timing = string;

/**
 * `unschedule`: withdraws a scheduled cancelation (OpenMeter's unschedule-cancelation); `edit`: a change to
 * the subscription's own plan version derived from the current one (src/catalog/derive.ts), which keeps the
 * phase position like a migration; `unschedule_edit` withdraws a scheduled edit.
 */
export type RequestKind = 'cancel' | 'change' | 'migrate' | 'edit' | 'unschedule' | 'unschedule_edit';

export interface ChangeRequest {
  kind: RequestKind;
  timing: Timing;
  /** target plan version (change/migrate) */
  plan?: PlanSchedule;
}

export interface PendingChange {
  kind: Exclude<RequestKind, 'unschedule' | 'unschedule_edit'>;
  /** `next_billing_cycle` or an ISO instant */
  at: string;
  plan?: PlanSchedule;
}

export interface PendingInvoice {
  invoiceKey: string;
  /** ISO instant when it is handed over (the period end; the start for in-advance fees) */
  dueAt: string;
  arrears?: BilledPeriod;
  advance?: BilledPeriod;
  /** set while issuing it keeps failing: the next try waits until `retryAt` */
  failure?: InvoiceFailure;
}

/** An invoice whose tries failed so far (each try = a few activity attempts). */
export interface InvoiceFailure {
  /** failed tries */
  tries: number;
  /** ISO instant of the first failed try */
  since: string;
  /** the last try's error message (truncated to INVOICE_ERROR_MAX characters) */
  lastError: string;
  /** ISO instant of the next try */
  retryAt: string;
}

/** Backoff between failed invoice tries: 1 min, doubling, at most 15 min (a durable timer each). */
export const INVOICE_RETRY_FIRST_MS = 60_000;
export const INVOICE_RETRY_MAX_MS = 15 * 60_000;
export const INVOICE_ERROR_MAX = 500;

export interface CurrentPeriod {
  from: string;
  to: string;
  cycleFrom: string;
  cycleTo: string;
}

/** `scheduled`: `activeFrom` is still ahead (the workflow sleeps until then); `active` from then on */
export type SubscriptionStatus = 'scheduled' | 'active' | 'canceled';

export interface SubscriptionState {
  subscriptionId: string;
  customerId: string;
  activeFrom: string;
  billingAnchor: string;
  status: SubscriptionStatus;
  activeTo?: string;
  plan: PlanSchedule;
  /** when the current plan version took effect (absent in states from before edits: `activeFrom`) */
  planSince?: string;
  phaseIndex: number;
  phaseStartedAt: string;
  /** absent once canceled */
  period?: CurrentPeriod;
  pendingChange?: PendingChange;
  pendingInvoices: PendingInvoice[];
  /** invoices issued over the subscription's life (all runs) */
  invoicesIssued: number;
}

export interface CreateStateInput {
  subscriptionId: string;
  customerId: string;
  activeFrom: string;
  billingAnchor: string;
  plan: PlanSchedule;
  /** when set, the subscription ends there: a cancelation scheduled at that instant from the start */
  activeTo?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (s: string) => new Date(s).getTime();

export function phaseOf(state: Pick<SubscriptionState, 'plan' | 'phaseIndex'>) {
  return state.plan.phases[state.phaseIndex];
}

/** The grid period of `plan`'s cadence that contains `at`, as [at, end) with its full cycle. */
function periodFrom(state: SubscriptionState, at: number): CurrentPeriod {
  const cycle = periodContaining(new Date(state.billingAnchor), state.plan.billingCadence, new Date(at));
  return {
    from: iso(at),
    to: cycle.end.toISOString(),
    cycleFrom: cycle.start.toISOString(),
    cycleTo: cycle.end.toISOString(),
  };
}

function billed(state: SubscriptionState, p: CurrentPeriod, to?: string): BilledPeriod {
  return {
    planId: state.plan.id,
    phaseKey: phaseOf(state).key,
    from: p.from,
    to: to ?? p.to,
    cycleFrom: p.cycleFrom,
    cycleTo: p.cycleTo,
  };
}

/** The advance part for the period that just started, when its phase has in-advance flat fees. */
function advanceOf(state: SubscriptionState): BilledPeriod | undefined {
  if (state.status === 'canceled' || !state.period || !phaseOf(state).hasAdvanceFees) return undefined;
  return billed(state, state.period);
}

/**
 * The state at creation, judged at `now` (ms; default: `activeFrom`). The first period runs from
 * `activeFrom` to the next anchor-grid boundary; when the first phase has in-advance flat fees, their
 * invoice is due at `activeFrom`. Subscriptions without them get no start invoice (billing would answer
 * with an empty one). An `activeFrom` after `now` makes the subscription `scheduled` until then (step()
 * activates it first thing at that instant); `activeTo` schedules its cancelation at that instant.
 */
export function initialState(input: CreateStateInput, now?: number): SubscriptionState {
  const { activeTo, ...rest } = input;
  const state: SubscriptionState = {
    ...rest,
    status: now !== undefined && ms(input.activeFrom) > now ? 'scheduled' : 'active',
    ...(activeTo ? { pendingChange: { kind: 'cancel', at: activeTo } } : {}),
    planSince: input.activeFrom,
    phaseIndex: 0,
    phaseStartedAt: input.activeFrom,
    pendingInvoices: [],
    invoicesIssued: 0,
  };
  state.period = periodFrom(state, ms(input.activeFrom));
  const advance = advanceOf(state);
  if (advance) {
    state.pendingInvoices.push({
      invoiceKey: `${state.subscriptionId}:${advance.from}:advance`,
      dueAt: input.activeFrom,
      advance,
    });
  }
  return state;
}

/** Instant (ms) of the scheduled change, when it is a timestamp. */
function scheduledAt(state: SubscriptionState): number | undefined {
  const at = state.pendingChange?.at;
  return at && at !== 'next_billing_cycle' ? ms(at) : undefined;
}

/** The instant (ms) a timing takes effect, judged at `now`. */
function effectiveAt(state: SubscriptionState, timing: string, now: number): number {
  if (timing === 'immediate') return now;
  if (timing === 'next_billing_cycle') return state.period ? ms(state.period.to) : now;
  return ms(timing);
}

/**
 * The period that follows the current one when the current one simply rolls over at its end: the
 * subscription is active, nothing is scheduled and the phase does not end there. Undefined otherwise.
 */
export function plainNextPeriod(state: SubscriptionState): CurrentPeriod | undefined {
  if (state.status !== 'active' || !state.period || state.pendingChange) return undefined;
  const end = ms(state.period.to);
  if (phaseEndsBy(state, end)) return undefined;
  return periodFrom(state, end);
}

/** When an invoice may be tried next (ms): its due time, or later while it is backing off after failures. */
export function invoiceDueAt(i: PendingInvoice): number {
  return Math.max(ms(i.dueAt), i.failure ? ms(i.failure.retryAt) : -Infinity);
}

/**
 * When the workflow must wake next (ms), or undefined when nothing is scheduled: the period end (the
 * period closes and is handed over in the same workflow task), a scheduled change, a hand-over backing
 * off. `invoicing`: a hand-over is in flight (its end wakes the workflow), so no hand-over's time counts.
 */
export function nextWakeAt(state: SubscriptionState, invoicing = false): number | undefined {
  const times = invoicing ? [] : state.pendingInvoices.map(invoiceDueAt);
  if (state.status === 'scheduled') times.push(ms(state.activeFrom));
  if (state.status !== 'canceled' && state.period) {
    times.push(ms(state.period.to));
    const at = scheduledAt(state);
    if (at !== undefined) times.push(at);
  }
  return times.length ? Math.min(...times) : undefined;
}

/** A migration or an edit keeps the subscriber in the same phase (and its start) when the version has it. */
const keepsPhase = (kind: PendingChange['kind']) => kind === 'migrate' || kind === 'edit';

function switchPlan(state: SubscriptionState, change: PendingChange, at: number): void {
  const plan = change.plan!;
  state.planSince = iso(at);
  if (keepsPhase(change.kind)) {
    const same = plan.phases.findIndex((p) => p.key === phaseOf(state).key);
    state.plan = plan;
    if (same >= 0) {
      state.phaseIndex = same;
      return;
    }
  }
  state.plan = plan;
  state.phaseIndex = 0;
  state.phaseStartedAt = iso(at);
}

/** Whether the current phase, when a later one follows it, has run its duration by `at`. */
function phaseEndsBy(state: SubscriptionState, at: number): boolean {
  const phase = phaseOf(state);
  if (!phase.duration || state.phaseIndex >= state.plan.phases.length - 1) return false;
  return addDuration(new Date(state.phaseStartedAt), phase.duration).getTime() <= at;
}

/** Moves to the next phase when the current one has run its duration by `at` (a period end). */
function maybeSwitchPhase(state: SubscriptionState, at: number): void {
  if (phaseEndsBy(state, at)) {
    state.phaseIndex++;
    state.phaseStartedAt = iso(at);
  }
}

/**
 * Ends the current period at `at` (its grid end, or earlier for a cut) and applies `change` at that instant.
 * Queues the closed period's invoice. Mutates `state`.
 */
function closePeriod(state: SubscriptionState, at: number, change: PendingChange | undefined): void {
  const period = state.period!;
  const closed = ms(period.from) < at ? billed(state, period, iso(at)) : undefined;
  const atBoundary = at === ms(period.to);
  if (change?.kind === 'cancel') {
    state.status = 'canceled';
    state.activeTo = iso(at);
    state.period = undefined;
    state.pendingChange = undefined;
  } else {
    if (change) {
      switchPlan(state, change, at);
      state.pendingChange = undefined;
      // a migration or edit at the boundary where the current phase ends also moves to the next phase
      if (atBoundary && keepsPhase(change.kind)) maybeSwitchPhase(state, at);
    } else if (atBoundary) {
      maybeSwitchPhase(state, at);
    }
    state.period = periodFrom(state, at);
  }
  const advance = advanceOf(state);
  if (!closed && !advance) return;
  const key = closed
    ? `${state.subscriptionId}:${closed.from}`
    : `${state.subscriptionId}:${iso(at)}:advance`;
  state.pendingInvoices.push({
    invoiceKey: key,
    dueAt: iso(at),
    ...(closed ? { arrears: closed } : {}),
    ...(advance ? { advance } : {}),
  });
}

export type Step =
  /** an invoice is due: issue it, then call `invoiceIssued` */
  | { type: 'invoice'; invoice: PendingInvoice }
  /** the period, plan, phase or status changed: record the row */
  | { type: 'transition'; canceled: boolean }
  /** a scheduled subscription reached its `activeFrom`: record the row as active */
  | { type: 'activated' };

/**
 * Performs the earliest transition due at `now` (ms), if any. Period ends and scheduled changes come
 * before invoices due at the same instant. Returns what the workflow must do next, or undefined when
 * nothing is due. `invoicing`: an invoice try is in flight, so no invoice step is returned (one try at
 * a time; transitions and requests go on meanwhile).
 */
export function step(state: SubscriptionState, now: number, invoicing = false): Step | undefined {
  const due = invoicing
    ? undefined
    : state.pendingInvoices.reduce<PendingInvoice | undefined>(
        (a, i) => (invoiceDueAt(i) <= now && (!a || invoiceDueAt(i) < invoiceDueAt(a)) ? i : a),
        undefined,
      );
  if (state.status === 'scheduled') {
    // nothing happens before the start; the activation comes before the start's invoice
    if (ms(state.activeFrom) > now) return undefined;
    state.status = 'active';
    return { type: 'activated' };
  }
  if (state.status === 'active' && state.period) {
    const end = ms(state.period.to);
    const at = scheduledAt(state);
    const nextChange = at !== undefined && at < end ? at : undefined;
    let t = Math.min(end, nextChange ?? Infinity);
    // a change scheduled for a time that passed while the workflow was busy (e.g. an activity retrying
    // across a boundary) cannot reach back into a period already closed and invoiced
    t = Math.max(t, ms(state.period.from));
    if (t <= now && (!due || t <= invoiceDueAt(due))) {
      const pc = state.pendingChange;
      const applies = pc && (pc.at === 'next_billing_cycle' || ms(pc.at) <= t);
      closePeriod(state, t, applies ? pc : undefined);
      return { type: 'transition', canceled: (state.status as SubscriptionStatus) === 'canceled' };
    }
  }
  return due ? { type: 'invoice', invoice: due } : undefined;
}

export function invoiceIssued(state: SubscriptionState, invoiceKey: string): void {
  const before = state.pendingInvoices.length;
  state.pendingInvoices = state.pendingInvoices.filter((i) => i.invoiceKey !== invoiceKey);
  if (state.pendingInvoices.length < before) state.invoicesIssued++;
}

/**
 * A try to issue `invoiceKey` failed at `now` (ms) with `error`: the invoice stays pending and backs off
 * (INVOICE_RETRY_FIRST_MS, doubling, at most INVOICE_RETRY_MAX_MS). Returns the recorded failure.
 */
export function invoiceFailed(
  state: SubscriptionState,
  invoiceKey: string,
  error: string,
  now: number,
): InvoiceFailure | undefined {
  const inv = state.pendingInvoices.find((i) => i.invoiceKey === invoiceKey);
  if (!inv) return undefined;
  const tries = (inv.failure?.tries ?? 0) + 1;
  const wait = Math.min(INVOICE_RETRY_FIRST_MS * 2 ** Math.min(tries - 1, 20), INVOICE_RETRY_MAX_MS);
  inv.failure = {
    tries,
    since: inv.failure?.since ?? iso(now),
    lastError: error.length > INVOICE_ERROR_MAX ? `${error.slice(0, INVOICE_ERROR_MAX - 1)}…` : error,
    retryAt: iso(now + wait),
  };
  return inv.failure;
}

/** The failing invoice the operator should see (the one failing longest), if any. */
export function failingInvoice(
  state: SubscriptionState,
): (InvoiceFailure & { invoiceKey: string }) | undefined {
  let worst: PendingInvoice | undefined;
  for (const i of state.pendingInvoices) {
    if (i.failure && (!worst || ms(i.failure.since) < ms(worst.failure!.since))) worst = i;
  }
  return worst ? { invoiceKey: worst.invoiceKey, ...worst.failure! } : undefined;
}

/**
 * Whether a phase that an edit makes end at `end` (ms) fits an edit that takes effect at `effective` (ms):
 * the phase must not end before the edit takes effect. Ending exactly there is a phase switch at that
 * instant, which the machine makes only at a period end (`periodEnd`, ms: closePeriod switches phases at
 * period ends, an edit at the period end included); an edit that cuts the period elsewhere keeps the phase
 * until the next period end, so ending exactly at such a cut is refused too. Undefined when it fits, else
 * the reason.
 */
export function stretchedEndIssue(
  end: number,
  effective: number,
  periodEnd: number | undefined,
): 'before' | 'at_cut' | undefined {
  if (end < effective) return 'before';
  if (end === effective && effective !== periodEnd) return 'at_cut';
  return undefined;
}

/**
 * An edit's check against the workflow's own state (its validator; the API checks the same on the row):
 * the current phase, when the edited version gives it a new end, must still fit (`stretchedEndIssue`).
 */
export function editPhaseEndIssue(
  state: SubscriptionState,
  req: ChangeRequest,
  now: number,
): Rejection | undefined {
  if (req.kind !== 'edit' || !req.plan || state.status !== 'active' || !state.period) return undefined;
  const key = phaseOf(state).key;
  const i = req.plan.phases.findIndex((p) => p.key === key);
  const phase = req.plan.phases[i];
  if (i < 0 || i === req.plan.phases.length - 1 || !phase.duration) return undefined;
  if (phase.duration === phaseOf(state).duration) return undefined;
  const end = addDuration(new Date(state.phaseStartedAt), phase.duration).getTime();
  const effective = effectiveAt(state, req.timing, now);
  const issue = stretchedEndIssue(end, effective, ms(state.period.to));
  if (!issue) return undefined;
  return {
    type: 'conflict',
    message: `phase ${key} would end at ${iso(end)}, ${issue === 'before' ? 'before' : 'exactly when, but not at a period end,'} the edit takes effect (${iso(effective)})`,
  };
}

/** Why a request cannot be accepted now: `bad_request` (malformed for this state) or `conflict`. */
export interface Rejection {
  type: 'bad_request' | 'conflict';
  message: string;
}

/** Validates a request against the state at `now` (ms); undefined when acceptable. */
export function validateRequest(
  state: SubscriptionState,
  req: ChangeRequest,
  now: number,
): Rejection | undefined {
  if (state.status === 'canceled') return { type: 'conflict', message: 'the subscription is canceled' };
  const pending = state.pendingChange;
  if (req.kind === 'unschedule') {
    return pending?.kind === 'cancel'
      ? undefined
      : { type: 'conflict', message: 'no cancelation is scheduled' };
  }
  if (req.kind === 'unschedule_edit') {
    return pending?.kind === 'edit' ? undefined : { type: 'conflict', message: 'no edit is scheduled' };
  }
  if (req.timing !== 'immediate' && req.timing !== 'next_billing_cycle') {
    const at = ms(req.timing);
    if (Number.isNaN(at))
      return { type: 'bad_request', message: `timing ${req.timing} is not a valid timestamp` };
    if (at <= now) return { type: 'bad_request', message: `timing ${req.timing} is not in the future` };
    if (state.status === 'scheduled' && at <= ms(state.activeFrom)) {
      return {
        type: 'bad_request',
        message: `timing ${req.timing} is not after the subscription's start (${state.activeFrom}); ${req.kind === 'cancel' ? 'cancel it immediately instead' : 'use immediate to change it before its start'}`,
      };
    }
  }
  if (pending?.kind === 'cancel') {
    // a cancelation may be brought forward (e.g. immediate after next_billing_cycle), never pushed back
    if (req.kind === 'cancel' && effectiveAt(state, req.timing, now) < effectiveAt(state, pending.at, now)) {
      return undefined;
    }
    return { type: 'conflict', message: `a cancelation is already scheduled (${pending.at})` };
  }
  if (req.kind === 'cancel') return undefined;
  if (!req.plan) return { type: 'bad_request', message: 'a target plan is required' };
  if (pending) return { type: 'conflict', message: `a ${pending.kind} is already scheduled (${pending.at})` };
  if (req.plan.id === state.plan.id) {
    return {
      type: 'conflict',
      message: `the subscription is already on plan ${req.plan.key} v${req.plan.version}`,
    };
  }
  if (req.kind === 'edit' && !req.plan.phases.some((p) => p.key === phaseOf(state).key)) {
    return { type: 'bad_request', message: `the edited version has no phase ${phaseOf(state).key}` };
  }
  if (req.kind === 'migrate') {
    if (req.plan.key !== state.plan.key) {
      return { type: 'bad_request', message: `a migration stays on plan ${state.plan.key}` };
    }
    if (req.plan.version <= state.plan.version) {
      return {
        type: 'conflict',
        message: `target version ${req.plan.version} is not newer than the current version ${state.plan.version}`,
      };
    }
  }
  return undefined;
}

/**
 * Applies an accepted request at `now` (ms): an immediate one cuts the current period now; a scheduled one
 * becomes the pending change. Returns a rejection when the request no longer fits (e.g. two requests raced
 * past their validators).
 */
export function applyRequest(
  state: SubscriptionState,
  req: ChangeRequest,
  now: number,
): Rejection | undefined {
  // a timestamp that was in the future when validated may have passed since: step() applies it late
  const rejection = validateRequest(state, req, -Infinity);
  if (rejection) return rejection;
  if (req.kind === 'unschedule' || req.kind === 'unschedule_edit') {
    state.pendingChange = undefined;
    return undefined;
  }
  const beforeStart =
    state.status === 'scheduled' && (req.timing === 'immediate' || req.timing === 'next_billing_cycle');
  if (beforeStart && req.kind !== 'cancel') {
    // before the start (immediate, or next_billing_cycle: the first period has not begun): the new version
    // replaces the old one from the start; nothing was billed, the start invoice is the new version's
    state.plan = req.plan!;
    state.phaseIndex = 0;
    state.phaseStartedAt = state.activeFrom;
    state.planSince = state.activeFrom;
    state.period = periodFrom(state, ms(state.activeFrom));
    state.pendingInvoices = [];
    const advance = advanceOf(state);
    if (advance)
      state.pendingInvoices.push({
        invoiceKey: `${state.subscriptionId}:${advance.from}:advance`,
        dueAt: state.activeFrom,
        advance,
      });
    return undefined;
  }
  if (state.status === 'scheduled' && req.kind === 'cancel' && req.timing === 'immediate') {
    // it never started: nothing was billed and nothing will be (its start invoice is dropped)
    state.status = 'canceled';
    state.activeTo = state.activeFrom;
    state.period = undefined;
    state.pendingChange = undefined;
    state.pendingInvoices = [];
    return undefined;
  }
  const change: PendingChange = {
    kind: req.kind,
    at: req.timing,
    ...(req.plan ? { plan: req.plan } : {}),
  };
  if (req.timing === 'immediate') {
    closePeriod(state, Math.max(now, ms(state.period!.from)), change);
  } else {
    state.pendingChange = change;
  }
  return undefined;
}

/** The state as the `getState` query shows it. */
export function describeState(state: SubscriptionState) {
  return {
    subscriptionId: state.subscriptionId,
    status: state.status,
    activeFrom: state.activeFrom,
    activeTo: state.activeTo,
    billingAnchor: state.billingAnchor,
    plan: { id: state.plan.id, key: state.plan.key, version: state.plan.version },
    planSince: state.planSince ?? state.activeFrom,
    billingCadence: state.plan.billingCadence,
    phase: { key: phaseOf(state).key, startedAt: state.phaseStartedAt },
    currentPeriod: state.period,
    pendingChange: state.pendingChange
      ? {
          kind: state.pendingChange.kind,
          at: state.pendingChange.at,
          plan: state.pendingChange.plan
            ? {
                id: state.pendingChange.plan.id,
                key: state.pendingChange.plan.key,
                version: state.pendingChange.plan.version,
              }
            : undefined,
        }
      : undefined,
    pendingInvoices: state.pendingInvoices,
    invoicesIssued: state.invoicesIssued,
  };
}

export type SubscriptionView = ReturnType<typeof describeState>;
