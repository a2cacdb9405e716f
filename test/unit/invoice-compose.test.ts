import {
  composeInvoice,
  oneTimeKey,
  prorationFactor,
  totalsOf,
  type ComposeArrears,
  type ComposeSection,
  type PhaseInfo,
} from '../../src/billing/compose';
import type { Price, RateCard } from '../../src/catalog/types';

const D = (s: string) => new Date(s);
const JAN = { from: D('2026-01-01T00:00:00Z'), to: D('2026-02-01T00:00:00Z') };
const FEB = { from: D('2026-02-01T00:00:00Z'), to: D('2026-03-01T00:00:00Z') };

function rc(key: string, price: Price, extra: Partial<RateCard> = {}): RateCard {
  return { key, name: `${key} name`, billing_cadence: 'P1M', payment_term: 'in_arrears', price, ...extra };
}

function phase(rateCards: RateCard[], proRatingEnabled = true): PhaseInfo {
  return { planId: 'plan_1', phaseKey: 'default', proRatingEnabled, rateCards };
}

function arrears(
  rateCards: RateCard[],
  usage: Record<string, string> = {},
  opts: { from?: Date; to?: Date; usageFrom?: Date; proRating?: boolean } = {},
): ComposeArrears {
  const from = opts.from ?? JAN.from;
  return {
    phase: phase(rateCards, opts.proRating ?? true),
    from,
    to: opts.to ?? JAN.to,
    cycleFrom: JAN.from,
    cycleTo: JAN.to,
    usageFrom: opts.usageFrom ?? from,
    usage,
  };
}

function advance(rateCards: RateCard[], opts: { from?: Date; proRating?: boolean } = {}): ComposeSection {
  return {
    phase: phase(rateCards, opts.proRating ?? true),
    from: opts.from ?? FEB.from,
    to: FEB.to,
    cycleFrom: FEB.from,
    cycleTo: FEB.to,
  };
}

const graduated: Price = {
  type: 'graduated',
  tiers: [
    { up_to_amount: '10', unit_price: { type: 'unit', amount: '1' } },
    { up_to_amount: '100', unit_price: { type: 'unit', amount: '0.5' } },
    { unit_price: { type: 'unit', amount: '0.1' }, flat_price: { type: 'flat', amount: '5' } },
  ],
};
const volume: Price = {
  type: 'volume',
  tiers: [
    { up_to_amount: '10', unit_price: { type: 'unit', amount: '1' } },
    { up_to_amount: '100', unit_price: { type: 'unit', amount: '0.5' } },
    { unit_price: { type: 'unit', amount: '0.1' } },
  ],
};

describe('composeInvoice: usage prices', () => {
  it('unit price: quantity × amount, unit_price on the line', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([rc('api_calls', { type: 'unit', amount: '0.25' })], { api_calls: '7' }),
      featureKeys: { api_calls: 'api-calls' },
    });
    expect(inv.lines).toHaveLength(1);
    expect(inv.lines[0]).toMatchObject({
      kind: 'usage',
      quantity: '7',
      unitPrice: '0.25',
      amount: '1.75',
      featureKey: 'api-calls',
      rateCardKey: 'api_calls',
      name: 'api_calls name',
      periodFrom: JAN.from.toISOString(),
      periodTo: JAN.to.toISOString(),
    });
    expect(inv.totals.total).toBe('1.75');
  });

  it('usage line is kept at quantity 0 (amount 0)', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([rc('api_calls', { type: 'unit', amount: '3' })], {}),
    });
    expect(inv.lines[0]).toMatchObject({ quantity: '0', amount: '0.00' });
    expect(inv.totals.total).toBe('0.00');
  });

  it('usage window starts at usageFrom (subscription start), not at the period start', () => {
    const usageFrom = D('2026-01-15T00:00:00Z');
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([rc('u', { type: 'unit', amount: '1' })], { u: '2' }, { usageFrom }),
    });
    expect(inv.lines[0].periodFrom).toBe(usageFrom.toISOString());
  });

  it.each([
    ['5', '5.00', 1],
    ['10', '10.00', 1], // exactly at the first bound: all in tier 1
    ['11', '10.50', 2],
    ['100', '55.00', 2], // exactly at the second bound
    ['101', '60.10', 3], // enters tier 3: its flat fee 5 + 0.1
  ])('graduated tiers: %s units → %s (%i tiers)', (qty, amount, tiers) => {
    const inv = composeInvoice({ currency: 'USD', arrears: arrears([rc('g', graduated)], { g: qty }) });
    expect(inv.lines[0].amount).toBe(amount);
    expect(inv.lines[0].unitPrice).toBeNull();
    expect((inv.lines[0].detail.tiers as unknown[]).length).toBe(tiers);
  });

  it.each([
    ['5', '5.00', '1'],
    ['10', '10.00', '1'], // exactly at a bound: still the lower tier
    ['11', '5.50', '0.5'],
    ['100', '50.00', '0.5'],
    ['101', '10.10', '0.1'],
  ])('volume tiers: %s units → %s at %s per unit', (qty, amount, unit) => {
    const inv = composeInvoice({ currency: 'USD', arrears: arrears([rc('v', volume)], { v: qty }) });
    expect(inv.lines[0].amount).toBe(amount);
    expect(inv.lines[0].unitPrice).toBe(unit);
  });

  it('usage prices are not prorated on a short period', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears(
        [rc('u', { type: 'unit', amount: '2' })],
        { u: '10' },
        { to: D('2026-01-11T00:00:00Z') },
      ),
    });
    expect(inv.lines[0].amount).toBe('20.00');
  });
});

