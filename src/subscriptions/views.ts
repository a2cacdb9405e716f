/** The API view of a subscription: `SubscriptionView` and its mapper from the row and its plan version. */
import { createHash } from 'node:crypto';
import type { PlanSummary } from '../catalog/plan-summaries';
import { addDuration } from '../catalog/periods';
import type { ItemSource } from '../catalog/derive';
import type { RateCard } from '../catalog/types';
import { instant } from '../lib/time';
import type { InvoiceFailureRecord, PendingChangeRecord } from './records';
import { currentPeriodOf } from './row-period';
import { apiStatus, type ApiStatus } from './status';
import { contractTimeline, type PlanSegment, type TimelinePhase } from './timeline';

/** The API shape of a subscription (a subset of `BillingSubscription` plus Tally's timing fields). */
export interface SubscriptionView {
  id: string;
  name: string;
  customer_id: string;
  /** the catalog plan version it is on or derives from; absent for a custom plan */
  plan?: { id: string; key: string; version: number };
  plan_id?: string;
  /**
   * Tally extension: the plan version billed, the catalog one or the subscription's own (a custom plan,
   * overrides, edits: `custom` true), never listed in /plans
   */
  plan_version: { id: string; key: string; version: number; custom: boolean };
  /** OpenMeter's statuses (`status.ts`): `canceled` runs until its `active_to`, `inactive` has ended */
  status: ApiStatus;
  labels: Record<string, string>;
  settlement_mode: 'credit_then_invoice' | 'credit_only';
  cost_basis_mode: 'dynamic' | 'pinned';
  /** always empty: Tally has no custom currencies */
  cost_basis_pins: never[];
  invoice_currency: string;
  billing_cadence: string;
  billing_anchor: string;
  active_from: string;
  active_to?: string;
  current_period?: { from: string; to: string };
  next_billing_at?: string;
  /** Tally extension: the current phase */
  phase: { key: string; active_from: string };
  /**
   * OpenMeter's timeline of the contract (timeline.ts): the phases of every plan version it has been on,
   * is on and is scheduled to switch to, each over the interval it is (was, will be) in force
   */
  phases: SubscriptionPhaseView[];
  pending_changes: {
    type: PendingChangeRecord['kind'];
    timing: string;
    plan?: PendingChangeRecord['plan'];
  }[];
  /** present while issuing one of its invoices keeps failing (the workflow retries it with a backoff) */
  invoice_failure?: {
    invoice_key: string;
    /** failed tries so far (each try is a few attempts) */
    attempts: number;
    failing_since: string;
    last_error: string;
    next_attempt_at: string;
  };
  created_at: string;
  updated_at: string;
}

export interface SubscriptionPhaseView {
  id: string;
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  created_at: string;
  updated_at: string;
  active_from: string;
  active_to?: string;
  items: SubscriptionItemView[];
}

export interface SubscriptionItemView {
  id: string;
  /** Tally extension: where the item came from */
  origin: ItemSource;
  active_from: string;
  active_to?: string;
  rate_card: RateCard;
}

/** A stable ULID-shaped id for a part of a subscription that has no row of its own (a phase, an item). */
export function derivedId(...parts: string[]): string {
  const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  let out = '';
  for (let i = 0; i < 26; i++) out += ALPHABET[h[i] % 32];
  // the first character of a ULID is at most 7 (48-bit timestamp)
  return `${ALPHABET[h[26] % 8]}${out.slice(1)}`;
}

/**
 * The fallback for rows without plan segments (from before the timeline was recorded; with segments the
 * timeline is `timeline.ts`'s): the phases of the subscription's plan version. The current phase started at
 * `phase_started_at`; later ones follow by their durations; earlier ones are shown when walking forward
 * from `active_from` lands on the current phase's start (the subscription has been on this version all
 * along). Everything ends at `end` (a scheduled cancelation or plan change, or `active_to`).
 */
