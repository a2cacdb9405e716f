/** The pure subscription state machine, driven with explicit instants. */
import {
  applyRequest,
  editPhaseEndIssue,
  failingInvoice,
  initialState,
  INVOICE_ERROR_MAX,
  invoiceFailed,
  invoiceIssued,
  nextWakeAt,
  plainNextPeriod,
  step,
  stretchedEndIssue,
  validateRequest,
  type PendingInvoice,
  type PlanSchedule,
  type SubscriptionState,
} from '../../src/subscriptions/machine';

const t = (s: string) => Date.parse(s);

const plan = (over: Partial<PlanSchedule> = {}): PlanSchedule => ({
  id: 'plan-v1',
  key: 'pro',
  version: 1,
  billingCadence: 'P1M',
  phases: [{ key: 'default', hasAdvanceFees: false }],
  ...over,
});

const start = (over: Partial<Parameters<typeof initialState>[0]> = {}) =>
  initialState({
    subscriptionId: 'sub',
    customerId: 'cus',
    activeFrom: '2026-01-31T10:00:00.000Z',
    billingAnchor: '2026-01-31T10:00:00.000Z',
    plan: plan(),
    ...over,
  });

/** Runs every step due by `now`, issuing invoices at once; returns the invoices issued. */
function runUntil(state: SubscriptionState, now: number) {
  const issued = [];
  for (let s = step(state, now); s; s = step(state, now)) {
    if (s.type === 'invoice') {
      issued.push(s.invoice);
      invoiceIssued(state, s.invoice.invoiceKey);
    }
  }
  return issued;
}

