import { amountAfterProration, prorationProblem } from '../../src/billing/charge-proration';

const jan = { from: '2030-01-01T00:00:00.000Z', to: '2030-02-01T00:00:00.000Z' };
const janFeb = { from: '2030-01-01T00:00:00.000Z', to: '2030-03-01T00:00:00.000Z' };

describe('a charge prorated by its service period (prorate_prices)', () => {
  it.each([
    // 31 of 59 days: 12.345 × 31 / 59 = 6.48627…
    ['12.345', 'USD', 'prorate_prices', jan, janFeb, '6.49'],
    ['100', 'USD', 'prorate_prices', jan, janFeb, '52.54'],
    // JPY has no minor units
    ['1000', 'JPY', 'prorate_prices', jan, janFeb, '525'],
    // half-up at the cent: 0.01 × 31 / 59 = 0.00525… → 0.01
    ['0.01', 'USD', 'prorate_prices', jan, janFeb, '0.01'],
    // half a period exactly
    ['10', 'USD', 'prorate_prices', { from: jan.from, to: '2030-01-16T12:00:00.000Z' }, jan, '5.00'],
    // the whole full period: as given, not re-rounded
    ['12.345', 'USD', 'prorate_prices', janFeb, janFeb, '12.345'],
    // no full period, or no proration asked: as given
    ['12.345', 'USD', 'prorate_prices', jan, undefined, '12.345'],
    ['12.345', 'USD', 'no_proration', jan, janFeb, '12.345'],
    ['12.345', 'USD', undefined, jan, janFeb, '12.345'],
  ] as const)('%s %s %s → %s', (amount, currency, mode, service, full, expected) => {
    expect(amountAfterProration(amount, currency, mode, { service, ...(full ? { full } : {}) })).toBe(
      expected,
    );
  });

  it('refuses a service period outside the full one, or a full period that does not last', () => {
    expect(prorationProblem({ service: jan, full: janFeb })).toBeUndefined();
    expect(prorationProblem({ service: jan })).toBeUndefined();
    expect(prorationProblem({ service: janFeb, full: jan })).toMatch(/inside the full service period/);
    expect(prorationProblem({ service: jan, full: { from: jan.from, to: jan.from } })).toMatch(/must last/);
    // a problem never prorates
    expect(amountAfterProration('10', 'USD', 'prorate_prices', { service: janFeb, full: jan })).toBe('10');
  });
});
