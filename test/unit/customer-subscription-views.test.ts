/**
 * 10.3 The API views of customers and subscriptions (pure mappers from raw rows): instants in UTC with
 * milliseconds whatever the column carries (PostgreSQL's text with microseconds, or a Date), optional
 * fields absent rather than null, and the subscription's current period rolled forward as the row says.
 */
import { customerView, type CustomerRow } from '../../src/customers/views';
import { subscriptionView, type SubscriptionRow } from '../../src/subscriptions/views';

const customerRow = (over: Partial<CustomerRow> = {}): CustomerRow => ({
  id: '01KBCUSTOMER0000000000000A',
  key: 'acme',
  name: 'ACME',
  description: null,
  primary_email: null,
  currency: null,
  billing_address: null,
  labels: null,
  created_at: '2026-11-21 09:49:08.573981+00',
  updated_at: '2026-11-22 10:00:00+00',
  subject_keys: null,
  ...over,
});

describe('customerView', () => {
  it('prints instants in UTC with milliseconds (microseconds truncated, none padded)', () => {
    const v = customerView(customerRow());
    expect(v.created_at).toBe('2026-11-21T09:49:08.573Z');
    expect(v.updated_at).toBe('2026-11-22T10:00:00.000Z');
  });

  it('converts other offsets to UTC', () => {
    expect(customerView(customerRow({ created_at: '2026-11-21 11:49:08.5+02' })).created_at).toBe(
      '2026-11-21T09:49:08.500Z',
    );
  });

  it('leaves out null optional fields, and gives an empty subject list rather than null', () => {
    const v = customerView(customerRow());
    expect(Object.keys(v).sort()).toEqual(
      ['created_at', 'id', 'key', 'name', 'updated_at', 'usage_attribution'].sort(),
    );
    expect(v.usage_attribution).toEqual({ subject_keys: [] });
  });

  it('keeps every present field as stored', () => {
    const v = customerView(
      customerRow({
        description: 'd',
        primary_email: 'a@example.com',
        currency: 'EUR',
        billing_address: { country: 'DE', city: 'Berlin' },
        labels: { tier: 'gold' },
        subject_keys: ['acme-1', 'acme-2'],
      }),
    );
    expect(v).toMatchObject({
      description: 'd',
      primary_email: 'a@example.com',
      currency: 'EUR',
      billing_address: { country: 'DE', city: 'Berlin' },
      labels: { tier: 'gold' },
      usage_attribution: { subject_keys: ['acme-1', 'acme-2'] },
    });
  });

  it('keeps empty strings and empty objects (only null is absent)', () => {
    const v = customerView(customerRow({ description: '', labels: {} }));
    expect(v.description).toBe('');
    expect(v.labels).toEqual({});
  });
});

const card = (key: string, amount: string) => ({
  key,
  name: key,
  billing_cadence: 'P1M',
  payment_term: 'in_advance' as const,
  price: { type: 'flat' as const, amount },
});
const plan = {
  id: 'PLAN1',
  name: 'Team',
  currency: 'USD',
  billing_cadence: 'P1M',
  phases: [{ key: 'default', name: 'Default', rate_cards: [card('platform', '10')] }],
};
const phased = {
  ...plan,
  phases: [
    { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [card('platform', '0')] },
    { key: 'intro', name: 'Intro', duration: 'P2M', rate_cards: [card('platform', '5'), card('seats', '1')] },
    { key: 'default', name: 'Default', rate_cards: [card('platform', '10')] },
  ],
};

const subscriptionRow = (over: Partial<SubscriptionRow> = {}): SubscriptionRow => ({
  id: 'SUB1',
  customer_id: 'CUST1',
  customer_key: 'acme',
  plan_id: 'PLAN1',
  plan_key: 'team',
  plan_version: 2,
  status: 'active',
  billing_anchor: '2026-11-01 00:00:00+00',
  active_from: '2026-11-01 00:00:00.123456+00',
  active_to: null,
  phase_key: 'default',
  phase_started_at: new Date('2026-11-01T00:00:00.123Z'),
  current_period_start: '2026-11-01 00:00:00+00',
  current_period_end: '2026-12-01 00:00:00+00',
  next_period_end: null,
  pending_change: null,
  invoice_failure: null,
  workflow_id: 'subscription-SUB1',
  created_at: '2026-11-01 00:00:00.123456+00',
  updated_at: '2026-11-01 00:00:00.999999+00',
  ...over,
});