describe('composeInvoice: rounding per currency', () => {
  it('USD rounds to cents, half up', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([rc('u', { type: 'unit', amount: '0.0015' })], { u: '3' }), // 0.0045
    });
    expect(inv.lines[0].amount).toBe('0.00');
    const inv2 = composeInvoice({
      currency: 'USD',
      arrears: arrears([rc('u', { type: 'unit', amount: '0.001' })], { u: '5' }), // 0.005
    });
    expect(inv2.lines[0].amount).toBe('0.01');
  });

  it('JPY has no minor units; KWD has three', () => {
    const jpy = composeInvoice({
      currency: 'JPY',
      arrears: arrears([rc('u', { type: 'unit', amount: '1.5' })], { u: '3' }),
    });
    expect(jpy.lines[0].amount).toBe('5');
    const kwd = composeInvoice({
      currency: 'KWD',
      arrears: arrears([rc('u', { type: 'unit', amount: '0.0001' })], { u: '15' }),
    });
    expect(kwd.lines[0].amount).toBe('0.002');
  });

  it('the total is the sum of the rounded lines', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears(
        [rc('a', { type: 'unit', amount: '0.005' }), rc('b', { type: 'unit', amount: '0.005' })],
        { a: '1', b: '1' },
      ),
    });
    expect(inv.lines.map((l) => l.amount)).toEqual(['0.01', '0.01']);
    expect(inv.totals.total).toBe('0.02');
  });
});

describe('composeInvoice: flat fees', () => {
  const base = rc('base', { type: 'flat', amount: '30' });
  const seat = rc('seat', { type: 'flat', amount: '31' }, { payment_term: 'in_advance' });

  it('in-arrears flat fee on the arrears invoice, in-advance one on the advance invoice', () => {
    const a = composeInvoice({ currency: 'USD', arrears: arrears([base, seat]) });
    expect(a.lines.map((l) => [l.rateCardKey, l.amount, l.quantity])).toEqual([['base', '30.00', '1']]);
    const b = composeInvoice({ currency: 'USD', advance: advance([base, seat]) });
    expect(b.lines.map((l) => [l.rateCardKey, l.amount, l.periodFrom])).toEqual([
      ['seat', '31.00', FEB.from.toISOString()],
    ]);
  });

  it('an invoice with both sections lists arrears lines (closed period) before advance lines', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([base, seat]),
      advance: advance([base, seat]),
    });
    expect(inv.lines.map((l) => l.rateCardKey)).toEqual(['base', 'seat']);
    expect(inv.totals.total).toBe('61.00');
    expect(inv.servicePeriod).toEqual({ from: JAN.from.toISOString(), to: FEB.to.toISOString() });
  });

  it('prorates an in-arrears fee on a short period when pro-rating is enabled', () => {
    // Jan 1 → Jan 11 of a 31-day cycle: 30 × 10/31 = 9.677… → 9.68
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([base], {}, { to: D('2026-01-11T00:00:00Z') }),
    });
    expect(inv.lines[0].amount).toBe('9.68');
    expect(inv.lines[0].unitPrice).toBe('9.68');
    expect(inv.lines[0].detail.full_amount).toBe('30');
    expect(Number(inv.lines[0].detail.proration_factor)).toBeCloseTo(10 / 31, 12);
  });

  it('charges the full fee on a short period when pro-rating is disabled', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([base], {}, { to: D('2026-01-11T00:00:00Z'), proRating: false }),
    });
    expect(inv.lines[0].amount).toBe('30.00');
    expect(inv.lines[0].detail.proration_factor).toBe('1');
  });

  it('prorates an in-advance fee for a late start (15 of 28 days of February)', () => {
    const inv = composeInvoice({
      currency: 'USD',
      advance: advance([seat], { from: D('2026-02-14T00:00:00Z') }),
    });
    // 31 × 15/28 = 16.607… → 16.61
    expect(inv.lines[0].amount).toBe('16.61');
  });

  it('a full cycle is never prorated', () => {
    expect(prorationFactor({ ...JAN, cycleFrom: JAN.from, cycleTo: JAN.to }, true)).toBe('1');
    expect(
      prorationFactor(
        { from: JAN.from, to: D('2026-01-16T12:00:00Z'), cycleFrom: JAN.from, cycleTo: JAN.to },
        true,
      ),
    ).toBe('0.5');
  });

  it('credits the unused part of an in-advance fee when a period is cut short (pro-rating on)', () => {
    // cut on Jan 11 of a 31-day cycle: the seat fee was billed up to Feb 1; 21/31 of 31 = 21.00 back
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([base, seat], {}, { to: D('2026-01-11T00:00:00Z') }),
    });
    expect(inv.lines.map((l) => [l.rateCardKey, l.amount, l.periodFrom, l.periodTo])).toEqual([
      ['base', '9.68', JAN.from.toISOString(), '2026-01-11T00:00:00.000Z'],
      ['seat', '-21.00', '2026-01-11T00:00:00.000Z', JAN.to.toISOString()],
    ]);
    expect(inv.lines[1].name).toMatch(/unused time credited/);
    expect(inv.lines[1].detail.credit_for_unused).toBe(true);
    expect(inv.totals.total).toBe('-11.32');
  });

  it('credits nothing for a full period, or when pro-rating is disabled', () => {
    const full = composeInvoice({ currency: 'USD', arrears: arrears([seat]) });
    expect(full.lines).toEqual([]);
    const off = composeInvoice({
      currency: 'USD',
      arrears: arrears([seat], {}, { to: D('2026-01-11T00:00:00Z'), proRating: false }),
    });
    expect(off.lines).toEqual([]);
  });

  it('free prices produce no line', () => {
    const inv = composeInvoice({ currency: 'USD', arrears: arrears([rc('f', { type: 'free' }), base]) });
    expect(inv.lines.map((l) => l.rateCardKey)).toEqual(['base']);
  });
});

