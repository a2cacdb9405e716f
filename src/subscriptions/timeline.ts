/**
 * The contract's timeline (OpenMeter's `phases[]`): past, current and scheduled phases with their items,
 * built from the subscription's plan segments (`subscription_plan_segments`: which version was in force from
 * when, with the phase in force at that instant). Pure: no I/O, no clock.
 *
 * Rules (the same as the workflow's, machine.ts):
 * - A segment runs from its `since` to the next one's (the last: to the end of the contract, a scheduled
 *   cancelation or `active_to`). A pending change, migration or edit is one more segment from its instant.
 * - In a segment, the phase in force at `since` started at its recorded start; each later phase starts at the
 *   first period end (the billing anchor's grid of the version's cadence) at or after the previous phase's
 *   start plus its duration. A phase without a duration, or the last, runs to the end of the segment.
 * - A plan change starts its version at the first phase, at the change's instant. A migration or an edit
 *   keeps the phase and its start when the new version has it (at a period end where that phase has run its
 *   duration, the next phase starts there); otherwise the first phase starts at the instant.
 * - A kept phase stays one phase of the timeline across the switch: its items that did not change (same key,
 *   same rate card) run on, the others end at the switch, and the new version's new ones start there (ended
 *   items first, then the version's items in its order). After a plan change the new version's phases
 *   follow as phases of their own.
 * - Ids are derived (`derivedId`): a phase from the subscription, version and phase key, an item from the
 *   version its rate card got its present form in (its origin), phase key and rate-card key; when the same
 *   id comes again later in the timeline (a subscription back on a version), its start is added.
 */
import { addDuration, periodContaining } from '../catalog/periods';
import type { PlanSummary } from '../catalog/plan-summaries';
import type { RateCard } from '../catalog/types';
import type { ItemSource } from '../catalog/derive';

/** A row of `subscription_plan_segments`, instants in ms. */
export interface PlanSegment {
  since: number;
  planId: string;
  phaseKey: string;
  phaseStartedAt: number;
}

export interface TimelineItem {
  id: string;
  origin: ItemSource;
  from: number;
  to?: number;
  rate_card: RateCard;
}

export interface TimelinePhase {
  id: string;
  key: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  from: number;
  to?: number;
  items: TimelineItem[];
}

export interface TimelineInput {
  subscriptionId: string;
  billingAnchor: number;
  /** the recorded segments (any order); at least one */
  segments: readonly PlanSegment[];
  /** the plan versions of the segments and of the pending switch */
  plans: ReadonlyMap<string, PlanSummary>;
  /** the phase in force now, as the row says (authoritative for the current segment) */
  current: { planId: string; phaseKey: string; phaseStartedAt: number };
  /** a scheduled change, migration or edit, at its instant */
  pending?: { kind: 'change' | 'migrate' | 'edit'; at: number; planId: string };
  /** the end of the contract (a scheduled cancelation, `active_to`) */
  end?: number;
}

/** The first period end at or after `at` on the anchor's grid of `cadence`. */
function periodEndAtOrAfter(anchor: number, cadence: string, at: number): number {
  const p = periodContaining(new Date(anchor), cadence, new Date(at));
  return p.start.getTime() === at ? at : p.end.getTime();
}

/** When phase `i` of `plan`, started at `start`, hands over to the next one (undefined: it does not). */
function phaseEnd(plan: PlanSummary, i: number, start: number, anchor: number): number | undefined {
  const d = plan.phases[i]?.duration;
  if (!d || i >= plan.phases.length - 1) return undefined;
  return periodEndAtOrAfter(anchor, plan.billing_cadence, addDuration(new Date(start), d).getTime());
}

/**
 * The start of each phase of a segment's version: `anchor` phase at `anchorStart`, the later ones by the
 * rule above; the earlier ones when walking from `since` through them lands on `anchorStart` (a segment
 * whose recorded phase is not its first: rows from before the segments).
 */