const NOV_15 = new Date('2026-11-15T00:00:00Z');

describe('subscriptionView', () => {
  it('names the plan version from its summary and trims the char(3) currency', () => {
    const v = subscriptionView(subscriptionRow(), { ...plan, currency: 'USD ' }, NOV_15);
    expect(v).toMatchObject({
      name: 'Team',
      invoice_currency: 'USD',
      billing_cadence: 'P1M',
      plan: { id: 'PLAN1', key: 'team', version: 2 },
      customer_id: 'CUST1',
    });
  });

  it('prints every instant in UTC with milliseconds, from text or Date', () => {
    const v = subscriptionView(subscriptionRow(), plan, NOV_15);
    expect(v.active_from).toBe('2026-11-01T00:00:00.123Z');
    expect(v.billing_anchor).toBe('2026-11-01T00:00:00.000Z');
    expect(v.phase).toEqual({ key: 'default', active_from: '2026-11-01T00:00:00.123Z' });
    expect(v.created_at).toBe('2026-11-01T00:00:00.123Z');
    expect(v.updated_at).toBe('2026-11-01T00:00:00.999Z');
  });

  it('shows the current period and the next billing instant of an active subscription', () => {
    const v = subscriptionView(subscriptionRow(), plan, NOV_15);
    expect(v.current_period).toEqual({ from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' });
    expect(v.next_billing_at).toBe('2026-12-01T00:00:00.000Z');
  });

  it('rolls a plain rollover forward once the recorded period has ended', () => {
    const row = subscriptionRow({ next_period_end: '2027-01-01 00:00:00+00' });
    const v = subscriptionView(row, plan, new Date('2026-12-01T00:00:05Z'));
    expect(v.current_period).toEqual({ from: '2026-12-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' });
    // before the boundary the recorded period stands
    expect(subscriptionView(row, plan, NOV_15).current_period?.to).toBe('2026-12-01T00:00:00.000Z');
  });

  it('a canceled subscription has no current period, and shows active_to', () => {
    const v = subscriptionView(
      subscriptionRow({ status: 'canceled', active_to: '2026-11-20 12:00:00+00' }),
      plan,
      NOV_15,
    );
    expect(v.current_period).toBeUndefined();
    expect(v.next_billing_at).toBeUndefined();
    expect(v.active_to).toBe('2026-11-20T12:00:00.000Z');
    // OpenMeter's `inactive`: it has ended
    expect(v.status).toBe('inactive');
  });

  it('an active subscription without a recorded period shows none', () => {
    const v = subscriptionView(
      subscriptionRow({ current_period_start: null, current_period_end: null }),
      plan,
      NOV_15,
    );
    expect('current_period' in v).toBe(false);
    expect('next_billing_at' in v).toBe(false);
  });

  it('lists a pending change (with its plan when it has one) and maps an invoice failure', () => {
    const v = subscriptionView(
      subscriptionRow({
        pending_change: {
          kind: 'migrate',
          at: 'next_billing_cycle',
          plan: { id: 'PLAN2', key: 'team', version: 3 },
        },
        invoice_failure: {
          invoiceKey: 'SUB1/2026-11-01',
          tries: 2,
          since: '2026-12-01T00:00:00.000Z',
          lastError: 'boom',
          retryAt: '2026-12-01T00:05:00.000Z',
        },
      }),
      plan,
      NOV_15,
    );
    expect(v.pending_changes).toEqual([
      { type: 'migrate', timing: 'next_billing_cycle', plan: { id: 'PLAN2', key: 'team', version: 3 } },
    ]);
    expect(v.invoice_failure).toEqual({
      invoice_key: 'SUB1/2026-11-01',
      attempts: 2,
      failing_since: '2026-12-01T00:00:00.000Z',
      last_error: 'boom',
      next_attempt_at: '2026-12-01T00:05:00.000Z',
    });
    const cancel = subscriptionView(
      subscriptionRow({ pending_change: { kind: 'cancel', at: '2026-11-20T00:00:00.000Z' } }),
      plan,
      NOV_15,
    );
    expect(cancel.pending_changes).toEqual([{ type: 'cancel', timing: '2026-11-20T00:00:00.000Z' }]);
  });

  it('a scheduled cancelation shows as active_to; a scheduled plan change does not; scheduled has no period', () => {
    const at = subscriptionView(
      subscriptionRow({ pending_change: { kind: 'cancel', at: '2026-11-20T00:00:00.000Z' } }),
      plan,
      NOV_15,
    );
    expect(at.active_to).toBe('2026-11-20T00:00:00.000Z');
    const next = subscriptionView(
      subscriptionRow({ pending_change: { kind: 'cancel', at: 'next_billing_cycle' } }),
      plan,
      NOV_15,
    );
    expect(next.active_to).toBe('2026-12-01T00:00:00.000Z');
    const change = subscriptionView(
      subscriptionRow({
        pending_change: {
          kind: 'change',
          at: 'next_billing_cycle',
          plan: { id: 'P2', key: 'x', version: 1 },
        },
      }),
      plan,
      NOV_15,
    );
    expect('active_to' in change).toBe(false);
    const scheduled = subscriptionView(subscriptionRow({ status: 'scheduled' }), plan, NOV_15);
    expect(scheduled.status).toBe('scheduled');
    expect('current_period' in scheduled).toBe(false);
  });

  it('no pending change: an empty list; no failure: no field', () => {
    const v = subscriptionView(subscriptionRow(), plan, NOV_15);
    expect(v.pending_changes).toEqual([]);
    expect('invoice_failure' in v).toBe(false);
    expect('active_to' in v).toBe(false);
  });
});

describe('the phases timeline (OpenMeter phases[] with items[])', () => {
  const row = (over: Partial<SubscriptionRow> = {}) =>
    subscriptionRow({
      active_from: '2026-01-15 00:00:00+00',
      phase_key: 'intro',
      phase_started_at: '2026-02-15 00:00:00+00',
      ...over,
    });
  const spans = (v: ReturnType<typeof subscriptionView>) =>
    v.phases.map((p) => [p.key, p.active_from, p.active_to ?? null, p.items.map((i) => i.rate_card.key)]);

  it('shows past, current and scheduled phases with their items and concrete rate cards', () => {
    const v = subscriptionView(row(), phased, NOV_15);
    expect(spans(v)).toEqual([
      ['trial', '2026-01-15T00:00:00.000Z', '2026-02-15T00:00:00.000Z', ['platform']],
      ['intro', '2026-02-15T00:00:00.000Z', '2026-04-15T00:00:00.000Z', ['platform', 'seats']],
      ['default', '2026-04-15T00:00:00.000Z', null, ['platform']],
    ]);
    const intro = v.phases[1];
    expect(intro.items[1]).toMatchObject({
      active_from: '2026-02-15T00:00:00.000Z',
      active_to: '2026-04-15T00:00:00.000Z',
      rate_card: { key: 'seats', price: { type: 'flat', amount: '1' } },
    });
    // ids are ULID-shaped, stable and distinct
    const ids = v.phases.flatMap((p) => [p.id, ...p.items.map((i) => i.id)]);
    for (const id of ids) expect(id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(subscriptionView(row(), phased, NOV_15).phases[1].items[1].id).toBe(intro.items[1].id);
    expect(v).toMatchObject({
      cost_basis_mode: 'dynamic',
      cost_basis_pins: [],
      labels: {},
      plan_id: 'PLAN1',
    });
  });

  it('omits earlier phases it cannot place (the subscription came to this version later)', () => {
    const v = subscriptionView(row({ active_from: '2025-06-01 00:00:00+00' }), phased, NOV_15);
    expect(spans(v).map((s) => s[0])).toEqual(['intro', 'default']);
  });

  it('ends the timeline at a scheduled change or cancelation', () => {
    const pending = row({
      pending_change: { kind: 'cancel', at: '2026-03-01T00:00:00.000Z' },
    });
    expect(spans(subscriptionView(pending, phased, NOV_15))).toEqual([
      ['trial', '2026-01-15T00:00:00.000Z', '2026-02-15T00:00:00.000Z', ['platform']],
      ['intro', '2026-02-15T00:00:00.000Z', '2026-03-01T00:00:00.000Z', ['platform', 'seats']],
    ]);
    const canceled = row({ status: 'canceled', active_to: '2026-05-01 00:00:00+00' });
    expect(spans(subscriptionView(canceled, phased, NOV_15)).map((s) => s.slice(0, 3))).toEqual([
      ['trial', '2026-01-15T00:00:00.000Z', '2026-02-15T00:00:00.000Z'],
      ['intro', '2026-02-15T00:00:00.000Z', '2026-04-15T00:00:00.000Z'],
      ['default', '2026-04-15T00:00:00.000Z', '2026-05-01T00:00:00.000Z'],
    ]);
  });
});