describe('subscription machine', () => {
  it('periods follow the calendar from the anchor (Jan 31 → Feb 28 → Mar 31)', () => {
    const s = start();
    expect(s.period).toEqual({
      from: '2026-01-31T10:00:00.000Z',
      to: '2026-02-28T10:00:00.000Z',
      cycleFrom: '2026-01-31T10:00:00.000Z',
      cycleTo: '2026-02-28T10:00:00.000Z',
    });
    // the workflow sleeps until the period end, where the closed period is handed over
    expect(nextWakeAt(s)).toBe(t('2026-02-28T10:00:00.000Z'));
    expect(runUntil(s, t('2026-02-28T09:59:59.999Z'))).toEqual([]); // not yet
    expect(s.period?.to).toBe('2026-02-28T10:00:00.000Z');
    const issued = runUntil(s, t('2026-02-28T10:00:00.000Z'));
    expect(s.period?.to).toBe('2026-03-31T10:00:00.000Z');
    expect(issued).toEqual([
      {
        invoiceKey: 'sub:2026-01-31T10:00:00.000Z',
        dueAt: '2026-02-28T10:00:00.000Z',
        arrears: {
          planId: 'plan-v1',
          phaseKey: 'default',
          from: '2026-01-31T10:00:00.000Z',
          to: '2026-02-28T10:00:00.000Z',
          cycleFrom: '2026-01-31T10:00:00.000Z',
          cycleTo: '2026-02-28T10:00:00.000Z',
        },
      },
    ]);
    expect(s.invoicesIssued).toBe(1);
  });

  it('a start before the anchor gets a short first period on the anchor grid', () => {
    const s = start({ activeFrom: '2026-01-20T00:00:00.000Z', billingAnchor: '2026-02-01T00:00:00.000Z' });
    expect(s.period).toMatchObject({
      from: '2026-01-20T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
      cycleFrom: '2026-01-01T00:00:00.000Z',
    });
  });

  it('in-advance fees: invoiced at the start, and with each closed period for the next one', () => {
    const s = start({ plan: plan({ phases: [{ key: 'default', hasAdvanceFees: true }] }) });
    const first = runUntil(s, t('2026-01-31T10:00:00.000Z'));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ invoiceKey: 'sub:2026-01-31T10:00:00.000Z:advance' });
    expect(first[0].arrears).toBeUndefined();
    const next = runUntil(s, t('2026-02-28T11:00:00.000Z'));
    expect(next[0].advance).toMatchObject({
      from: '2026-02-28T10:00:00.000Z',
      to: '2026-03-31T10:00:00.000Z',
    });
  });

  it('phases switch at the first period end at or after the phase end', () => {
    const s = start({
      activeFrom: '2026-01-01T00:00:00.000Z',
      billingAnchor: '2026-01-01T00:00:00.000Z',
      plan: plan({
        billingCadence: 'P1W',
        phases: [
          { key: 'trial', duration: 'P10D', hasAdvanceFees: false },
          { key: 'paid', hasAdvanceFees: false },
        ],
      }),
    });
    const issued = runUntil(s, t('2026-01-08T00:00:00.000Z'));
    expect(s.plan.phases[s.phaseIndex].key).toBe('trial'); // day 7 < day 10
    issued.push(...runUntil(s, t('2026-01-15T02:00:00.000Z')));
    expect(s.plan.phases[s.phaseIndex].key).toBe('paid');
    expect(s.phaseStartedAt).toBe('2026-01-15T00:00:00.000Z');
    expect(issued.map((i) => i.arrears?.phaseKey)).toEqual(['trial', 'trial']);
  });

  it('an immediate migration cuts the period; both parts keep the full cycle for proration', () => {
    const s = start({ activeFrom: '2026-01-01T00:00:00.000Z', billingAnchor: '2026-01-01T00:00:00.000Z' });
    const v2 = plan({ id: 'plan-v2', version: 2 });
    const now = t('2026-01-11T00:00:00.000Z');
    expect(applyRequest(s, { kind: 'migrate', timing: 'immediate', plan: v2 }, now)).toBeUndefined();
    expect(s.plan.id).toBe('plan-v2');
    expect(s.period).toEqual({
      from: '2026-01-11T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
      cycleFrom: '2026-01-01T00:00:00.000Z',
      cycleTo: '2026-02-01T00:00:00.000Z',
    });
    expect(s.pendingInvoices).toEqual([
      expect.objectContaining({
        invoiceKey: 'sub:2026-01-01T00:00:00.000Z',
        arrears: expect.objectContaining({
          planId: 'plan-v1',
          to: '2026-01-11T00:00:00.000Z',
          cycleTo: '2026-02-01T00:00:00.000Z',
        }),
      }),
    ]);
  });

  it('next_billing_cycle changes apply at the boundary; a timestamp cancel cuts at that instant', () => {
    const s = start({ activeFrom: '2026-01-01T00:00:00.000Z', billingAnchor: '2026-01-01T00:00:00.000Z' });
    const other = plan({ id: 'basic-v1', key: 'basic' });
    applyRequest(s, { kind: 'change', timing: 'next_billing_cycle', plan: other }, t('2026-01-05T00:00:00Z'));
    expect(s.plan.id).toBe('plan-v1');
    runUntil(s, t('2026-02-01T00:00:00.000Z'));
    expect(s.plan.id).toBe('basic-v1');
    expect(s.pendingChange).toBeUndefined();

    applyRequest(s, { kind: 'cancel', timing: '2026-02-10T00:00:00.000Z' }, t('2026-02-02T00:00:00Z'));
    expect(nextWakeAt(s)).toBe(t('2026-02-10T00:00:00.000Z'));
    expect(s.pendingInvoices).toEqual([]); // January was handed over at its end
    // the cut comes first, then its hand-over (same instant)
    expect(step(s, t('2026-02-10T00:00:00.000Z'))).toEqual({ type: 'transition', canceled: true });
    expect(s).toMatchObject({ status: 'canceled', activeTo: '2026-02-10T00:00:00.000Z', period: undefined });
    expect(s.pendingInvoices).toEqual([
      expect.objectContaining({
        dueAt: '2026-02-10T00:00:00.000Z',
        arrears: expect.objectContaining({ planId: 'basic-v1', to: '2026-02-10T00:00:00.000Z' }),
      }),
    ]);
    runUntil(s, t('2026-02-10T00:00:00.000Z'));
    expect(s.pendingInvoices).toEqual([]);
    expect(nextWakeAt(s)).toBeUndefined();
  });

  it('a scheduled change whose time passed before the current period began never re-bills', () => {
    const run = () => {
      const s = start({ activeFrom: '2026-01-01T00:00:00.000Z', billingAnchor: '2026-01-01T00:00:00.000Z' });
      const other = plan({ id: 'basic-v1', key: 'basic' });
      // accepted on Jan 25 for Jan 31 23:55; the workflow was busy until Feb 1 01:00 (the boundary passed)
      applyRequest(s, { kind: 'change', timing: '2026-01-31T23:55:00.000Z', plan: other }, -Infinity);
      s.pendingChange = undefined;
      const issued = runUntil(s, t('2026-02-01T00:30:00.000Z'));
      applyRequest(s, { kind: 'change', timing: '2026-01-31T23:55:00.000Z', plan: other }, -Infinity);
      issued.push(...runUntil(s, t('2026-02-01T02:00:00.000Z')));
      return { s, issued };
    };
    const fixed = run();
    // the change applies at the start of the current period: nothing is billed twice
    expect(fixed.s.plan.id).toBe('basic-v1');
    expect(fixed.s.period?.from).toBe('2026-02-01T00:00:00.000Z');
    const spans = fixed.issued.map((i) => [i.arrears?.from, i.arrears?.to]);
    expect(spans).toEqual([['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']]);
  });

  it('a migration at the boundary where the phase ends moves to the next phase', () => {
    const phases = [
      { key: 'trial', duration: 'P1M', hasAdvanceFees: false },
      { key: 'paid', hasAdvanceFees: false },
    ];
    const run = () => {
      const s = start({
        activeFrom: '2026-01-01T00:00:00.000Z',
        billingAnchor: '2026-01-01T00:00:00.000Z',
        plan: plan({ phases }),
      });
      const v2 = plan({ id: 'plan-v2', version: 2, phases });
      applyRequest(s, { kind: 'migrate', timing: 'next_billing_cycle', plan: v2 }, t('2026-01-10T00:00:00Z'));
      runUntil(s, t('2026-02-01T00:00:00.000Z'));
      return s;
    };
    const fixed = run();
    expect(fixed.plan.id).toBe('plan-v2');
    expect(fixed.plan.phases[fixed.phaseIndex].key).toBe('paid');
    expect(fixed.phaseStartedAt).toBe('2026-02-01T00:00:00.000Z');
  });

  describe('a failing invoice', () => {
    it('backs off (1 min, doubling, at most 15 min), keeps its first failure time and last error', () => {
      const s = start();
      step(s, t('2026-02-28T11:00:00.000Z')); // the period closes
      const due = step(s, t('2026-02-28T11:00:00.000Z'));
      expect(due?.type).toBe('invoice');
      const key = (due as { invoice: PendingInvoice }).invoice.invoiceKey;
      let now = t('2026-02-28T11:00:00.000Z');
      const waits: number[] = [];
      for (let i = 0; i < 6; i++) {
        const f = invoiceFailed(s, key, `boom ${i}`, now)!;
        waits.push((t(f.retryAt) - now) / 60_000);
        expect(f).toMatchObject({ tries: i + 1, since: '2026-02-28T11:00:00.000Z', lastError: `boom ${i}` });
        // not due again before retryAt; the wake time is retryAt
        expect(step(s, t(f.retryAt) - 1)).toBeUndefined();
        expect(nextWakeAt(s)).toBe(t(f.retryAt));
        now = t(f.retryAt);
        expect(step(s, now)).toMatchObject({ type: 'invoice', invoice: { invoiceKey: key } });
      }
      expect(waits).toEqual([1, 2, 4, 8, 15, 15]);
      expect(failingInvoice(s)).toMatchObject({ invoiceKey: key, tries: 6 });
      expect(invoiceFailed(s, key, 'x'.repeat(2000), now)!.lastError).toHaveLength(INVOICE_ERROR_MAX);
      invoiceIssued(s, key);
      expect(failingInvoice(s)).toBeUndefined();
      expect(s.invoicesIssued).toBe(1);
    });

    it('while an invoice try is in flight, transitions and requests go on; no invoice step, no busy wake', () => {
      const s = start();
      step(s, t('2026-02-28T11:00:00.000Z'));
      expect(step(s, t('2026-02-28T11:00:00.000Z'), true)).toBeUndefined();
      expect(nextWakeAt(s, true)).toBe(t('2026-03-31T10:00:00.000Z')); // not the in-flight hand-over's time
      applyRequest(s, { kind: 'cancel', timing: 'immediate' }, t('2026-03-01T00:00:00.000Z'));
      expect(s.status).toBe('canceled');
      expect(s.pendingInvoices.map((i) => i.arrears?.to)).toEqual([
        '2026-02-28T10:00:00.000Z',
        '2026-03-01T00:00:00.000Z',
      ]);
    });
  });

  describe('deferred plain rollover', () => {
    it('a plain rollover wakes the workflow at the period end; one pass closes the period and hands it over', () => {
      const s = start();
      expect(plainNextPeriod(s)).toMatchObject({
        from: '2026-02-28T10:00:00.000Z',
        to: '2026-03-31T10:00:00.000Z',
      });
      expect(nextWakeAt(s)).toBe(t('2026-02-28T10:00:00.000Z')); // the period end
      const issued = runUntil(s, t('2026-02-28T10:00:00.000Z'));
      expect(issued.map((i) => [i.arrears?.from, i.arrears?.to])).toEqual([
        ['2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z'],
      ]);
      expect(s.period?.from).toBe('2026-02-28T10:00:00.000Z');
      expect(nextWakeAt(s)).toBe(t('2026-03-31T10:00:00.000Z'));
    });

    it('not plain when a change is pending, the phase ends at the boundary, or the subscription is canceled', () => {
      const withChange = start();
      applyRequest(withChange, { kind: 'cancel', timing: 'next_billing_cycle' }, t('2026-02-01T00:00:00Z'));
      expect(plainNextPeriod(withChange)).toBeUndefined();
      expect(nextWakeAt(withChange)).toBe(t('2026-02-28T10:00:00.000Z'));

      const trial = start({
        plan: plan({
          phases: [
            { key: 'trial', duration: 'P1M', hasAdvanceFees: false },
            { key: 'default', hasAdvanceFees: false },
          ],
        }),
      });
      expect(plainNextPeriod(trial)).toBeUndefined(); // the trial ends at the first boundary
      expect(nextWakeAt(trial)).toBe(t('2026-02-28T10:00:00.000Z'));
      runUntil(trial, t('2026-02-28T11:00:00.000Z'));
      expect(plainNextPeriod(trial)?.to).toBe('2026-04-30T10:00:00.000Z'); // the last phase rolls plainly

      const twoMonthTrial = start({
        plan: plan({
          phases: [
            { key: 'trial', duration: 'P2M', hasAdvanceFees: false },
            { key: 'default', hasAdvanceFees: false },
          ],
        }),
      });
      expect(plainNextPeriod(twoMonthTrial)).toBeDefined(); // the phase goes on after the first boundary

      const canceled = start();
      applyRequest(canceled, { kind: 'cancel', timing: 'immediate' }, t('2026-02-01T00:00:00Z'));
      expect(plainNextPeriod(canceled)).toBeUndefined();
    });

    it("wakes at the period end: the hand-over is due there (the late-usage window is billing's)", () => {
      const daily = start({
        activeFrom: '2026-01-01T00:00:00.000Z',
        billingAnchor: '2026-01-01T00:00:00.000Z',
        plan: plan({ billingCadence: 'P1D' }),
      });
      expect(nextWakeAt(daily)).toBe(t('2026-01-02T00:00:00.000Z'));
      expect(step(daily, t('2026-01-01T23:59:59.999Z'))).toBeUndefined();
      expect(step(daily, t('2026-01-02T00:00:00.000Z'))).toEqual({ type: 'transition', canceled: false });
      expect(daily.pendingInvoices.map((i) => i.dueAt)).toEqual(['2026-01-02T00:00:00.000Z']);
      expect(step(daily, t('2026-01-02T00:00:00.000Z'))).toMatchObject({ type: 'invoice' });
    });
  });

  it('validates requests against the state and the workflow clock', () => {
    const s = start();
    const now = t('2026-02-01T00:00:00.000Z');
    expect(validateRequest(s, { kind: 'cancel', timing: '2026-01-01T00:00:00Z' }, now)).toMatchObject({
      type: 'bad_request',
    });
    expect(validateRequest(s, { kind: 'migrate', timing: 'immediate', plan: plan() }, now)).toMatchObject({
      type: 'conflict',
    });
    expect(
      validateRequest(
        s,
        { kind: 'migrate', timing: 'immediate', plan: plan({ id: 'x', key: 'other' }) },
        now,
      ),
    ).toMatchObject({ type: 'bad_request' });
    expect(
      validateRequest(
        s,
        { kind: 'migrate', timing: 'immediate', plan: plan({ id: 'old', version: 0 }) },
        now,
      ),
    ).toMatchObject({ type: 'conflict' });
    applyRequest(s, { kind: 'cancel', timing: 'next_billing_cycle' }, now);
    // a scheduled cancelation can be brought forward, not pushed back or repeated
    expect(validateRequest(s, { kind: 'cancel', timing: 'immediate' }, now)).toBeUndefined();
    expect(validateRequest(s, { kind: 'cancel', timing: 'next_billing_cycle' }, now)?.message).toMatch(
      /already scheduled/,
    );
    const afterPeriodEnd = new Date(Date.parse(s.period!.to) + 86_400_000).toISOString();
    expect(validateRequest(s, { kind: 'cancel', timing: afterPeriodEnd }, now)?.message).toMatch(
      /already scheduled/,
    );
    expect(
      validateRequest(s, { kind: 'change', timing: 'immediate', plan: plan({ id: 'b', key: 'b' }) }, now),
    ).toMatchObject({ type: 'conflict' });
  });
});