function phaseStarts(
  plan: PlanSummary,
  anchor: number,
  anchorStart: number,
  since: number,
  billingAnchor: number,
): (number | undefined)[] {
  const starts: (number | undefined)[] = plan.phases.map(() => undefined);
  starts[anchor] = anchorStart;
  for (let i = anchor + 1; i < plan.phases.length; i++) {
    const e = phaseEnd(plan, i - 1, starts[i - 1]!, billingAnchor);
    if (e === undefined) break;
    starts[i] = e;
  }
  if (anchor > 0 && anchorStart > since) {
    const walk = [since];
    for (let i = 0; i < anchor; i++) {
      const e = phaseEnd(plan, i, walk[i], billingAnchor);
      if (e === undefined) break;
      walk.push(e);
    }
    if (walk.length === anchor + 1 && walk[anchor] === anchorStart)
      for (let i = 0; i < anchor; i++) starts[i] = walk[i];
  }
  return starts;
}

/** A JSON text of `v` with sorted object keys (rate cards compared by content). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

interface Segment {
  since: number;
  until?: number;
  plan: PlanSummary;
  starts: (number | undefined)[];
  /** the index of the phase in force now (the current segment only) */
  now?: number;
}

/** The phase of `seg` in force just before `at` (index and start), if any. */
function phaseBefore(seg: Segment, at: number): { index: number; start: number } | undefined {
  let found: { index: number; start: number } | undefined;
  seg.starts.forEach((s, i) => {
    if (s !== undefined && s < at && (!found || s >= found.start)) found = { index: i, start: s };
  });
  return found;
}

/**
 * The timeline. `derivedId(...parts)` makes the ids (views.ts). Phases are in time order; a phase's items
 * run inside it.
 */
