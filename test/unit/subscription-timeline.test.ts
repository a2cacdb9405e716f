/**
 * The contract's timeline (src/subscriptions/timeline.ts), pure: its phases must be where the state machine
 * puts the subscription. Each case drives the machine with explicit instants, records the plan segments as
 * `recordPeriod` does, and compares the timeline (drawn before the switch, with the pending change, and
 * after) with the phases the machine went through.
 */
import type { PlanSummary } from '../../src/catalog/plan-summaries';
import type { RateCard } from '../../src/catalog/types';
import {
  applyRequest,
  initialState,
  invoiceIssued,
  nextWakeAt,
  phaseOf,
  step,
  type ChangeRequest,
  type PlanSchedule,
  type SubscriptionState,
} from '../../src/subscriptions/machine';
import { contractTimeline, type PlanSegment } from '../../src/subscriptions/timeline';

const t = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString();
const id = (...parts: string[]) => parts.join('|');

const card = (key: string, amount: string): RateCard => ({
  key,
  name: key,
  billing_cadence: 'P1M',
  payment_term: 'in_arrears',
  price: { type: 'flat', amount },
});

interface Version {
  summary: PlanSummary;
  schedule: PlanSchedule;
}

function version(
  vid: string,
  key: string,
  n: number,
  cadence: string,
  phases: { key: string; duration?: string; cards: RateCard[] }[],
): Version {
  return {
    summary: {
      id: vid,
      name: key,
      currency: 'USD',
      billing_cadence: cadence,
      phases: phases.map((p) => ({
        key: p.key,
        name: p.key,
        ...(p.duration ? { duration: p.duration } : {}),
        rate_cards: p.cards,
      })),
    },
    schedule: {
      id: vid,
      key,
      version: n,
      billingCadence: cadence,
      phases: phases.map((p) => ({
        key: p.key,
        ...(p.duration ? { duration: p.duration } : {}),
        hasAdvanceFees: false,
      })),
    },
  };
}

/** A subscription driven through the machine, with its segments as recordPeriod writes them. */
class Sim {
  state: SubscriptionState;
  segments: PlanSegment[] = [];
  /** the phases it went through: [key, start], a new entry whenever the phase or its start changes */
  seen: [string, number][] = [];
  plans = new Map<string, PlanSummary>();
  now: number;

  constructor(
    v: Version,
    activeFrom: string,
    billingAnchor: string,
    readonly versions: Version[],
  ) {
    for (const x of versions) this.plans.set(x.summary.id, x.summary);
    this.state = initialState({
      subscriptionId: 'sub',
      customerId: 'cus',
      activeFrom,
      billingAnchor,
      plan: v.schedule,
    });
    this.now = t(activeFrom);
    this.record();
  }

  private record() {
    const s = this.state;
    const since = t(s.planSince ?? s.activeFrom);
    const last = this.segments[this.segments.length - 1];
    const seg = { since, planId: s.plan.id, phaseKey: phaseOf(s).key, phaseStartedAt: t(s.phaseStartedAt) };
    if (!last || last.since !== since) this.segments.push(seg);
    else if (last.planId !== seg.planId) this.segments[this.segments.length - 1] = seg;
    const prev = this.seen[this.seen.length - 1];
    if (s.status !== 'canceled' && (!prev || prev[0] !== phaseOf(s).key || prev[1] !== t(s.phaseStartedAt)))
      this.seen.push([phaseOf(s).key, t(s.phaseStartedAt)]);
  }

  /** runs every step due up to `until` */
  runUntil(until: number) {
    for (;;) {
      const w = nextWakeAt(this.state);
      if (w === undefined || w > until) break;
      this.now = Math.max(this.now, w);
      for (let s = step(this.state, this.now); s; s = step(this.state, this.now)) {
        if (s.type === 'invoice') invoiceIssued(this.state, s.invoice.invoiceKey);
        else this.record();
      }
    }
    this.now = until;
  }

  request(req: ChangeRequest) {
    expect(applyRequest(this.state, req, this.now)).toBeUndefined();
    if (req.timing === 'immediate') this.record();
  }