export function phaseTimeline(
  r: SubscriptionRow,
  plan: PlanSummary,
  end: string | undefined,
): SubscriptionPhaseView[] {
  const phases = plan.phases ?? [];
  const k = phases.findIndex((p) => p.key === r.phase_key);
  if (k < 0) return [];
  const starts: (Date | undefined)[] = phases.map(() => undefined);
  starts[k] = new Date(instant(r.phase_started_at));
  for (let i = k + 1; i < phases.length; i++) {
    const d = phases[i - 1].duration;
    starts[i] = d ? addDuration(starts[i - 1]!, d) : undefined;
    if (!starts[i]) break;
  }
  // earlier phases, when the walk from active_from is consistent with the current phase's start
  const walk: Date[] = [new Date(instant(r.active_from))];
  for (let i = 0; i < k; i++) {
    const d = phases[i].duration;
    if (!d) break;
    walk.push(addDuration(walk[i], d));
  }
  if (walk.length === k + 1 && walk[k].getTime() === starts[k].getTime())
    for (let i = 0; i < k; i++) starts[i] = walk[i];
  const endMs = end ? Date.parse(end) : undefined;
  const created = instant(r.created_at);
  const updated = instant(r.updated_at);
  const out: SubscriptionPhaseView[] = [];
  phases.forEach((p, i) => {
    const from = starts[i];
    if (!from) return;
    if (endMs !== undefined && from.getTime() >= endMs && i !== k) return;
    const next = starts[i + 1];
    let to = next && phases[i].duration ? next.getTime() : undefined;
    if (endMs !== undefined && (to === undefined || endMs < to)) to = endMs;
    const active_from = instant(from);
    const active_to = to !== undefined ? instant(new Date(to)) : undefined;
    out.push({
      id: derivedId(r.id, plan.id, p.key),
      key: p.key,
      name: p.name,
      ...(p.description !== undefined ? { description: p.description } : {}),
      ...(p.labels ? { labels: p.labels } : {}),
      created_at: created,
      updated_at: updated,
      active_from,
      ...(active_to ? { active_to } : {}),
      items: phaseItems(r, plan, p.key, p.rate_cards, from.getTime(), to),
    });
  });
  return out;
}

/**
 * The items of a phase running [from, to): each with its origin. When the current version took effect
 * inside the phase (an edit, `plan_since`), the items it added or changed run from then on, and the ones it
 * removed or replaced are shown ending then.
 */
function phaseItems(
  r: SubscriptionRow,
  plan: PlanSummary,
  phaseKey: string,
  rateCards: readonly RateCard[],
  from: number,
  to: number | undefined,
): SubscriptionItemView[] {
  const since = r.plan_since ? Date.parse(instant(r.plan_since)) : undefined;
  const inside = since !== undefined && since > from && (to === undefined || since < to);
  const fmt = (ms: number) => instant(new Date(ms));
  const out: SubscriptionItemView[] = [];
  if (inside)
    for (const old of plan.origins?.replaced?.[phaseKey] ?? [])
      out.push({
        id: derivedId(r.id, old.origin.version, phaseKey, old.rate_card.key),
        origin: old.origin.source,
        active_from: fmt(from),
        active_to: fmt(since),
        rate_card: old.rate_card,
      });
  for (const rc of rateCards) {
    const origin = plan.origins?.items[phaseKey]?.[rc.key] ?? { source: 'plan' as const, version: plan.id };
    const start = inside && origin.version === plan.id ? since : from;
    out.push({
      id: derivedId(r.id, origin.version, phaseKey, rc.key),
      origin: origin.source,
      active_from: fmt(start),
      ...(to !== undefined ? { active_to: fmt(to) } : {}),
      rate_card: rc,
    });
  }
  return out;
}

/** A timestamp as a raw row carries it: PostgreSQL's text (`2026-01-01 00:00:00.123456+00`) or a Date. */
type Instant = Date | string;

/** A raw `subscriptions` row. */
export interface SubscriptionRow {
  id: string;
  customer_id: string;
  customer_key: string;
  plan_id: string;
  plan_key: string;
  plan_version: number;
  status: 'scheduled' | 'active' | 'canceled';
  billing_anchor: Instant;
  active_from: Instant;
  active_to: Instant | null;
  /** when the current plan version took effect (null on rows from before issue 13's edits) */
  plan_since?: Instant | null;
  phase_key: string;
  phase_started_at: Instant;
  current_period_start: Instant | null;
  current_period_end: Instant | null;
  next_period_end: Instant | null;
  pending_change: PendingChangeRecord | null;
  invoice_failure: InvoiceFailureRecord | null;
  workflow_id: string;
  labels?: Record<string, string> | null;
  settlement_mode?: string | null;
  cost_basis_mode?: string | null;
  created_at: Instant;
  updated_at: Instant;
}

/** What the timeline needs beyond the row: its plan segments and the plan versions they name. */
export interface TimelineContext {
  segments: readonly PlanSegment[];
  /** the versions of the segments and of the pending switch (the row's own included) */
  plans: ReadonlyMap<string, PlanSummary>;
}

/** A timeline (timeline.ts) in the API's shape. */
function phaseViews(r: SubscriptionRow, phases: TimelinePhase[]): SubscriptionPhaseView[] {
  const created = instant(r.created_at);
  const updated = instant(r.updated_at);
  const at = (ms: number) => instant(new Date(ms));
  return phases.map((p) => ({
    id: p.id,
    key: p.key,
    name: p.name,
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.labels ? { labels: p.labels } : {}),
    created_at: created,
    updated_at: updated,
    active_from: at(p.from),
    ...(p.to !== undefined ? { active_to: at(p.to) } : {}),
    items: p.items.map((it) => ({
      id: it.id,
      origin: it.origin,
      active_from: at(it.from),
      ...(it.to !== undefined ? { active_to: at(it.to) } : {}),
      rate_card: it.rate_card,
    })),
  }));
}

