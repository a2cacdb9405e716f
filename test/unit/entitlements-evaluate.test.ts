import {
  accessEntry,
  mergeEntries,
  usageWindow,
  type EntitlementSource,
} from '../../src/entitlements/evaluate';

const src = (over: Partial<EntitlementSource> = {}): EntitlementSource => ({
  subscription_id: 'sub',
  feature_key: 'calls',
  template: { type: 'metered', limit: 100 },
  rate_card_cadence: 'P1M',
  plan_cadence: 'P1M',
  billing_anchor: new Date('2026-01-31T00:00:00Z'),
  active_from: new Date('2026-01-31T00:00:00Z'),
  ...over,
});
const at = new Date('2026-03-10T00:00:00Z');

describe('usageWindow', () => {
  it('is the anchored period containing now (Jan 31 anchor: Feb 28 → Mar 31)', () => {
    const w = usageWindow(src(), at);
    expect(w.usage_period).toBe('P1M');
    expect(w.period).toEqual({
      from: new Date('2026-02-28T00:00:00Z'),
      to: new Date('2026-03-31T00:00:00Z'),
    });
    expect(w.usage_from).toEqual(w.period.from);
  });

  it('never starts before active_from', () => {
    const w = usageWindow(src({ active_from: new Date('2026-03-05T12:00:00Z') }), at);
    expect(w.usage_from).toEqual(new Date('2026-03-05T12:00:00Z'));
    expect(w.usage_to).toEqual(new Date('2026-03-31T00:00:00Z'));
  });

  it('uses the template usage_period, else the rate card cadence, else the plan cadence', () => {
    expect(usageWindow(src({ template: { type: 'metered', usage_period: 'P1W' } }), at).usage_period).toBe(
      'P1W',
    );
    expect(usageWindow(src({ rate_card_cadence: 'P1D' }), at).usage_period).toBe('P1D');
    expect(usageWindow(src({ rate_card_cadence: null, plan_cadence: 'P3M' }), at).usage_period).toBe('P3M');
  });
});

describe('accessEntry', () => {
  it('hard limit: access while usage < limit, none at the limit', () => {
    expect(accessEntry(src(), at, '99.5')).toMatchObject({ has_access: true, balance: '0.5', overage: '0' });
    expect(accessEntry(src(), at, '100')).toMatchObject({ has_access: false, balance: '0', overage: '0' });
    expect(accessEntry(src(), at, '130')).toMatchObject({ has_access: false, balance: '0', overage: '30' });
  });

  it('soft limit: access past the limit, with the overage', () => {
    const e = accessEntry(src({ template: { type: 'metered', limit: 100, is_soft_limit: true } }), at, '130');
    expect(e).toMatchObject({ has_access: true, is_soft_limit: true, overage: '30', balance: '0' });
  });

  it('no limit: unlimited access, no balance', () => {
    const e = accessEntry(src({ template: { type: 'metered' } }), at, '1e30');
    expect(e.has_access).toBe(true);
    expect(e.usage).toBe('1000000000000000000000000000000');
    expect(e.limit).toBeUndefined();
    expect(e.balance).toBeUndefined();
  });

  it('decimal strings, never binary floating point', () => {
    const e = accessEntry(src({ template: { type: 'metered', limit: 0.3 } }), at, '0.1');
    expect(e).toMatchObject({ limit: '0.3', usage: '0.1', balance: '0.2' });
  });

  it('boolean and static', () => {
    expect(accessEntry(src({ template: { type: 'boolean' } }), at)).toEqual({
      feature_key: 'calls',
      type: 'boolean',
      has_access: true,
    });
    const s = accessEntry(src({ template: { type: 'static', config: { a: [1, 'x'] } } }), at);
    expect(s).toEqual({ feature_key: 'calls', type: 'static', has_access: true, config: '{"a":[1,"x"]}' });
  });

  it('metered without usage is a programming error', () => {
    expect(() => accessEntry(src(), at)).toThrow(/usage missing/);
  });
});

describe('mergeEntries', () => {
  it('one entry per feature, access wins, sorted by feature key', () => {
    const denied = accessEntry(src(), at, '100');
    const granted = accessEntry(src({ template: { type: 'boolean' } }), at);
    const other = accessEntry(src({ feature_key: 'a', template: { type: 'boolean' } }), at);
    expect(mergeEntries([denied, granted, other])).toEqual([other, granted]);
    expect(mergeEntries([granted, denied])).toEqual([granted]);
  });
});
