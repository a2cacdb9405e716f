/**
 * Subscriptions: the API side (create → row + workflow; requests → workflow Updates) and the row writes the
 * workflow's activities perform. The workflow is the source of truth for timing; the row is its read model.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  ConflictError,
  UnavailableError,
  invalid,
  conflict,
  notFound,
  unavailable,
  type DomainError,
  type InvalidParam,
} from '../lib/errors';
import { catalogPlanIdSql, planSummaries, type PlanSummary } from '../catalog/plan-summaries';
import {
  createCustomVersion,
  deleteSubscriptionVersion,
  deriveSubscriptionVersion,
  getVersionWithOrigins,
  resolvePlan,
  type CustomPlanInput,
  type ItemSource,
  type PlanRef,
  type RateCardChange,
  type SubscriptionPlanVersion,
} from '../catalog/service';
import { addDuration } from '../catalog/periods';
import type { Plan } from '../catalog/types';
import { getCustomer } from '../customers/service';
import type { AppDeps } from '../deps';
import { exec, Sql } from '../db/sql';
import { newId } from '../lib/ids';
import { recordEvent } from '../notifications/outbox';
import { kickEntitlementResets } from '../notifications/reset-starts';
import { orderBy, whereFilter, whereLabels, type FieldFilter, type SortKey } from '../lib/list-query';
import { instant } from '../lib/time';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { TEMPORAL_UPDATE_TIMEOUT_MS, withTemporalDeadline } from '../temporal/client';
import { resolveCustomerBilling } from '../profiles/service';
import {
  SA_BILLING_PROFILE,
  SA_CUSTOMER_KEY,
  SA_NEXT_BILLING_AT,
  SA_PLAN_KEY,
  SA_PLAN_VERSION,
  SA_STATUS,
} from '../temporal/search-attributes';
import {
  cancelUpdate,
  changeUpdate,
  editUpdate,
  migrateUpdate,
  REJECTION_TYPES,
  unscheduleCancelationUpdate,
  unscheduleEditUpdate,
  type SubscriptionWorkflow,
} from '../../workflows/definitions';
import { liveAddonCount } from './addon-queries';
import type { InvoiceFailureRecord, PeriodRecord } from './records';
import {
  initialState,
  phaseOf,
  plainNextPeriod,
  stretchedEndIssue,
  toPlanSchedule,
  type Timing,
} from './machine';
import { nextBillingAt } from './operator-details';
import { currentPeriodOf } from './row-period';
import { apiStatusSql } from './status';
import type { PlanSegment } from './timeline';
import { subscriptionView, type SubscriptionRow, type SubscriptionView, type TimelineContext } from './views';

export type { InvoiceFailureRecord, PeriodRecord };
export type { SubscriptionView } from './views';

/**
 * A row with its plan version's summary and its timeline's context (its plan segments and their versions).
 * A page of rows takes two reads whatever its size: the segments, then catalog's `planSummaries` for every
 * version the rows, their segments and their pending switches name.
 */
type Row = SubscriptionRow & { plan: PlanSummary; timeline: TimelineContext };

async function withPlans(em: EntityManager, rows: SubscriptionRow[]): Promise<Row[]> {
  const segments = await planSegments(
    em,
    rows.map((r) => r.id),
  );
  const plans = await planSummaries(em, [
    ...rows.map((r) => r.plan_id),
    ...rows.flatMap((r) => (r.pending_change?.plan ? [r.pending_change.plan.id] : [])),
    ...[...segments.values()].flat().map((g) => g.planId),
  ]);
  // the foreign key keeps every row's plan version (as the former inner join, a row without one is skipped)
  return rows.flatMap((r) => {
    const plan = plans.get(r.plan_id);
    return plan ? [{ ...r, plan, timeline: { segments: segments.get(r.id) ?? [], plans } }] : [];
  });
}

/** The plan segments of the subscriptions `ids` (subscription id → segments by `since`). One query. */
async function planSegments(em: EntityManager, ids: readonly string[]): Promise<Map<string, PlanSegment[]>> {
  const out = new Map<string, PlanSegment[]>();
  if (!ids.length) return out;
  const rows = await exec<{
    subscription_id: string;
    since: Date;
    plan_id: string;
    phase_key: string;
    phase_started_at: Date;
  }>(
    em,
    new Sql()
      .add(
        `select subscription_id, since, plan_id, phase_key, phase_started_at from subscription_plan_segments
          where subscription_id in `,
      )
      .list([...new Set(ids)])
      .add(' order by subscription_id, since'),
  );
  for (const g of rows) {
    const list = out.get(g.subscription_id) ?? [];
    list.push({
      since: Date.parse(instant(g.since)),
      planId: g.plan_id,
      phaseKey: g.phase_key,
      phaseStartedAt: Date.parse(instant(g.phase_started_at)),
    });
    out.set(g.subscription_id, list);
  }
  return out;
}