describe('composeInvoice: one-time fees', () => {
  const setup = rc(
    'setup',
    { type: 'flat', amount: '99' },
    { billing_cadence: null, payment_term: 'in_advance' },
  );
  const base = rc('base', { type: 'flat', amount: '30' });

  it('billed on the first invoice, in the advance section, never prorated', () => {
    const inv = composeInvoice({
      currency: 'USD',
      advance: advance([setup, base], { from: D('2026-02-20T00:00:00Z') }),
    });
    expect(inv.lines.map((l) => [l.rateCardKey, l.amount, l.detail.one_time])).toEqual([
      ['setup', '99.00', true],
    ]);
  });

  it('billed on the arrears section when the invoice has no advance section', () => {
    const inv = composeInvoice({ currency: 'USD', arrears: arrears([setup, base]) });
    expect(inv.lines.map((l) => l.rateCardKey).sort()).toEqual(['base', 'setup']);
  });

  it('billed once when both sections cover the same phase', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([setup, base]),
      advance: advance([setup, base]),
    });
    expect(inv.lines.filter((l) => l.rateCardKey === 'setup')).toHaveLength(1);
    expect(inv.lines.find((l) => l.rateCardKey === 'setup')?.periodFrom).toBe(FEB.from.toISOString());
  });

  it('not billed again once billed', () => {
    const inv = composeInvoice({
      currency: 'USD',
      arrears: arrears([setup, base]),
      oneTimeBilled: new Set([oneTimeKey('plan_1', 'default', 'setup')]),
    });
    expect(inv.lines.map((l) => l.rateCardKey)).toEqual(['base']);
  });

  it('a newer version of the same plan does not charge it again; another plan does', () => {
    const billedUnderV1 = new Set([oneTimeKey('team', 'default', 'setup')]);
    const v2 = arrears([setup, base]);
    v2.phase = { ...v2.phase, planId: 'plan_v2', planKey: 'team' };
    const again = composeInvoice({ currency: 'USD', arrears: v2, oneTimeBilled: billedUnderV1 });
    expect(again.lines.map((l) => l.rateCardKey)).toEqual(['base']);
    const other = arrears([setup, base]);
    other.phase = { ...other.phase, planId: 'plan_x', planKey: 'enterprise' };
    const fresh = composeInvoice({ currency: 'USD', arrears: other, oneTimeBilled: billedUnderV1 });
    expect(fresh.lines.map((l) => l.rateCardKey).sort()).toEqual(['base', 'setup']);
  });
});

describe('totals', () => {
  it('every BillingTotals component is a decimal string; total = amount without taxes/discounts', () => {
    const t = totalsOf(['1.10', '2.25'], 'USD');
    expect(t).toEqual({
      amount: '3.35',
      taxes_total: '0.00',
      taxes_inclusive_total: '0.00',
      taxes_exclusive_total: '0.00',
      charges_total: '0.00',
      discounts_total: '0.00',
      credits_total: '0.00',
      total: '3.35',
    });
  });

  it('invoice totals over mixed lines', () => {
    const inv = composeInvoice({
      currency: 'EUR',
      arrears: arrears(
        [
          rc('g', graduated),
          rc('u', { type: 'unit', amount: '0.1' }),
          rc('base', { type: 'flat', amount: '20' }),
        ],
        { g: '11', u: '33' },
      ),
    });
    // 10.50 + 3.30 + 20.00
    expect(inv.totals.amount).toBe('33.80');
    expect(inv.totals.total).toBe('33.80');
    for (const l of inv.lines) expect(l.totals.total).toBe(l.amount);
  });

  it('rejects an input with nothing to bill', () => {
    expect(() => composeInvoice({ currency: 'USD' })).toThrow(RangeError);
  });
});