  /** the timeline as the view draws it now */
  timeline() {
    const s = this.state;
    const pc = s.pendingChange;
    const period = s.period;
    const at = !pc ? undefined : pc.at === 'next_billing_cycle' ? t(period!.to) : t(pc.at);
    const end = s.status === 'canceled' ? t(s.activeTo!) : pc?.kind === 'cancel' ? at : undefined;
    return contractTimeline(
      {
        subscriptionId: 'sub',
        billingAnchor: t(s.billingAnchor),
        segments: this.segments,
        plans: this.plans,
        current: { planId: s.plan.id, phaseKey: phaseOf(s).key, phaseStartedAt: t(s.phaseStartedAt) },
        ...(pc && pc.kind !== 'cancel' && at !== undefined
          ? { pending: { kind: pc.kind, at, planId: pc.plan!.id } }
          : {}),
        ...(end !== undefined ? { end } : {}),
      },
      id,
    );
  }
}

/** [key, from, to] of each phase */
const spans = (phases: ReturnType<Sim['timeline']>) =>
  phases.map((p) => [p.key, iso(p.from), p.to === undefined ? undefined : iso(p.to)]);

/** the phases the machine went through as spans (each ends where the next starts, or at `end`) */
const seenSpans = (sim: Sim, end?: number) =>
  sim.seen.map(([k, from], i) => {
    const next = sim.seen[i + 1]?.[1] ?? end;
    return [k, iso(from), next === undefined ? undefined : iso(next)];
  });

