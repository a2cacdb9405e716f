import { currencyPrecision, prorate, rateUsage, roundMoney } from '../../src/catalog/pricing';
import type { Price } from '../../src/catalog/types';

describe('currencyPrecision / roundMoney', () => {
  it('knows minor units per currency', () => {
    expect(currencyPrecision('USD')).toBe(2);
    expect(currencyPrecision('EUR')).toBe(2);
    expect(currencyPrecision('JPY')).toBe(0);
    expect(currencyPrecision('KRW')).toBe(0);
    for (const c of ['BHD', 'KWD', 'JOD', 'OMR', 'TND']) expect(currencyPrecision(c)).toBe(3);
  });

  it.each([
    ['1.005', 'USD', '1.01'],
    ['1.004999', 'USD', '1.00'],
    ['2.5', 'JPY', '3'],
    ['3.5', 'KRW', '4'],
    ['2.4999', 'JPY', '2'],
    ['1.0005', 'KWD', '1.001'],
    ['1.0004', 'BHD', '1.000'],
    ['-1.005', 'USD', '-1.01'],
    ['-0.001', 'USD', '0.00'],
    ['7', 'EUR', '7.00'],
    ['123456789012345678901234567890.125', 'USD', '123456789012345678901234567890.13'],
  ])('rounds %s %s half-up to %s', (amount, currency, want) => {
    expect(roundMoney(amount, currency)).toBe(want);
  });

  it('rejects non-decimal strings', () => {
    expect(() => roundMoney('1e3', 'USD')).toThrow(RangeError);
    expect(() => roundMoney('abc', 'USD')).toThrow(RangeError);
  });
});

describe('rateUsage: simple prices', () => {
  it('free is always zero', () => {
    expect(rateUsage({ type: 'free' }, '1000', 'USD').amount).toBe('0.00');
  });

  it('flat ignores the quantity', () => {
    expect(rateUsage({ type: 'flat', amount: '49.99' }, '0', 'USD').amount).toBe('49.99');
    expect(rateUsage({ type: 'flat', amount: '49.99' }, '12345', 'USD').amount).toBe('49.99');
  });

  it('unit multiplies exactly, rounding once at the end', () => {
    const r = rateUsage({ type: 'unit', amount: '0.001' }, '1234567', 'USD');
    expect(r).toEqual({ amount: '1234.57', unit_price: '0.001' });
    expect(rateUsage({ type: 'unit', amount: '0.1' }, '3', 'USD').amount).toBe('0.30');
    expect(rateUsage({ type: 'unit', amount: '0.0025' }, '2', 'USD').amount).toBe('0.01');
    expect(rateUsage({ type: 'unit', amount: '1.5' }, '2.5', 'JPY').amount).toBe('4');
  });

  it('handles quantity 0, fractional and huge quantities', () => {
    expect(rateUsage({ type: 'unit', amount: '2' }, '0', 'USD').amount).toBe('0.00');
    expect(rateUsage({ type: 'unit', amount: '0.5' }, '0.333', 'USD').amount).toBe('0.17');
    expect(rateUsage({ type: 'unit', amount: '0.000001' }, '99999999999999999999999', 'USD').amount).toBe(
      '100000000000000000.00', // 99999999999999999.999999 rounded
    );
    expect(rateUsage({ type: 'unit', amount: '1' }, '12345678901234567890.12', 'USD').amount).toBe(
      '12345678901234567890.12',
    );
  });

  it('rejects an invalid quantity', () => {
    expect(() => rateUsage({ type: 'unit', amount: '1' }, 'ten', 'USD')).toThrow(RangeError);
  });
});