describe('scheduled starts, active_to, unschedule-cancelation', () => {
  const created = t('2026-01-10T00:00:00.000Z');
  const from = '2026-02-01T00:00:00.000Z';
  const scheduled = (over: Partial<Parameters<typeof initialState>[0]> = {}) =>
    initialState(
      {
        subscriptionId: 'sub',
        customerId: 'cus',
        activeFrom: from,
        billingAnchor: from,
        plan: plan({ phases: [{ key: 'default', hasAdvanceFees: true }] }),
        ...over,
      },
      created,
    );

  it('a future active_from is scheduled; it wakes, activates, then bills the start, at active_from', () => {
    const s = scheduled();
    expect(s.status).toBe('scheduled');
    expect(s.period).toMatchObject({ from, to: '2026-03-01T00:00:00.000Z' });
    expect(nextWakeAt(s)).toBe(t(from));
    expect(step(s, created)).toBeUndefined();
    expect(step(s, t(from) - 1)).toBeUndefined();
    expect(s.status).toBe('scheduled');
    expect(step(s, t(from))).toEqual({ type: 'activated' });
    expect(s.status).toBe('active');
    const start = runUntil(s, t(from));
    expect(start).toHaveLength(1);
    expect(start[0]).toMatchObject({ dueAt: from, advance: { from, to: '2026-03-01T00:00:00.000Z' } });
  });

  it('an active_from at or before now starts active (no scheduled state)', () => {
    expect(scheduled({ activeFrom: '2026-01-10T00:00:00.000Z' }).status).toBe('active');
    expect(scheduled({ activeFrom: '2026-01-09T00:00:00.000Z' }).status).toBe('active');
    // without a clock (as before): active
    expect(start().status).toBe('active');
  });

  it('active_to ends it at that instant, billed like a timestamp cancelation', () => {
    const s = scheduled({ activeTo: '2026-03-15T00:00:00.000Z' });
    expect(s.pendingChange).toEqual({ kind: 'cancel', at: '2026-03-15T00:00:00.000Z' });
    runUntil(s, t('2026-03-01T00:00:00.000Z'));
    expect(s.status).toBe('active');
    expect(nextWakeAt(s)).toBe(t('2026-03-15T00:00:00.000Z'));
    expect(step(s, t('2026-03-15T00:00:00.000Z'))).toEqual({ type: 'transition', canceled: true });
    expect(s).toMatchObject({ status: 'canceled', activeTo: '2026-03-15T00:00:00.000Z' });
    expect(s.pendingInvoices).toEqual([
      expect.objectContaining({
        arrears: expect.objectContaining({
          from: '2026-03-01T00:00:00.000Z',
          to: '2026-03-15T00:00:00.000Z',
        }),
      }),
    ]);
    expect(s.pendingInvoices[0].advance).toBeUndefined();
  });

  it('an immediate cancel before the start ends it without billing anything', () => {
    const s = scheduled();
    expect(
      applyRequest(s, { kind: 'cancel', timing: 'immediate' }, t('2026-01-20T00:00:00Z')),
    ).toBeUndefined();
    expect(s).toMatchObject({ status: 'canceled', activeTo: from, period: undefined, pendingInvoices: [] });
    expect(nextWakeAt(s)).toBeUndefined();
    expect(runUntil(s, t('2026-06-01T00:00:00Z'))).toEqual([]);
  });

  it('before the start: a cancel must fall after active_from; a change must too, or be immediate', () => {
    const s = scheduled();
    const now = t('2026-01-20T00:00:00Z');
    expect(validateRequest(s, { kind: 'cancel', timing: from }, now)).toMatchObject({ type: 'bad_request' });
    expect(validateRequest(s, { kind: 'cancel', timing: '2026-01-25T00:00:00.000Z' }, now)).toMatchObject({
      type: 'bad_request',
    });
    expect(validateRequest(s, { kind: 'cancel', timing: '2026-02-10T00:00:00.000Z' }, now)).toBeUndefined();
    expect(validateRequest(s, { kind: 'cancel', timing: 'next_billing_cycle' }, now)).toBeUndefined();
    const other = plan({ id: 'basic-v1', key: 'basic' });
    // a change timed at or before the start is refused; immediate replaces the plan from the start
    expect(validateRequest(s, { kind: 'change', timing: from, plan: other }, now)).toMatchObject({
      type: 'bad_request',
    });
    expect(validateRequest(s, { kind: 'change', timing: 'immediate', plan: other }, now)).toBeUndefined();
    // a cancel scheduled before the start applies after it
    applyRequest(s, { kind: 'cancel', timing: '2026-02-10T00:00:00.000Z' }, now);
    expect(runUntil(s, t('2026-02-05T00:00:00Z'))).toHaveLength(1);
    expect(s.status).toBe('active');
    runUntil(s, t('2026-02-10T00:00:00Z'));
    expect(s).toMatchObject({ status: 'canceled', activeTo: '2026-02-10T00:00:00.000Z' });
  });

  it('unschedule withdraws a scheduled cancelation (and active_to); a conflict when there is none', () => {
    const now = t('2026-01-05T00:00:00Z');
    const s = start({ activeFrom: '2026-01-01T00:00:00.000Z', billingAnchor: '2026-01-01T00:00:00.000Z' });
    expect(validateRequest(s, { kind: 'unschedule', timing: 'immediate' }, now)).toMatchObject({
      type: 'conflict',
      message: 'no cancelation is scheduled',
    });
    applyRequest(s, { kind: 'cancel', timing: 'next_billing_cycle' }, now);
    expect(s.pendingChange?.kind).toBe('cancel');
    expect(plainNextPeriod(s)).toBeUndefined();
    expect(applyRequest(s, { kind: 'unschedule', timing: 'immediate' }, now)).toBeUndefined();
    expect(s.pendingChange).toBeUndefined();
    expect(plainNextPeriod(s)).toMatchObject({ from: '2026-02-01T00:00:00.000Z' });
    runUntil(s, t('2026-03-01T00:00:00.000Z'));
    expect(s.status).toBe('active');
    // a pending plan change is not a cancelation
    applyRequest(s, { kind: 'change', timing: 'next_billing_cycle', plan: plan({ id: 'b', key: 'b' }) }, now);
    expect(validateRequest(s, { kind: 'unschedule', timing: 'immediate' }, now)).toMatchObject({
      type: 'conflict',
    });

    const limited = scheduled({ activeTo: '2026-03-15T00:00:00.000Z' });
    applyRequest(limited, { kind: 'unschedule', timing: 'immediate' }, created);
    runUntil(limited, t('2026-04-01T00:00:00.000Z'));
    expect(limited.status).toBe('active');
    expect(limited.period).toMatchObject({ from: '2026-04-01T00:00:00.000Z' });
  });

  it('a canceled subscription refuses unschedule as a conflict', () => {
    const s = scheduled();
    applyRequest(s, { kind: 'cancel', timing: 'immediate' }, created);
    expect(validateRequest(s, { kind: 'unschedule', timing: 'immediate' }, created)).toMatchObject({
      type: 'conflict',
      message: 'the subscription is canceled',
    });
  });
});