describe('the contract timeline', () => {
  const pro = version('pro-1', 'pro', 1, 'P1M', [
    { key: 'trial', duration: 'P14D', cards: [card('platform', '0')] },
    { key: 'default', cards: [card('platform', '30')] },
  ]);
  const team = version('team-1', 'team', 1, 'P1M', [
    { key: 'onboarding', duration: 'P1M', cards: [card('platform', '40')] },
    { key: 'default', cards: [card('platform', '50'), card('support', '10')] },
  ]);

  it('a trial ends at the first period end after its duration (billing anchor on the 1st), then a change', () => {
    const sim = new Sim(pro, '2026-01-10T00:00:00.000Z', '2026-01-01T00:00:00.000Z', [pro, team]);
    // P14D from the 10th ends on the 24th: the trial runs to the period end on Feb 1
    expect(spans(sim.timeline())).toEqual([
      ['trial', '2026-01-10T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['default', '2026-02-01T00:00:00.000Z', undefined],
    ]);
    sim.runUntil(t('2026-02-10T00:00:00.000Z'));
    sim.request({ kind: 'change', timing: 'next_billing_cycle', plan: team.schedule });
    const before = sim.timeline();
    expect(spans(before)).toEqual([
      ['trial', '2026-01-10T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['default', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
      ['onboarding', '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
      ['default', '2026-04-01T00:00:00.000Z', undefined],
    ]);
    sim.runUntil(t('2026-06-15T00:00:00.000Z'));
    expect(sim.timeline()).toEqual(before);
    expect(spans(before)).toEqual(seenSpans(sim));
    // the two `default` phases are distinct phases with distinct ids
    expect(before[1].id).not.toBe(before[3].id);
  });

  it('a migration at an instant keeps the phase and its unchanged items; a longer trial in the new version', () => {
    const v2 = version('pro-2', 'pro', 2, 'P1M', [
      { key: 'trial', duration: 'P1M', cards: [card('platform', '0'), card('setup', '5')] },
      { key: 'default', cards: [card('platform', '35')] },
    ]);
    const sim = new Sim(pro, '2026-01-10T00:00:00.000Z', '2026-01-10T00:00:00.000Z', [pro, v2]);
    sim.runUntil(t('2026-01-12T00:00:00.000Z'));
    sim.request({ kind: 'migrate', timing: '2026-01-15T00:00:00.000Z', plan: v2.schedule });
    const before = sim.timeline();
    // the trial goes on with v2's duration (P1M from the 10th: to Feb 10, a period end)
    expect(spans(before)).toEqual([
      ['trial', '2026-01-10T00:00:00.000Z', '2026-02-10T00:00:00.000Z'],
      ['default', '2026-02-10T00:00:00.000Z', undefined],
    ]);
    expect(before[0].items.map((i) => [i.rate_card.key, iso(i.from), i.to && iso(i.to)])).toEqual([
      ['platform', '2026-01-10T00:00:00.000Z', '2026-02-10T00:00:00.000Z'],
      ['setup', '2026-01-15T00:00:00.000Z', '2026-02-10T00:00:00.000Z'],
    ]);
    sim.runUntil(t('2026-04-01T00:00:00.000Z'));
    expect(sim.timeline()).toEqual(before);
    expect(spans(before)).toEqual(seenSpans(sim));
  });

  it('an edit at the period end where the kept phase ends moves to the next phase there', () => {
    const edited = version('pro-e', 'pro', 1, 'P1M', [
      { key: 'trial', duration: 'P14D', cards: [card('platform', '0')] },
      { key: 'default', cards: [card('platform', '60')] },
    ]);
    const sim = new Sim(pro, '2026-01-10T00:00:00.000Z', '2026-01-01T00:00:00.000Z', [pro, edited]);
    sim.runUntil(t('2026-01-20T00:00:00.000Z'));
    sim.request({ kind: 'edit', timing: 'next_billing_cycle', plan: edited.schedule });
    const before = sim.timeline();
    expect(spans(before)).toEqual([
      ['trial', '2026-01-10T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['default', '2026-02-01T00:00:00.000Z', undefined],
    ]);
    expect(before[1].items.map((i) => i.rate_card.price)).toEqual([{ type: 'flat', amount: '60' }]);
    sim.runUntil(t('2026-03-15T00:00:00.000Z'));
    expect(sim.timeline()).toEqual(before);
    expect(spans(before)).toEqual(seenSpans(sim));
  });

  it('a yearly cadence: a P1M trial lasts to the year end (phases switch at period ends); a cancelation ends it', () => {
    const yearly = version('y-1', 'yearly', 1, 'P1Y', [
      { key: 'trial', duration: 'P1M', cards: [card('platform', '0')] },
      { key: 'default', cards: [card('platform', '300')] },
    ]);
    const sim = new Sim(yearly, '2026-01-10T00:00:00.000Z', '2026-01-10T00:00:00.000Z', [yearly]);
    sim.runUntil(t('2026-03-01T00:00:00.000Z'));
    sim.request({ kind: 'cancel', timing: '2027-06-01T00:00:00.000Z' });
    const before = sim.timeline();
    expect(spans(before)).toEqual([
      ['trial', '2026-01-10T00:00:00.000Z', '2027-01-10T00:00:00.000Z'],
      ['default', '2027-01-10T00:00:00.000Z', '2027-06-01T00:00:00.000Z'],
    ]);
    sim.runUntil(t('2028-01-01T00:00:00.000Z'));
    expect(sim.state.status).toBe('canceled');
    expect(sim.timeline()).toEqual(before);
    expect(spans(before)).toEqual(seenSpans(sim, t(sim.state.activeTo!)));
  });

  it('back on a version it was on before: the ids stay distinct', () => {
    const sim = new Sim(pro, '2026-01-10T00:00:00.000Z', '2026-01-10T00:00:00.000Z', [pro, team]);
    sim.runUntil(t('2026-02-15T00:00:00.000Z'));
    sim.request({ kind: 'change', timing: 'immediate', plan: team.schedule });
    sim.runUntil(t('2026-02-20T00:00:00.000Z'));
    sim.request({ kind: 'change', timing: 'immediate', plan: pro.schedule });
    const phases = sim.timeline();
    expect(phases.map((p) => p.key)).toEqual(['trial', 'default', 'onboarding', 'trial', 'default']);
    const all = phases.flatMap((p) => [p.id, ...p.items.map((i) => i.id)]);
    expect(new Set(all).size).toBe(all.length);
    sim.runUntil(t('2026-05-01T00:00:00.000Z'));
    expect(spans(sim.timeline())).toEqual(seenSpans(sim));
  });
});