describe('rateUsage: graduated', () => {
  const price: Price = {
    type: 'graduated',
    tiers: [
      { up_to_amount: '1000', unit_price: { type: 'unit', amount: '0' } },
      { up_to_amount: '5000', unit_price: { type: 'unit', amount: '0.01' } },
      { unit_price: { type: 'unit', amount: '0.005' } },
    ],
  };

  it.each([
    ['0', '0.00', 0],
    ['1', '0.00', 1],
    ['1000', '0.00', 1],
    ['1001', '0.01', 2],
    ['5000', '40.00', 2],
    ['5001', '40.01', 3], // 40 + 0.005 → line rounded half-up to 0.01
    ['10000', '65.00', 3],
  ])('quantity %s costs %s (%i tiers entered)', (qty, amount, entered) => {
    const r = rateUsage(price, qty, 'USD');
    expect(r.amount).toBe(amount);
    expect(r.lines).toHaveLength(entered);
  });

  it('prices each unit by its tier with an inclusive upper bound', () => {
    const r = rateUsage(price, '6000', 'USD');
    expect(r.lines).toEqual([
      { tier_index: 0, from: '0', to: '1000', quantity: '1000', unit_price: '0', amount: '0.00' },
      { tier_index: 1, from: '1000', to: '5000', quantity: '4000', unit_price: '0.01', amount: '40.00' },
      { tier_index: 2, from: '5000', quantity: '1000', unit_price: '0.005', amount: '5.00' },
    ]);
    expect(r.amount).toBe('45.00');
  });

  it('adds each entered tier flat price once', () => {
    const p: Price = {
      type: 'graduated',
      tiers: [
        { up_to_amount: '10', flat_price: { type: 'flat', amount: '5' } },
        {
          up_to_amount: '20',
          flat_price: { type: 'flat', amount: '7' },
          unit_price: { type: 'unit', amount: '1' },
        },
        { flat_price: { type: 'flat', amount: '100' }, unit_price: { type: 'unit', amount: '0.5' } },
      ],
    };
    expect(rateUsage(p, '0', 'USD').amount).toBe('0.00');
    expect(rateUsage(p, '0.5', 'USD').amount).toBe('5.00');
    expect(rateUsage(p, '10', 'USD').amount).toBe('5.00');
    expect(rateUsage(p, '10.5', 'USD').amount).toBe('12.50');
    expect(rateUsage(p, '20', 'USD').amount).toBe('22.00');
    expect(rateUsage(p, '24', 'USD').amount).toBe('124.00');
  });

  it('prices fractional quantities in fractional tiers', () => {
    const p: Price = {
      type: 'graduated',
      tiers: [
        { up_to_amount: '0.5', unit_price: { type: 'unit', amount: '10' } },
        { unit_price: { type: 'unit', amount: '1' } },
      ],
    };
    expect(rateUsage(p, '0.75', 'USD').amount).toBe('5.25');
  });

  it('prices units above a bounded last tier at the last tier', () => {
    const p: Price = {
      type: 'graduated',
      tiers: [
        { up_to_amount: '10', unit_price: { type: 'unit', amount: '1' } },
        { up_to_amount: '20', unit_price: { type: 'unit', amount: '2' } },
      ],
    };
    expect(rateUsage(p, '25', 'USD').amount).toBe('40.00');
  });

  it('rejects negative quantities', () => {
    expect(() => rateUsage(price, '-1', 'USD')).toThrow(RangeError);
  });

  it('sums rounded lines so the lines add up to the total', () => {
    const p: Price = {
      type: 'graduated',
      tiers: [
        { up_to_amount: '1', unit_price: { type: 'unit', amount: '0.005' } },
        { unit_price: { type: 'unit', amount: '0.005' } },
      ],
    };
    const r = rateUsage(p, '2', 'USD');
    expect(r.lines!.map((l) => l.amount)).toEqual(['0.01', '0.01']);
    expect(r.amount).toBe('0.02');
  });
});

