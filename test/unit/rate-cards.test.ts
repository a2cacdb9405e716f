/** 10.3 The rate-card predicates shared by catalog, billing, entitlements and the subscription machine. */
import {
  isBilledInAdvance,
  isOneTime,
  isUsagePrice,
  paymentTermOf,
  usageFilters,
} from '../../src/catalog/rate-cards';
import type { Price } from '../../src/catalog/types';

const tiers = [{ unit_price: { type: 'unit' as const, amount: '1' } }];
const PRICES: Record<Price['type'], Price> = {
  free: { type: 'free' },
  flat: { type: 'flat', amount: '10' },
  unit: { type: 'unit', amount: '0.1' },
  graduated: { type: 'graduated', tiers },
  volume: { type: 'volume', tiers },
};

describe('isUsagePrice', () => {
  it.each([
    ['unit', true],
    ['graduated', true],
    ['volume', true],
    ['flat', false],
    ['free', false],
  ] as const)('%s → %s', (type, want) => {
    expect(isUsagePrice(PRICES[type])).toBe(want);
  });
});

describe('paymentTermOf', () => {
  it('defaults to in_arrears', () => {
    expect(paymentTermOf({})).toBe('in_arrears');
    expect(paymentTermOf({ payment_term: 'in_arrears' })).toBe('in_arrears');
    expect(paymentTermOf({ payment_term: 'in_advance' })).toBe('in_advance');
  });
});

describe('isOneTime', () => {
  it.each([
    ['flat', null, true],
    ['flat', undefined, true],
    ['flat', 'P1M', false],
    ['free', null, false],
    ['unit', null, false],
    ['graduated', 'P1M', false],
  ] as const)('a %s price with cadence %s → %s', (type, cadence, want) => {
    expect(isOneTime({ price: PRICES[type], billing_cadence: cadence })).toBe(want);
  });
});

describe('isBilledInAdvance', () => {
  it.each([
    ['flat', 'in_advance', true],
    ['flat', 'in_arrears', false],
    ['flat', undefined, false],
    ['free', 'in_advance', false],
    ['unit', 'in_advance', false],
    ['volume', 'in_advance', false],
  ] as const)('a %s price paid %s → %s', (type, term, want) => {
    expect(isBilledInAdvance({ price: PRICES[type], ...(term ? { payment_term: term } : {}) })).toBe(want);
  });

  it('holds for one-time and recurring flat fees alike (both open a phase with an invoice in advance)', () => {
    const flat = PRICES.flat;
    expect(isBilledInAdvance({ price: flat, payment_term: 'in_advance' })).toBe(true);
    expect(isOneTime({ price: flat, billing_cadence: null })).toBe(true);
  });
});

describe('usageFilters (feature meter filters → usage filters)', () => {
  it('maps eq to one value and in to its values', () => {
    expect(usageFilters({ model: { eq: 'gpt' }, region: { in: ['eu', 'us'] } })).toEqual({
      model: ['gpt'],
      region: ['eu', 'us'],
    });
  });

  it('prefers in over eq when both are present', () => {
    expect(usageFilters({ model: { eq: 'a', in: ['b', 'c'] } })).toEqual({ model: ['b', 'c'] });
  });

  it('drops empty conditions, and is undefined when nothing filters', () => {
    expect(usageFilters({ model: {}, region: { in: ['eu'] } })).toEqual({ region: ['eu'] });
    expect(usageFilters({ model: {} })).toBeUndefined();
    expect(usageFilters({ model: { in: [] } })).toBeUndefined();
    expect(usageFilters({})).toBeUndefined();
    expect(usageFilters(null)).toBeUndefined();
    expect(usageFilters(undefined)).toBeUndefined();
  });

  it('keeps an empty-string value (it filters on the empty dimension value)', () => {
    expect(usageFilters({ model: { eq: '' } })).toEqual({ model: [''] });
  });
});