describe('edits (the subscription’s own plan version)', () => {
  const phased = (id: string, trial = 'P1M'): PlanSchedule =>
    plan({
      id,
      phases: [
        { key: 'trial', duration: trial, hasAdvanceFees: false },
        { key: 'default', hasAdvanceFees: false },
      ],
    });

  it('an immediate edit keeps the phase and its start; the cut period bills the old version', () => {
    const s = start({ plan: phased('v1', 'P3M') });
    runUntil(s, t('2026-03-31T10:00:00.000Z'));
    expect(s.phaseIndex).toBe(0);
    const now = t('2026-04-10T10:00:00.000Z');
    expect(applyRequest(s, { kind: 'edit', timing: 'immediate', plan: phased('own-1', 'P3M') }, now)).toBe(
      undefined,
    );
    expect(s.plan.id).toBe('own-1');
    expect(s.planSince).toBe('2026-04-10T10:00:00.000Z');
    // still the trial, started at the subscription's start (a change would restart at phase 0 now)
    expect(s.phaseIndex).toBe(0);
    expect(s.phaseStartedAt).toBe('2026-01-31T10:00:00.000Z');
    const cut = s.pendingInvoices.find((i) => i.arrears?.to === '2026-04-10T10:00:00.000Z');
    expect(cut?.arrears).toMatchObject({ planId: 'v1', phaseKey: 'trial', from: '2026-03-31T10:00:00.000Z' });
  });

  it('a stretched trial at next_billing_cycle stays at that boundary; a shortened one ends at it', () => {
    const longer = start({ plan: phased('v1', 'P1M') });
    applyRequest(
      longer,
      { kind: 'edit', timing: 'next_billing_cycle', plan: phased('own-1', 'P2M') },
      t('2026-02-05T10:00:00.000Z'),
    );
    runUntil(longer, t('2026-02-28T10:00:00.000Z'));
    expect([longer.plan.id, longer.phaseIndex]).toEqual(['own-1', 0]);
    runUntil(longer, t('2026-03-31T10:00:00.000Z'));
    expect(longer.phaseIndex).toBe(1);

    const shorter = start({ plan: phased('v1', 'P2M') });
    applyRequest(
      shorter,
      { kind: 'edit', timing: 'next_billing_cycle', plan: phased('own-1', 'P1M') },
      t('2026-02-05T10:00:00.000Z'),
    );
    runUntil(shorter, t('2026-02-28T10:00:00.000Z'));
    // the edit applies at the boundary where the shortened trial has run out: the next phase starts there
    expect([shorter.plan.id, shorter.phaseIndex, shorter.phaseStartedAt]).toEqual([
      'own-1',
      1,
      '2026-02-28T10:00:00.000Z',
    ]);
  });

  it('a stretched phase may end where the edit takes effect when that is a period end, never before', () => {
    const periodEnd = t('2026-02-28T10:00:00.000Z');
    // next_billing_cycle: the edit lands at the period end; a phase ending exactly there switches there
    expect(stretchedEndIssue(periodEnd, periodEnd, periodEnd)).toBeUndefined();
    expect(stretchedEndIssue(periodEnd + 1, periodEnd, periodEnd)).toBeUndefined();
    expect(stretchedEndIssue(periodEnd - 1, periodEnd, periodEnd)).toBe('before');
    // a cut inside the period (immediate, a timestamp): the machine switches phases at period ends only
    const cut = t('2026-02-15T10:00:00.000Z');
    expect(stretchedEndIssue(cut, cut, periodEnd)).toBe('at_cut');
    expect(stretchedEndIssue(cut + 1, cut, periodEnd)).toBeUndefined();
    expect(stretchedEndIssue(cut - 1, cut, periodEnd)).toBe('before');
    expect(stretchedEndIssue(cut, cut, undefined)).toBe('at_cut');
  });

  it("the workflow's own check: the current phase's new end against the edit's effect, on its clock", () => {
    const s = start({ plan: phased('v1', 'P2M') });
    const now = t('2026-02-10T10:00:00.000Z');
    const edit = (timing: string, trial: string) =>
      editPhaseEndIssue(s, { kind: 'edit', timing, plan: phased('own-1', trial) }, now);
    // P2M → P1M: the trial ends 2026-02-28T10:00, the period end
    expect(edit('next_billing_cycle', 'P1M')).toBeUndefined();
    expect(edit('immediate', 'P1M')).toBeUndefined();
    expect(edit('2026-02-20T10:00:00.000Z', 'P1M')).toBeUndefined();
    // P2M → P5D: it would have ended on 2026-02-05, before now
    expect(edit('immediate', 'P5D')).toMatchObject({ type: 'conflict' });
    expect(edit('next_billing_cycle', 'P20D')).toMatchObject({ type: 'conflict' });
    // ending exactly at a timestamp inside the period
    expect(edit('2026-02-20T10:00:00.000Z', 'P20D')).toMatchObject({
      type: 'conflict',
      message: expect.stringContaining('not at a period end'),
    });
    // the trial's duration untouched: nothing to check
    expect(edit('immediate', 'P2M')).toBeUndefined();
    // the phase ran its course: in the last phase there is no end
    runUntil(s, t('2026-03-31T10:00:00.000Z'));
    expect(s.phaseIndex).toBe(1);
    expect(
      editPhaseEndIssue(s, { kind: 'edit', timing: 'immediate', plan: phased('own-2', 'P5D') }, now),
    ).toBeUndefined();
  });

  it('unschedule_edit withdraws a scheduled edit only; an edit without the current phase is refused', () => {
    const s = start({ plan: phased('v1') });
    const now = t('2026-02-05T10:00:00.000Z');
    expect(validateRequest(s, { kind: 'unschedule_edit', timing: 'immediate' }, now)).toMatchObject({
      type: 'conflict',
    });
    expect(
      validateRequest(s, { kind: 'edit', timing: 'immediate', plan: plan({ id: 'own-x' }) }, now),
    ).toMatchObject({ type: 'bad_request' });
    applyRequest(s, { kind: 'edit', timing: '2026-02-10T10:00:00.000Z', plan: phased('own-1') }, now);
    expect(s.pendingChange).toMatchObject({ kind: 'edit', at: '2026-02-10T10:00:00.000Z' });
    // a cancel-unschedule does not withdraw an edit
    expect(validateRequest(s, { kind: 'unschedule', timing: 'immediate' }, now)).toMatchObject({
      type: 'conflict',
    });
    expect(applyRequest(s, { kind: 'unschedule_edit', timing: 'immediate' }, now)).toBe(undefined);
    expect(s.pendingChange).toBeUndefined();
    runUntil(s, t('2026-02-28T10:00:00.000Z'));
    expect(s.plan.id).toBe('v1');
  });
});