describe('rateUsage: volume', () => {
  const price: Price = {
    type: 'volume',
    tiers: [
      { up_to_amount: '100', unit_price: { type: 'unit', amount: '1' } },
      {
        up_to_amount: '1000',
        unit_price: { type: 'unit', amount: '0.8' },
        flat_price: { type: 'flat', amount: '10' },
      },
      { unit_price: { type: 'unit', amount: '0.5' } },
    ],
  };

  it.each([
    ['0', '0.00', undefined],
    ['1', '1.00', '1'],
    ['100', '100.00', '1'],
    ['100.5', '90.40', '0.8'],
    ['101', '90.80', '0.8'],
    ['1000', '810.00', '0.8'],
    ['1001', '500.50', '0.5'],
    ['1000000000000', '500000000000.00', '0.5'],
  ])('quantity %s costs %s (unit price %s)', (qty, amount, unit) => {
    const r = rateUsage(price, qty, 'USD');
    expect(r.amount).toBe(amount);
    expect(r.unit_price).toBe(unit);
  });

  it('reports the selected tier as a single line', () => {
    expect(rateUsage(price, '500', 'USD').lines).toEqual([
      {
        tier_index: 1,
        from: '100',
        to: '1000',
        quantity: '500',
        unit_price: '0.8',
        flat_price: '10',
        amount: '410.00',
      },
    ]);
  });

  it('uses the last tier when the quantity exceeds every bound', () => {
    const p: Price = {
      type: 'volume',
      tiers: [{ up_to_amount: '10', unit_price: { type: 'unit', amount: '2' } }],
    };
    expect(rateUsage(p, '11', 'USD').amount).toBe('22.00');
  });

  it('supports flat-only tiers', () => {
    const p: Price = {
      type: 'volume',
      tiers: [
        { up_to_amount: '5', flat_price: { type: 'flat', amount: '3' } },
        { flat_price: { type: 'flat', amount: '9' } },
      ],
    };
    expect(rateUsage(p, '5', 'JPY').amount).toBe('3');
    expect(rateUsage(p, '5.0001', 'JPY').amount).toBe('9');
  });
});

describe('prorate', () => {
  const d = (s: string) => new Date(s);

  it('halves', () => {
    expect(
      prorate(
        '100',
        d('2025-04-01T00:00:00Z'),
        d('2025-04-16T00:00:00Z'),
        d('2025-04-01T00:00:00Z'),
        d('2025-05-01T00:00:00Z'),
      ),
    ).toBe('50');
  });

  it('thirds, exact to many digits, rounding when billing', () => {
    const third = prorate(
      '10',
      d('2025-04-01T00:00:00Z'),
      d('2025-04-11T00:00:00Z'),
      d('2025-04-01T00:00:00Z'),
      d('2025-05-01T00:00:00Z'),
    );
    expect(third.startsWith('3.33333333333333333333')).toBe(true);
    expect(roundMoney(third, 'USD')).toBe('3.33');
    const twoThirds = prorate(
      '10',
      d('2025-04-11T00:00:00Z'),
      d('2025-05-01T00:00:00Z'),
      d('2025-04-01T00:00:00Z'),
      d('2025-05-01T00:00:00Z'),
    );
    expect(roundMoney(twoThirds, 'USD')).toBe('6.67');
  });

  it('uses milliseconds (a February day is 1/28 of the cycle)', () => {
    expect(
      prorate(
        '28',
        d('2025-02-10T00:00:00Z'),
        d('2025-02-11T00:00:00Z'),
        d('2025-02-01T00:00:00Z'),
        d('2025-03-01T00:00:00Z'),
      ),
    ).toBe('1');
  });

  it('full cycle and empty period', () => {
    const s = d('2025-01-01T00:00:00Z');
    const e = d('2025-02-01T00:00:00Z');
    expect(prorate('99.99', s, e, s, e)).toBe('99.99');
    expect(prorate('99.99', s, s, s, e)).toBe('0');
  });

  it('rejects empty cycles and reversed periods', () => {
    const s = d('2025-01-01T00:00:00Z');
    const e = d('2025-02-01T00:00:00Z');
    expect(() => prorate('1', s, e, s, s)).toThrow(RangeError);
    expect(() => prorate('1', e, s, s, e)).toThrow(RangeError);
  });
});