export function contractTimeline(
  input: TimelineInput,
  derivedId: (...parts: string[]) => string,
): TimelinePhase[] {
  const { billingAnchor, plans, end } = input;
  const recorded = [...input.segments]
    .sort((a, b) => a.since - b.since)
    .filter((s, j) => plans.has(s.planId) && (j === 0 || end === undefined || s.since < end));
  if (!recorded.length) return [];
  const segments: Segment[] = recorded.map((s, j) => {
    const plan = plans.get(s.planId)!;
    const since = s.since;
    const until = recorded[j + 1]?.since ?? end;
    let anchor = plan.phases.findIndex((p) => p.key === s.phaseKey);
    let anchorStart = s.phaseStartedAt;
    if (anchor < 0) [anchor, anchorStart] = [0, since];
    const starts = phaseStarts(plan, anchor, anchorStart, since, billingAnchor);
    const seg: Segment = { since, ...(until !== undefined ? { until } : {}), plan, starts };
    // the current segment: the row's phase and its start are authoritative
    const k = plan.phases.findIndex((p) => p.key === input.current.phaseKey);
    if (j === recorded.length - 1 && input.current.planId === s.planId && k >= 0) {
      seg.now = k;
      const fromRow = phaseStarts(plan, k, input.current.phaseStartedAt, since, billingAnchor);
      // the current phase and the later ones from the row; the earlier ones as laid out from the segment's
      // first phase (or, when the current phase is that one, by the walk from `since`)
      if (k > anchor) for (let i = k; i < plan.phases.length; i++) starts[i] = fromRow[i];
      else seg.starts = fromRow;
    }
    return seg;
  });
  // the scheduled switch
  const last = segments[segments.length - 1];
  const pending = input.pending;
  const target = pending ? plans.get(pending.planId) : undefined;
  if (pending && target && pending.at > last.since && (end === undefined || pending.at < end)) {
    last.until = pending.at;
    let anchor = 0;
    let anchorStart = pending.at;
    const before = pending.kind === 'change' ? undefined : phaseBefore(last, pending.at);
    const same = before ? target.phases.findIndex((p) => p.key === last.plan.phases[before.index].key) : -1;
    if (before && same >= 0) {
      [anchor, anchorStart] = [same, before.start];
      // at a period end where the kept phase has run its (new) duration, the next phase starts there
      const atPeriodEnd =
        periodEndAtOrAfter(billingAnchor, last.plan.billing_cadence, pending.at) === pending.at;
      if (atPeriodEnd && phaseEnd(target, same, before.start, billingAnchor) !== undefined) {
        const d = target.phases[same].duration!;
        if (addDuration(new Date(before.start), d).getTime() <= pending.at)
          [anchor, anchorStart] = [same + 1, pending.at];
      }
    }
    segments.push({
      since: pending.at,
      ...(end !== undefined ? { until: end } : {}),
      plan: target,
      starts: phaseStarts(target, anchor, anchorStart, pending.at, billingAnchor),
    });
  }

  const usedIds = new Set<string>();
  const unique = (from: number, ...parts: string[]): string => {
    let id = derivedId(input.subscriptionId, ...parts);
    if (usedIds.has(id)) id = derivedId(input.subscriptionId, ...parts, new Date(from).toISOString());
    usedIds.add(id);
    return id;
  };
  const out: TimelinePhase[] = [];
  segments.forEach((seg, j) => {
    const { plan, since, until } = seg;
    plan.phases.forEach((p, i) => {
      const start = seg.starts[i];
      if (start === undefined) return;
      const next = seg.starts[i + 1];
      let to = p.duration && next !== undefined ? next : undefined;
      if (until !== undefined && (to === undefined || until < to)) to = until;
      // the first segment shows its phases from their starts; a later one from its switch on
      const from = j === 0 ? start : Math.max(start, since);
      const isNow = seg.now === i;
      if (to !== undefined && to <= from && !(isNow && to === from)) return;
      if (until !== undefined && from >= until && !isNow) return;
      const cards = p.rate_cards.map((rc) => ({
        rc,
        origin: plan.origins?.items[p.key]?.[rc.key] ?? { source: 'plan' as const, version: plan.id },
      }));
      const prev = out[out.length - 1];
      // a kept phase (started before the switch) goes on as the same phase of the timeline
      if (j > 0 && start < since && prev && prev.key === p.key && prev.to === since) {
        const open = new Map<string, TimelineItem>();
        for (const it of prev.items)
          if (it.to === since) open.set(`${it.rate_card.key}\u0000${canonical(it.rate_card)}`, it);
        const continued = new Set<TimelineItem>();
        const merged = cards.map(({ origin, rc }): TimelineItem => {
          const key = `${rc.key}\u0000${canonical(rc)}`;
          const same = open.get(key);
          if (same && !continued.has(same)) {
            continued.add(same);
            return {
              id: same.id,
              origin: origin.source,
              from: same.from,
              ...(to !== undefined ? { to } : {}),
              rate_card: rc,
            };
          }
          return {
            id: unique(since, origin.version, p.key, rc.key),
            origin: origin.source,
            from: since,
            ...(to !== undefined ? { to } : {}),
            rate_card: rc,
          };
        });
        prev.items = [...prev.items.filter((it) => !continued.has(it)), ...merged];
        // the phase as the latest version describes it
        prev.name = p.name;
        if (p.description !== undefined) prev.description = p.description;
        else delete prev.description;
        if (p.labels) prev.labels = p.labels;
        else delete prev.labels;
        if (to === undefined) delete prev.to;
        else prev.to = to;
        return;
      }
      out.push({
        id: unique(from, plan.id, p.key),
        key: p.key,
        name: p.name,
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.labels ? { labels: p.labels } : {}),
        from,
        ...(to !== undefined ? { to } : {}),
        items: cards.map(({ origin, rc }) => ({
          id: unique(from, origin.version, p.key, rc.key),
          origin: origin.source,
          from,
          ...(to !== undefined ? { to } : {}),
          rate_card: rc,
        })),
      });
    });
  });
  return out;
}