const toView = (r: Row): SubscriptionView => subscriptionView(r, r.plan, new Date(), r.timeline);

async function findRow(em: EntityManager, id: string): Promise<Row | undefined> {
  const rows = await exec<SubscriptionRow>(
    em,
    new Sql().add('select s.* from subscriptions s where s.id = ?', id),
  );
  return (await withPlans(em, rows))[0];
}

export async function getSubscription(em: EntityManager, id: string): Promise<SubscriptionView> {
  const row = await findRow(em, id);
  if (!row) throw notFound('subscription', id);
  return toView(row);
}

export interface SubscriptionListQuery {
  page: PageParams;
  filter?: {
    id?: FieldFilter;
    /** the customer's id or key */
    customer_id?: FieldFilter;
    status?: FieldFilter;
    plan_id?: FieldFilter;
    plan_key?: FieldFilter;
    labels?: Record<string, FieldFilter>;
  };
  sort?: SortKey<SubscriptionSortField>[];
}

export const SUBSCRIPTION_SORT_FIELDS = ['id', 'active_from', 'active_to', 'created_at'] as const;
export type SubscriptionSortField = (typeof SUBSCRIPTION_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<SubscriptionSortField, string> = {
  id: 's.id',
  active_from: 's.active_from',
  active_to: 's.active_to',
  created_at: 's.created_at',
};

export async function listSubscriptions(
  em: EntityManager,
  q: SubscriptionListQuery,
): Promise<Page<SubscriptionView>> {
  const where = new Sql();
  const and = () => where.add(where.text ? ' and ' : 'where ');
  const f = q.filter ?? {};
  if (f.customer_id) {
    // a customer is named by its id or its key
    and().add('(');
    whereFilter(where, 's.customer_id', f.customer_id);
    where.add(f.customer_id.op === 'neq' ? ' and ' : ' or ');
    whereFilter(where, 's.customer_key', f.customer_id);
    where.add(')');
  }
  // OpenMeter's statuses, mapped from the row's (status.ts)
  if (f.status) whereFilter(and(), apiStatusSql('s'), f.status);
  if (f.plan_key) whereFilter(and(), 's.plan_key', f.plan_key);
  // the catalog version it is on or derives from (a customized subscription's own version: its base)
  if (f.plan_id) whereFilter(and(), catalogPlanIdSql('s.plan_id'), f.plan_id);
  if (f.id) whereFilter(and(), 's.id', f.id);
  if (f.labels) whereLabels(and(), 's.labels', f.labels);
  const { limit, offset } = pageOffset(q.page);
  const page = new Sql()
    .add('select s.* from subscriptions s ')
    .add(where.text, ...where.params)
    .add(orderBy(q.sort, SORT_COLUMNS, [{ field: 'active_from', desc: false }], 's.id'))
    .add(' limit ? offset ?', limit, offset);
  const rows = await withPlans(em, await exec<SubscriptionRow>(em, page));
  const count = await exec<{ n: string }>(
    em,
    new Sql().add('select count(*)::text as n from subscriptions s ').add(where.text, ...where.params),
  );
  return toPage(rows.map(toView), Number(count[0]?.n ?? 0), q.page);
}

/** An active subscription's billing columns (what billing's preview rates). */
export interface ActiveSubscriptionPeriod {
  id: string;
  plan_id: string;
  phase_key: string;
  active_from: Date;
  current_period_start: Date;
  current_period_end: Date;
  next_period_end: Date | null;
}

/** The customer's subscriptions active at `now` with an open period, oldest first. */
export async function activeSubscriptionPeriods(
  em: EntityManager,
  customerId: string,
  now: Date,
): Promise<ActiveSubscriptionPeriod[]> {
  return em.execute<ActiveSubscriptionPeriod[]>(
    `select id, plan_id, phase_key, active_from, current_period_start, current_period_end, next_period_end
       from subscriptions
      where customer_id = ? and status = 'active' and active_from <= ?
        and current_period_start is not null and current_period_end is not null
        and current_period_start <= ?
      order by active_from, id`,
    [customerId, now, now],
  );
}

// ---------------------------------------------------------------------------------------------------
// row writes by the workflow's activities (absolute values: idempotent)

/**
 * Writes the period. Answers whether what grants entitlements changed (plan, phase or status), with the
 * customer: the caller then wakes the subscription's entitlement-resets workflow (notifications).
 */
export async function recordPeriod(
  em: EntityManager,
  r: PeriodRecord,
): Promise<{ reshaped: boolean; customerId?: string }> {
  // notifications (issue 12): subscription.changed when the plan or the pending change differs
  return em.transactional(async (tem) => {
    const [before] = await exec<{
      changed: boolean;
      reshaped: boolean;
      moved: boolean;
      has_segments: boolean;
      customer_id: string;
    }>(
      tem,
      new Sql().add(
        `select (plan_id <> ? or pending_change is distinct from ?::jsonb) as changed,
            (plan_id <> ? or phase_key <> ? or status <> ?) as reshaped,
            (plan_id <> ? or plan_since is distinct from ?::timestamptz) as moved,
            exists (select 1 from subscription_plan_segments g where g.subscription_id = s.id) as has_segments,
            customer_id from subscriptions s
          where id = ? and status <> 'canceled' for update`,
        r.plan.id,
        r.pendingChange ? JSON.stringify(r.pendingChange) : null,
        r.plan.id,
        r.phaseKey,
        r.status ?? 'active',
        r.plan.id,
        r.planSince ?? null,
        r.subscriptionId,
      ),
    );
    if (before?.moved && r.planSince) await writeSegment(tem, r, before.has_segments);
    await writePeriod(tem, r);
    if (before?.changed)
      await recordEvent(tem, 'subscription.changed', () => getSubscription(tem, r.subscriptionId));
    return { reshaped: before?.reshaped ?? false, customerId: before?.customer_id };
  });
}

/**
 * The plan segment that starts at `r.planSince` (the version switched to, the phase in force then and its
 * start), written when the row's version or `plan_since` is about to change. Keyed by (subscription,
 * since): a retried activity finds it written (its row write landed in the same transaction), and a
 * version replaced from the same instant (before a scheduled start) overwrites it. A subscription from
 * before the segments first gets one for the version it was on (from the row, before the write).
 */
async function writeSegment(em: EntityManager, r: PeriodRecord, hasSegments: boolean): Promise<void> {
  if (!hasSegments)
    await exec(
      em,
      new Sql().add(
        `insert into subscription_plan_segments (subscription_id, since, plan_id, phase_key, phase_started_at)
         select id, coalesce(plan_since, active_from), plan_id, phase_key, phase_started_at
           from subscriptions where id = ?
         on conflict (subscription_id, since) do nothing`,
        r.subscriptionId,
      ),
    );
  await exec(
    em,
    new Sql().add(
      `insert into subscription_plan_segments (subscription_id, since, plan_id, phase_key, phase_started_at)
       values (?, ?, ?, ?, ?)
       on conflict (subscription_id, since) do update
         set plan_id = excluded.plan_id, phase_key = excluded.phase_key,
             phase_started_at = excluded.phase_started_at
         where subscription_plan_segments.plan_id <> excluded.plan_id`,
      r.subscriptionId,
      r.planSince,
      r.plan.id,
      r.phaseKey,
      r.phaseStartedAt,
    ),
  );
}

async function writePeriod(em: EntityManager, r: PeriodRecord): Promise<void> {
  const q = new Sql().add(
    `update subscriptions set status = ?, plan_id = ?, plan_key = ?, plan_version = ?,
       plan_since = coalesce(?::timestamptz, plan_since), phase_key = ?, phase_started_at = ?,
       current_period_start = ?, current_period_end = ?, next_period_end = ?, pending_change = ?::jsonb,
       updated_at = now()
     where id = ? and status <> 'canceled'`,
    ...[
      r.status ?? 'active',
      r.plan.id,
      r.plan.key,
      r.plan.version,
      r.planSince ?? null,
      r.phaseKey,
      r.phaseStartedAt,
      r.periodStart,
      r.periodEnd,
      r.nextPeriodEnd ?? null,
      r.pendingChange ? JSON.stringify(r.pendingChange) : null,
      r.subscriptionId,
    ],
  );
  await exec(em, q);
}

/** The failing invoice shown on the subscription, or null once none fails (idempotent). */
export async function recordInvoiceFailure(
  em: EntityManager,
  subscriptionId: string,
  failure: InvoiceFailureRecord | null,
): Promise<void> {
  const q = new Sql().add(
    'update subscriptions set invoice_failure = ?::jsonb, updated_at = now() where id = ?',
    failure
      ? JSON.stringify({
          invoiceKey: failure.invoiceKey,
          tries: failure.tries,
          since: failure.since,
          lastError: failure.lastError,
          retryAt: failure.retryAt,
        })
      : null,
    subscriptionId,
  );
  await exec(em, q);
}

export async function recordCanceled(
  em: EntityManager,
  subscriptionId: string,
  activeTo: string,
): Promise<void> {
  const q = new Sql().add(
    `with prev as (select id, status from subscriptions where id = ? for update)
     update subscriptions s set status = 'canceled', active_to = ?, pending_change = null, updated_at = now()
       from prev where s.id = prev.id
     returning prev.status as before`,
    subscriptionId,
    activeTo,
  );
  // notifications (issue 12): subscription.canceled once, when the row becomes canceled
  await em.transactional(async (tem) => {
    const [row] = await exec<{ before: string }>(tem, q);
    if (row && row.before !== 'canceled')
      await recordEvent(tem, 'subscription.canceled', () => getSubscription(tem, subscriptionId));
  });
}

// ---------------------------------------------------------------------------------------------------
// API operations

export interface PlanInputRef {
  id?: string;
  key?: string;
  version?: number;
}

const hasMeteredEntitlement = (plan: Plan): boolean =>
  plan.phases.some((ph) => ph.rate_cards.some((rc) => rc.entitlement?.type === 'metered'));

async function activePlan(em: EntityManager, ref: PlanInputRef, field: string): Promise<Plan> {
  const planRef: PlanRef = ref.id
    ? { id: ref.id }
    : { key: ref.key!, ...(ref.version !== undefined ? { version: ref.version } : {}) };
  let plan: Plan;
  try {
    plan = await resolvePlan(em, planRef);
  } catch (e) {
    // "no active version" is a bad request from the subscriber's point of view
    if (e instanceof ConflictError) throw invalid(e.message, [{ field, reason: e.message }]);
    throw e;
  }
  if (plan.status !== 'active') {
    const detail = `plan ${plan.key} version ${plan.version} is ${plan.status}, not active`;
    throw invalid(detail, [{ field, reason: detail }]);
  }
  return plan;
}

/** A subscription invoices in one currency: moving it to a plan priced in another is refused. */
function sameCurrency(row: Row, target: Plan, field: string): void {
  if (target.currency.trim() === row.plan.currency.trim()) return;
  const detail = `plan ${target.key} version ${target.version} is priced in ${target.currency}, the subscription in ${row.plan.currency.trim()}`;
  throw invalid(detail, [{ field, reason: detail }]);
}

/** A customization (OpenMeter v1's SubscriptionEditOperation, snake_case; `update_item` is Tally's). */
export type Customization =
  RateCardChange | { op: 'unschedule_edit' } | { op: 'add_phase' | 'remove_phase'; [k: string]: unknown };

export interface CreateSubscriptionInput {
  customer: { id?: string; key?: string };
  /** a catalog plan … */
  plan?: PlanInputRef;
  /** … or a custom plan (the subscription's own version, never listed) */
  custom_plan?: CustomPlanInput;
  /** per-rate-card overrides of the catalog plan (the subscription's own version derived from it) */
  customizations?: Customization[];
  billing_anchor?: string;
  /** a future instant makes the subscription `scheduled` until then; absent or now: it starts now */
  active_from?: string;
  /** it ends there (billed as a cancelation at that instant; withdrawn by unschedule-cancelation) */
  active_to?: string;
  labels?: Record<string, string>;
  settlement_mode?: 'credit_then_invoice' | 'credit_only';
  cost_basis_mode?: 'dynamic' | 'pinned';
}

/**
 * The rate-card changes of a list of customizations; `add_phase`, `remove_phase` (not supported yet) and
 * `unschedule_edit` (alone only) are refused, naming the field.
 */
function rateCardChanges(list: readonly Customization[], field: string): RateCardChange[] {
  const bad: InvalidParam[] = [];
  list.forEach((c, i) => {
    if (c.op === 'add_phase' || c.op === 'remove_phase')
      bad.push({
        field: `${field}[${i}].op`,
        reason: `${c.op} is not supported yet (add_item, remove_item, update_item, stretch_phase are)`,
      });
    else if (c.op === 'unschedule_edit')
      bad.push({ field: `${field}[${i}].op`, reason: 'unschedule_edit goes alone, in an edit of its own' });
  });
  if (bad.length) throw invalid(bad.map((b) => `${b.field}: ${b.reason}`).join('; '), bad);
  return list as RateCardChange[];
}

/**
 * The start instants of the phase at `index` (started at `start`) and the phases after it, by their
 * durations, as far as they are known (the view's timeline walks the same way).
 */
function phaseStarts(
  phases: readonly { key: string; duration?: string }[],
  index: number,
  start: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  let at: Date | undefined = new Date(start);
  for (let i = index; i < phases.length && at; i++) {
    out[phases[i].key] = at.toISOString();
    const d = phases[i].duration;
    at = d ? addDuration(at, d) : undefined;
  }
  return out;
}

/** How the changes of `switchToDerived` are marked and named. */
export interface DerivedSwitchOptions {
  source: ItemSource;
  /** the field of change i in errors, e.g. `body.customizations[2]` */
  fieldOf: (index: number) => string;
  /** recorded on the origins of the items it adds or changes (e.g. an add-on's id) */
  ref?: Record<string, string>;
}

/** How far in the past `active_from` may be and still mean "now" (clock skew between client and server). */
const ACTIVE_FROM_SKEW_MS = 60_000;

/**
 * The start and end of a new subscription: `active_from` (now when absent or within the skew of now; a
 * past start is refused, Tally does not bill backwards) and `active_to` (after the start and after now).
 */
function startAndEnd(input: CreateSubscriptionInput, now: Date): { activeFrom: string; activeTo?: string } {
  let activeFrom = now.toISOString();
  if (input.active_from !== undefined) {
    const from = Date.parse(input.active_from);
    if (from < now.getTime() - ACTIVE_FROM_SKEW_MS) {
      const detail = `active_from ${input.active_from} is in the past; a subscription starts now or later`;
      throw invalid(detail, [{ field: 'body.active_from', reason: detail }]);
    }
    if (from > now.getTime()) activeFrom = instant(input.active_from);
  }
  if (input.active_to === undefined) return { activeFrom };
  const to = Date.parse(input.active_to);
  if (to <= Date.parse(activeFrom)) {
    const detail = `active_to ${input.active_to} is not after active_from ${activeFrom}`;
    throw invalid(detail, [{ field: 'body.active_to', reason: detail }]);
  }
  return { activeFrom, activeTo: instant(input.active_to) };
}

/** Maps a rejected Update (validator or handler) onto the domain errors; anything else is unavailable. */
export function updateError(e: unknown): DomainError {
  if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure) {
    return e.cause.type === REJECTION_TYPES.bad_request
      ? invalid(e.cause.message)
      : conflict(e.cause.message);
  }
  if (e instanceof Error && e.name === 'WorkflowNotFoundError') {
    return conflict('the subscription workflow is no longer running');
  }
  if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return unavailable(
      `the subscription workflow did not answer within ${TEMPORAL_UPDATE_TIMEOUT_MS / 1000} s; ` +
        'the request may still be applied (see the subscription), or retry',
    );
  }
  // the driver's text goes to the log only (`send` logs it), never into the answer
  return unavailable('the subscription workflow did not answer (Temporal unavailable); retry');
}