describe('a plan change before a scheduled start', () => {
  const from = '2026-02-01T00:00:00.000Z';
  const scheduled = () =>
    initialState(
      {
        subscriptionId: 'sub',
        customerId: 'cus',
        activeFrom: from,
        billingAnchor: from,
        plan: plan({ phases: [{ key: 'default', hasAdvanceFees: true }] }),
      },
      t('2026-01-10T00:00:00.000Z'),
    );

  it('immediate replaces the plan from the start: its start invoice is the new plan’s, or none', () => {
    const s = scheduled();
    expect(s.pendingInvoices).toHaveLength(1);
    const other = plan({ id: 'basic-v1', key: 'basic', billingCadence: 'P1W' });
    expect(
      applyRequest(s, { kind: 'change', timing: 'immediate', plan: other }, t('2026-01-20T00:00:00Z')),
    ).toBe(undefined);
    expect(s).toMatchObject({
      status: 'scheduled',
      plan: { id: 'basic-v1' },
      phaseStartedAt: from,
      planSince: from,
    });
    expect(s.pendingChange).toBeUndefined();
    // the first period on the new cadence; the new plan has no in-advance fees: no start invoice
    expect(s.period).toMatchObject({ from, to: '2026-02-08T00:00:00.000Z' });
    expect(s.pendingInvoices).toEqual([]);
    expect(runUntil(s, t('2026-02-08T00:00:00Z')).map((i) => i.arrears?.planId)).toEqual(['basic-v1']);
  });

  it('a timestamp after the start is a pending change applied once active', () => {
    const s = scheduled();
    const other = plan({ id: 'basic-v1', key: 'basic' });
    applyRequest(
      s,
      { kind: 'change', timing: '2026-02-10T00:00:00.000Z', plan: other },
      t('2026-01-20T00:00:00Z'),
    );
    expect(s.pendingChange).toMatchObject({ kind: 'change', at: '2026-02-10T00:00:00.000Z' });
    runUntil(s, t('2026-02-10T00:00:00Z'));
    expect([s.status, s.plan.id]).toEqual(['active', 'basic-v1']);
  });
});