/**
 * The view of a row with its plan version's name, currency and cadence, its current period at `now`.
 * With its plan segments (`ctx`) the phases are the contract's whole timeline; without (rows from before
 * the segments) the current version's phases as far as the row tells them (`phaseTimeline`).
 */
export function subscriptionView(
  r: SubscriptionRow,
  plan: PlanSummary,
  now = new Date(),
  ctx?: TimelineContext,
): SubscriptionView {
  const period = currentPeriodOf(r, now);
  // a subscription's own version shows the catalog version it derives from (none: a custom plan)
  const catalogId = plan.custom ? plan.base_plan_id : r.plan_id;
  const at = r.pending_change?.at;
  const pendingAt = !at ? undefined : /^\d{4}-/.test(at) ? at : period ? instant(period.to) : undefined;
  // the contract ends at a scheduled cancelation or plan change (an edit changes items, not the end)
  const end = r.active_to ? instant(r.active_to) : r.pending_change?.kind === 'edit' ? undefined : pendingAt;
  // a scheduled cancelation shows as the end of the subscription (OpenMeter's active_to)
  const activeTo = r.active_to
    ? instant(r.active_to)
    : r.pending_change?.kind === 'cancel'
      ? pendingAt
      : undefined;
  return {
    id: r.id,
    name: plan.name,
    customer_id: r.customer_id,
    ...(catalogId
      ? { plan_id: catalogId, plan: { id: catalogId, key: r.plan_key, version: r.plan_version } }
      : {}),
    plan_version: { id: r.plan_id, key: r.plan_key, version: r.plan_version, custom: !!plan.custom },
    status: apiStatus(r.status, r.pending_change?.kind),
    labels: r.labels ?? {},
    settlement_mode: r.settlement_mode === 'credit_only' ? 'credit_only' : 'credit_then_invoice',
    cost_basis_mode: r.cost_basis_mode === 'pinned' ? 'pinned' : 'dynamic',
    cost_basis_pins: [],
    invoice_currency: plan.currency.trim(),
    billing_cadence: plan.billing_cadence,
    billing_anchor: instant(r.billing_anchor),
    active_from: instant(r.active_from),
    ...(activeTo ? { active_to: activeTo } : {}),
    ...(r.status === 'active' && period
      ? {
          current_period: { from: instant(period.from), to: instant(period.to) },
          next_billing_at: instant(period.to),
        }
      : {}),
    phase: { key: r.phase_key, active_from: instant(r.phase_started_at) },
    phases: timeline(r, plan, ctx, pendingAt, activeTo) ?? phaseTimeline(r, plan, end),
    pending_changes: r.pending_change
      ? [
          {
            type: r.pending_change.kind,
            timing: r.pending_change.at,
            // an edit's version is the subscription's own: not a plan to show
            ...(r.pending_change.plan && r.pending_change.kind !== 'edit'
              ? { plan: r.pending_change.plan }
              : {}),
          },
        ]
      : [],
    ...(r.invoice_failure
      ? {
          invoice_failure: {
            invoice_key: r.invoice_failure.invoiceKey,
            attempts: r.invoice_failure.tries,
            failing_since: r.invoice_failure.since,
            last_error: r.invoice_failure.lastError,
            next_attempt_at: r.invoice_failure.retryAt,
          },
        }
      : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
  };
}

/** The timeline from the segments (undefined without any: the caller falls back to `phaseTimeline`). */
function timeline(
  r: SubscriptionRow,
  plan: PlanSummary,
  ctx: TimelineContext | undefined,
  pendingAt: string | undefined,
  activeTo: string | undefined,
): SubscriptionPhaseView[] | undefined {
  if (!ctx?.segments.length) return undefined;
  const pc = r.pending_change;
  const plans = new Map(ctx.plans);
  plans.set(plan.id, plan);
  return phaseViews(
    r,
    contractTimeline(
      {
        subscriptionId: r.id,
        billingAnchor: Date.parse(instant(r.billing_anchor)),
        segments: ctx.segments,
        plans,
        current: {
          planId: r.plan_id,
          phaseKey: r.phase_key,
          phaseStartedAt: Date.parse(instant(r.phase_started_at)),
        },
        ...(pc && pc.kind !== 'cancel' && pc.plan && pendingAt
          ? { pending: { kind: pc.kind, at: Date.parse(pendingAt), planId: pc.plan.id } }
          : {}),
        ...(activeTo ? { end: Date.parse(activeTo) } : {}),
      },
      derivedId,
    ),
  );
}