/**
 * The subscriptions service of the API. Each call uses `deps.orm.em`, which inside a request is that
 * request's fork (RequestContext, see src/db/README.md); it never forks. Callers outside a request (tools,
 * benchmarks) run it inside `RequestContext.create(orm.em, ...)`.
 */
export function createSubscriptionsService(deps: Pick<AppDeps, 'orm' | 'config' | 'temporal' | 'logger'>) {
  const em = (): EntityManager => deps.orm.em;
  const temporal = (): Client => {
    if (!deps.temporal) throw unavailable('Temporal is not configured');
    return deps.temporal;
  };

  async function create(input: CreateSubscriptionInput): Promise<SubscriptionView> {
    const e = em();
    // an explicit id names ids only and an explicit key keys only (a key is never taken for an id)
    const ref = input.customer;
    const customer = await getCustomer(
      e,
      ref.id !== undefined ? { id: ref.id.toUpperCase() } : { key: ref.key! },
    );
    if (ref.id !== undefined && ref.key !== undefined && ref.key !== customer.key)
      throw invalid('customer.id and customer.key name different customers', [
        { field: 'body.customer.key', reason: `customer ${customer.id} has key [${customer.key}]` },
      ]);
    const now = new Date();
    const { activeFrom, activeTo } = startAndEnd(input, now);
    const client = temporal();
    // the customer's billing profile, for the TallyBillingProfileId search attribute (read before anything
    // is written: no default profile yet is a 503 with nothing to undo)
    const billing = await resolveCustomerBilling(e, customer.id);
    const id = newId();
    // the subscription's own version (a custom plan, or the catalog plan with overrides) is stored first:
    // the row refers to it
    let plan: Plan;
    let own: SubscriptionPlanVersion | undefined;
    if (input.custom_plan) {
      own = await createCustomVersion(e, id, input.custom_plan, 'body.custom_plan');
      plan = own;
    } else {
      const base = await activePlan(e, input.plan!, 'body.plan');
      plan = base;
      if (input.customizations?.length) {
        own = await deriveSubscriptionVersion(e, {
          ownerSubscriptionId: id,
          base,
          changes: rateCardChanges(input.customizations, 'body.customizations'),
          source: 'override',
          fieldOf: (i) => `body.customizations[${i}]`,
          phaseStarts: phaseStarts(base.phases, 0, activeFrom),
        });
        plan = own;
      }
    }
    const dropOwn = async () => {
      if (own) await deleteSubscriptionVersion(em(), own.id);
    };
    const state = initialState(
      {
        subscriptionId: id,
        customerId: customer.id,
        activeFrom,
        billingAnchor: input.billing_anchor ? instant(input.billing_anchor) : activeFrom,
        plan: toPlanSchedule(plan),
        ...(activeTo ? { activeTo } : {}),
      },
      now.getTime(),
    );
    const workflowId = `subscription-${id}`;
    const nextBilling = nextBillingAt(state);
    // the row and its first plan segment (the timeline), in one statement
    const insert = new Sql().add(
      `with s as (
         insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
           billing_anchor, active_from, plan_since, phase_key, phase_started_at, current_period_start,
           current_period_end, next_period_end, pending_change, workflow_id, labels, settlement_mode,
           cost_basis_mode, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?, ?, ?, ?)
         returning id, plan_since, plan_id, phase_key, phase_started_at)
       insert into subscription_plan_segments (subscription_id, since, plan_id, phase_key, phase_started_at)
       select id, plan_since, plan_id, phase_key, phase_started_at from s`,
      ...[
        id,
        customer.id,
        customer.key,
        plan.id,
        plan.key,
        plan.version,
        state.status,
        state.billingAnchor,
        activeFrom,
        activeFrom,
        phaseOf(state).key,
        state.phaseStartedAt,
        state.period!.from,
        state.period!.to,
        plainNextPeriod(state)?.to ?? null,
        state.pendingChange ? JSON.stringify(state.pendingChange) : null,
        workflowId,
        JSON.stringify(input.labels ?? {}),
        input.settlement_mode ?? 'credit_then_invoice',
        input.cost_basis_mode ?? 'dynamic',
        now,
        now,
      ],
    );
    try {
      await exec(e, insert);
    } catch (err) {
      await dropOwn();
      throw err;
    }
    try {
      await client.workflow.start<SubscriptionWorkflow>('subscriptionWorkflow', {
        taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
        workflowId,
        args: [state],
        typedSearchAttributes: [
          { key: SA_CUSTOMER_KEY, value: customer.key },
          { key: SA_PLAN_KEY, value: plan.key },
          { key: SA_PLAN_VERSION, value: plan.version },
          { key: SA_STATUS, value: state.status },
          { key: SA_BILLING_PROFILE, value: billing.profile_id },
          ...(nextBilling ? [{ key: SA_NEXT_BILLING_AT, value: new Date(nextBilling) }] : []),
        ],
        staticSummary: `Subscription of customer ${customer.key} (${customer.name})`,
        memo: { customer_name: customer.name },
      });
    } catch (err) {
      // compensation: no row without its workflow
      await exec(em(), new Sql().add('delete from subscriptions where id = ?', id));
      await dropOwn();
      deps.logger.error({ err, subscription_id: id }, 'could not start the subscription workflow');
      throw unavailable('could not start the subscription workflow (Temporal unavailable); retry');
    }
    deps.logger.info({ subscription_id: id, customer: customer.key, plan: plan.key }, 'subscription created');
    // notifications (issue 12): the usage-period resets of its metered entitlements
    if (hasMeteredEntitlement(plan))
      await kickEntitlementResets(client, deps.config.TEMPORAL_TASK_QUEUE, {
        subscriptionId: id,
        customerId: customer.id,
      }).catch((err: unknown) =>
        deps.logger.error({ err, subscription_id: id }, 'could not start the entitlement-resets workflow'),
      );
    // notifications (issue 12): recorded once the workflow runs (a row whose start failed was removed above)
    await recordEvent(em(), 'subscription.created', () => getSubscription(em(), id), {
      customerId: customer.id,
    });
    return getSubscription(em(), id);
  }

  /** A plan change or migration would drop the add-ons' items: 409 while the subscription has any. */
  async function withoutAddons(id: string, what: string): Promise<void> {
    const n = await liveAddonCount(em(), id);
    if (n > 0)
      throw conflict(`subscription ${id} has ${n} add-on(s); cancel them before its plan is ${what}`, {
        addons_count: n,
      });
  }

  async function activeRow(id: string): Promise<Row> {
    const row = await findRow(em(), id);
    if (!row) throw notFound('subscription', id);
    if (row.status === 'canceled') throw conflict(`subscription ${id} has ended (inactive)`);
    return row;
  }

  async function send(
    row: Row,
    run: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<unknown>,
  ): Promise<SubscriptionView> {
    const client = temporal();
    const handle = client.workflow.getHandle(row.workflow_id);
    try {
      // one deadline for the whole Update (the SDK polls until the workflow answers)
      await withTemporalDeadline(client, TEMPORAL_UPDATE_TIMEOUT_MS, () => run(handle));
    } catch (e) {
      const problem = updateError(e);
      if (problem instanceof UnavailableError)
        deps.logger.warn({ err: e, subscription_id: row.id }, 'subscription update failed');
      throw problem;
    }
    return getSubscription(em(), row.id);
  }

  /**
   * Derives the subscription's next own version from the one it is on (`changes`, items marked
   * `opts.source`) and has the workflow switch to it with `timing` (the `edit` Update: a plan change's
   * timings and proration, the phase kept; before a scheduled start `immediate` replaces the version from
   * the start). Refused (409/400 naming fields) with nothing changed when a change is already scheduled,
   * the timing has passed, a change does not fit, or a stretched phase would end before the switch. Edits use it; add-ons can (`source: 'addon'`, `ref`).
   */
  async function switchToDerived(
    row: Row,
    changes: RateCardChange[],
    timing: Timing,
    opts: DerivedSwitchOptions,
  ): Promise<SubscriptionView> {
    if (row.pending_change)
      throw conflict(
        `a ${row.pending_change.kind} is already scheduled (${row.pending_change.at}); unschedule it first`,
      );
    const now = new Date();
    const period = currentPeriodOf(row, now);
    let effective = now.getTime();
    if (timing === 'next_billing_cycle') effective = period ? period.to.getTime() : effective;
    else if (timing !== 'immediate') {
      effective = Date.parse(timing);
      if (effective <= now.getTime()) {
        const detail = `timing ${timing} is not in the future`;
        throw invalid(detail, [{ field: 'body.timing', reason: detail }]);
      }
    }
    const base = await getVersionWithOrigins(em(), row.plan_id);
    const index = base.phases.findIndex((p) => p.key === row.phase_key);
    const starts = phaseStarts(base.phases, Math.max(index, 0), instant(row.phase_started_at));
    const version = await deriveSubscriptionVersion(em(), {
      ownerSubscriptionId: row.id,
      base,
      changes,
      source: opts.source,
      fieldOf: opts.fieldOf,
      ...(opts.ref ? { ref: opts.ref } : {}),
      phaseStarts: starts,
      frozenPhases: base.phases.slice(0, Math.max(index, 0)).map((p) => p.key),
    });
    // a stretched phase must not end before the edit takes effect (else it would end in the past); ending
    // exactly there is a phase switch, made at a period end only (machine's stretchedEndIssue)
    const bad: InvalidParam[] = [];
    changes.forEach((c, i) => {
      if (c.op !== 'stretch_phase' || !starts[c.phase_key]) return;
      const phase = version.phases.find((p) => p.key === c.phase_key)!;
      const end = addDuration(new Date(starts[c.phase_key]), phase.duration!).getTime();
      const issue = stretchedEndIssue(end, effective, period?.to.getTime());
      if (issue)
        bad.push({
          field: `${opts.fieldOf(i)}.extend_by`,
          reason: `phase ${c.phase_key} would end at ${instant(new Date(end))}, ${issue === 'before' ? 'before' : 'exactly when, but not at a period end,'} the edit takes effect (${instant(new Date(effective))})`,
        });
    });
    if (bad.length) {
      await deleteSubscriptionVersion(em(), version.id);
      throw conflict(bad.map((b) => b.reason).join('; '), { invalid_parameters: bad });
    }
    try {
      return await send(row, (h) =>
        h.executeUpdate(editUpdate, { args: [{ timing, plan: toPlanSchedule(version) }] }),
      );
    } catch (e) {
      // refused (or not known to be applied): the version stays only when the workflow took it
      const after = await findRow(em(), row.id);
      const taken = after?.plan_id === version.id || after?.pending_change?.plan?.id === version.id;
      if (!taken && !(e instanceof UnavailableError)) await deleteSubscriptionVersion(em(), version.id);
      throw e;
    }
  }

  return {
    create,
    get: (id: string) => getSubscription(em(), id),
    list: (q: SubscriptionListQuery) => listSubscriptions(em(), q),

    async cancel(id: string, timing: Timing): Promise<SubscriptionView> {
      const row = await activeRow(id);
      return send(row, (h) => h.executeUpdate(cancelUpdate, { args: [{ timing }] }));
    },

    /** withdraws the scheduled cancelation (409 when none is scheduled) */
    async unscheduleCancelation(id: string): Promise<SubscriptionView> {
      const row = await activeRow(id);
      if (row.pending_change?.kind !== 'cancel')
        throw conflict(`subscription ${id} has no scheduled cancelation`);
      return send(row, (h) => h.executeUpdate(unscheduleCancelationUpdate, { args: [] }));
    },

    async change(
      id: string,
      plan: PlanInputRef,
      timing: Timing,
      customer?: { id?: string; key?: string },
    ): Promise<SubscriptionView> {
      const row = await activeRow(id);
      if (customer) {
        const named = customer.id !== undefined ? customer.id.toUpperCase() === row.customer_id : true;
        const keyed = customer.key !== undefined ? customer.key === row.customer_key : true;
        if (!named || !keyed)
          throw invalid("a plan change keeps the subscription's customer", [
            { field: 'body.customer', reason: `the subscription belongs to customer ${row.customer_id}` },
          ]);
      }
      await withoutAddons(row.id, 'changed');
      const target = await activePlan(em(), plan, 'body.plan');
      sameCurrency(row, target, 'body.plan');
      return send(row, (h) =>
        h.executeUpdate(changeUpdate, { args: [{ timing, plan: toPlanSchedule(target) }] }),
      );
    },

    /**
     * An edit (OpenMeter v1's SubscriptionEdit): the subscription's own version derived from the current one
     * by the customizations, switched to with `timing` by the workflow (billed like a plan change; the phase
     * position is kept). `[{ op: 'unschedule_edit' }]` withdraws a scheduled edit. Nothing is changed when
     * the edit is refused (its version is removed again).
     */
    async edit(id: string, customizations: Customization[], timing: Timing): Promise<SubscriptionView> {
      const row = await activeRow(id);
      if (customizations.length === 1 && customizations[0].op === 'unschedule_edit') {
        if (row.pending_change?.kind !== 'edit') throw conflict(`subscription ${id} has no scheduled edit`);
        return send(row, (h) => h.executeUpdate(unscheduleEditUpdate, { args: [] }));
      }
      return switchToDerived(row, rateCardChanges(customizations, 'body.customizations'), timing, {
        source: 'edit',
        fieldOf: (i) => `body.customizations[${i}]`,
      });
    },

    /** `switchToDerived` for another domain's changes (e.g. add-ons: `source: 'addon'`) */
    switchToDerived: async (
      id: string,
      changes: RateCardChange[],
      timing: Timing,
      opts: DerivedSwitchOptions,
    ): Promise<SubscriptionView> => switchToDerived(await activeRow(id), changes, timing, opts),

    async migrate(id: string, targetVersion: number | undefined, timing: Timing): Promise<SubscriptionView> {
      const row = await activeRow(id);
      await withoutAddons(row.id, 'migrated');
      if (row.plan.custom && !row.plan.base_plan_id)
        throw conflict(`subscription ${id} is on a custom plan: it has no catalog versions to migrate to`);
      const notNewer = (v: number) =>
        conflict(
          `plan ${row.plan_key} version ${v} is not newer than the current version ${row.plan_version}`,
        );
      if (targetVersion !== undefined && targetVersion <= row.plan_version) throw notNewer(targetVersion);
      const target = await activePlan(
        em(),
        { key: row.plan_key, ...(targetVersion !== undefined ? { version: targetVersion } : {}) },
        'body.target_version',
      );
      if (target.version <= row.plan_version) throw notNewer(target.version);
      sameCurrency(row, target, 'body.target_version');
      return send(row, (h) =>
        h.executeUpdate(migrateUpdate, { args: [{ timing, plan: toPlanSchedule(target) }] }),
      );
    },
  };
}

export type SubscriptionsService = ReturnType<typeof createSubscriptionsService>;
