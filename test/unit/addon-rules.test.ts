/**
 * Add-on rules (src/catalog/addon-rules.ts): pure, over the add-on input (or the stored plan and add-on
 * versions) and the features loaded beforehand. Every rule with the exact field it names.
 */
import {
  overlayIssue,
  validateAddon,
  validatePlanAddon,
  type AddonInput,
} from '../../src/catalog/addon-rules';
import type { Addon, Feature, Plan, RateCard } from '../../src/catalog/types';
import type { RateCardInput } from '../../src/catalog/validate';

const T = '2026-01-01T00:00:00.000Z';
const feature = (id: string, key: string, extra: Partial<Feature> = {}): Feature => ({
  id,
  key,
  name: key,
  created_at: T,
  updated_at: T,
  ...extra,
});
const METERED = feature('01JMETERED000000000000000A', 'tokens', {
  meter: { id: '01JMETER00000000000000000A' },
});
const STATIC = feature('01JSTATIC0000000000000000A', 'sso');
const SEATS = feature('01JSEATS00000000000000000A', 'seats');
const FEATURES = new Map<string, Feature>(
  [METERED, STATIC, SEATS].flatMap((f) => [
    [f.id, f],
    [f.key, f],
  ]),
);

const rc = (over: Partial<RateCardInput> = {}): RateCardInput => ({
  key: 'extra',
  name: 'Extra',
  billing_cadence: 'P1M',
  price: { type: 'flat', amount: '10' },
  ...over,
});
const addonInput = (over: Partial<AddonInput> = {}): AddonInput => ({
  instance_type: 'single',
  currency: 'USD',
  rate_cards: [rc()],
  ...over,
});
const fields = (input: AddonInput) => validateAddon(input, FEATURES).errors.map((e) => e.field);

describe('validateAddon', () => {
  it('accepts a single-instance add-on with flat, usage and entitlement rate cards, normalized', () => {
    const { rateCards, errors } = validateAddon(
      addonInput({
        rate_cards: [
          rc({ payment_term: 'in_advance' }),
          rc({
            key: 'tokens',
            feature: { id: 'tokens' },
            price: { type: 'unit', amount: '0.01' },
            entitlement: { type: 'metered', limit: 1000 },
          }),
          rc({ key: 'sso', feature: { id: STATIC.id }, billing_cadence: null, price: { type: 'free' } }),
        ],
      }),
      FEATURES,
    );
    expect(errors).toEqual([]);
    expect(rateCards[0]).toMatchObject({ payment_term: 'in_advance', billing_cadence: 'P1M' });
    // a feature named by key is stored by id; the default payment term is in arrears
    expect(rateCards[1]).toMatchObject({ feature: { id: METERED.id }, payment_term: 'in_arrears' });
    expect(rateCards[2]).toMatchObject({ billing_cadence: null });
  });

  it('needs at least one rate card', () => {
    expect(fields(addonInput({ rate_cards: [] }))).toEqual(['body.rate_cards']);
  });

  it('applies the plan rate-card rules with add-on field names', () => {
    expect(
      fields(
        addonInput({
          rate_cards: [
            rc(),
            rc(), // duplicate key
            rc({ key: 'u', price: { type: 'unit', amount: '1' } }), // usage price without a feature
            rc({ key: 'g', feature: { id: 'nope' } }),
            rc({
              key: 'adv',
              feature: { id: METERED.id },
              price: { type: 'unit', amount: '1' },
              payment_term: 'in_advance',
            }),
          ],
        }),
      ),
    ).toEqual([
      'body.rate_cards[1].key',
      'body.rate_cards[2].feature',
      'body.rate_cards[3].feature.id',
      'body.rate_cards[4].payment_term',
    ]);
  });

  it('refuses recurring rate cards with different cadences, naming the later one', () => {
    const r = validateAddon(
      addonInput({
        rate_cards: [
          rc(),
          rc({ key: 'b', billing_cadence: 'P1Y' }),
          rc({ key: 'c', billing_cadence: 'P1M' }),
        ],
      }),
      FEATURES,
    );
    expect(r.errors).toEqual([
      {
        field: 'body.rate_cards[1].billing_cadence',
        reason: expect.stringContaining('P1Y differs from P1M'),
      },
    ]);
  });

  it('ignores one-time rate cards when comparing cadences', () => {
    expect(
      fields(
        addonInput({
          rate_cards: [rc({ billing_cadence: 'P1M' }), rc({ key: 'once', billing_cadence: null })],
        }),
      ),
    ).toEqual([]);
  });

  it('allows only flat and free prices on a multi-instance add-on', () => {
    const usage = rc({ key: 'u', feature: { id: METERED.id }, price: { type: 'unit', amount: '1' } });
    const tiered = rc({
      key: 't',
      feature: { id: METERED.id },
      price: { type: 'graduated', tiers: [{ unit_price: { type: 'unit', amount: '1' } }] },
    });
    expect(fields(addonInput({ instance_type: 'multiple', rate_cards: [rc(), usage, tiered] }))).toEqual([
      'body.rate_cards[1].price.type',
      'body.rate_cards[2].price.type',
    ]);
    // the same rate cards are fine on a single-instance add-on
    expect(fields(addonInput({ instance_type: 'single', rate_cards: [rc(), usage, tiered] }))).toEqual([]);
    // free prices with an entitlement are fine on a multi-instance one (the quantity multiplies the limit)
    expect(
      fields(
        addonInput({
          instance_type: 'multiple',
          rate_cards: [
            rc({
              key: 'q',
              feature: { id: METERED.id },
              price: { type: 'free' },
              entitlement: { type: 'metered', limit: 10 },
            }),
          ],
        }),
      ),
    ).toEqual([]);
  });

  it("refuses a rate-card currency other than the add-on's", () => {
    expect(fields(addonInput({ rate_cards: [rc({ currency: 'EUR' })] }))).toEqual([
      'body.rate_cards[0].currency',
    ]);
    expect(fields(addonInput({ rate_cards: [rc({ currency: 'USD' })] }))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------

const card = (over: Partial<RateCard> = {}): RateCard => ({
  key: 'base',
  name: 'Base',
  billing_cadence: 'P1M',
  payment_term: 'in_advance',
  price: { type: 'flat', amount: '20' },
  ...over,
});
const plan = (over: Partial<Plan> = {}): Plan => ({
  id: '01JPLAN0000000000000000000',
  key: 'pro',
  version: 1,
  status: 'active',
  name: 'Pro',
  currency: 'USD',
  billing_cadence: 'P1M',
  pro_rating_enabled: true,
  phases: [
    { key: 'trial', name: 'Trial', duration: 'P14D', rate_cards: [card({ price: { type: 'free' } })] },
    {
      key: 'default',
      name: 'Default',
      rate_cards: [
        card(),
        card({
          key: 'tokens',
          feature: { id: METERED.id },
          payment_term: 'in_arrears',
          price: { type: 'unit', amount: '0.01' },
          entitlement: { type: 'metered', limit: 1000, usage_period: 'P1M' },
        }),
      ],
    },
  ],
  created_at: T,
  updated_at: T,
  ...over,
});
const addon = (over: Partial<Addon> = {}): Addon => ({
  id: '01JADDON000000000000000000',
  key: 'seats',
  version: 1,
  status: 'active',
  name: 'Seats',
  instance_type: 'multiple',
  currency: 'USD',
  rate_cards: [card({ key: 'seat', feature: { id: SEATS.id }, price: { type: 'flat', amount: '5' } })],
  created_at: T,
  updated_at: T,
  ...over,
});
const offer = (p: Plan, a: Addon, from = 'default', max?: number) =>
  validatePlanAddon(p, a, { from_plan_phase: from, ...(max !== undefined ? { max_quantity: max } : {}) });

describe('validatePlanAddon', () => {
  it('accepts a compatible offer, on a draft plan too', () => {
    expect(offer(plan(), addon(), 'default', 10)).toEqual({ conflicts: [], errors: [] });
    expect(offer(plan({ status: 'draft' }), addon(), 'trial')).toEqual({ conflicts: [], errors: [] });
  });

  it('conflicts with an archived plan or an add-on that is not active', () => {
    expect(offer(plan({ status: 'archived' }), addon()).conflicts).toEqual([
      expect.stringContaining('archived'),
    ]);
    expect(offer(plan(), addon({ status: 'draft' })).conflicts).toEqual([
      expect.stringContaining('is draft'),
    ]);
    expect(offer(plan(), addon({ status: 'archived' })).conflicts).toHaveLength(1);
  });

  it('refuses max_quantity on a single-instance add-on, allows it omitted', () => {
    expect(
      offer(plan(), addon({ instance_type: 'single' }), 'default', 1).errors.map((e) => e.field),
    ).toEqual(['body.max_quantity']);
    expect(offer(plan(), addon({ instance_type: 'single' })).errors).toEqual([]);
  });

  it('refuses another currency', () => {
    expect(offer(plan(), addon({ currency: 'EUR' })).errors).toEqual([
      { field: 'body.addon.id', reason: 'the add-on bills in EUR, the plan in USD' },
    ]);
  });

  it("refuses a recurring rate card not billed at the plan's cadence; one-time ones are fine", () => {
    const a = addon({
      rate_cards: [
        card({ key: 'yearly', billing_cadence: 'P1Y' }),
        card({ key: 'setup', billing_cadence: null }),
      ],
    });
    expect(offer(plan(), a).errors.map((e) => e.field)).toEqual(['body.addon.rate_cards[0].billing_cadence']);
  });

  it('refuses an unknown from_plan_phase, listing the phases', () => {
    expect(offer(plan(), addon(), 'gold').errors).toEqual([
      { field: 'body.from_plan_phase', reason: expect.stringContaining('phases: trial, default') },
    ]);
  });

  it('lets a rate card with a plan key extend it when compatible (flat, same term; metered, same period)', () => {
    const a = addon({
      instance_type: 'single',
      rate_cards: [
        card({ price: { type: 'flat', amount: '5' } }),
        card({
          key: 'tokens',
          feature: { id: METERED.id },
          payment_term: 'in_arrears',
          price: { type: 'free' },
          entitlement: { type: 'metered', limit: 500, usage_period: 'P1M' },
        }),
      ],
    });
    expect(offer(plan(), a).errors).toEqual([]);
  });

  it.each<[string, Partial<RateCard>, RegExp]>([
    ['another feature', { feature: { id: SEATS.id } }, /feature/],
    ['another cadence', { billing_cadence: null }, /billing cadence/],
    ['another payment term', { payment_term: 'in_arrears' }, /payment term/],
    ['a usage price', { feature: undefined, price: { type: 'unit', amount: '1' } }, /only flat prices/],
  ])('refuses extending the base rate card with %s', (_name, over, reason) => {
    const r = offer(plan(), addon({ instance_type: 'single', rate_cards: [card({ ...over })] }));
    expect(r.errors).toEqual([{ field: 'body.addon.rate_cards[0]', reason: expect.stringMatching(reason) }]);
  });

  it('refuses entitlement overlays of another type, static ones and other usage periods', () => {
    const base = card({ key: 'x', feature: { id: STATIC.id }, price: { type: 'free' } });
    expect(
      overlayIssue(
        { ...base, entitlement: { type: 'boolean' } },
        { ...base, entitlement: { type: 'static', config: {} } },
      ),
    ).toMatch(/static entitlement cannot extend the plan's boolean/);
    expect(
      overlayIssue(
        { ...base, entitlement: { type: 'static', config: 1 } },
        { ...base, entitlement: { type: 'static', config: 2 } },
      ),
    ).toMatch(/cannot be extended/);
    const m = card({ key: 'x', feature: { id: METERED.id }, price: { type: 'free' } });
    expect(
      overlayIssue(
        { ...m, entitlement: { type: 'metered', usage_period: 'P1M' } },
        { ...m, entitlement: { type: 'metered', usage_period: 'P1D' } },
      ),
    ).toMatch(/usage period P1D differs from the plan's P1M/);
    expect(
      overlayIssue(
        { ...m, entitlement: { type: 'metered', usage_period: 'P1M' } },
        { ...m, entitlement: { type: 'metered', usage_period: 'P1M' } },
      ),
    ).toBeUndefined();
    expect(
      overlayIssue(
        { ...m, entitlement: { type: 'metered' } },
        { ...m, entitlement: { type: 'metered', usage_period: 'P1M' } },
      ),
    ).toMatch(/usage period P1M differs from the plan's \(the default\)/);
    expect(
      overlayIssue(
        { ...base, entitlement: { type: 'boolean' } },
        { ...base, entitlement: { type: 'boolean' } },
      ),
    ).toBeUndefined();
  });

  it('refuses a feature the phase already has under another key, in every phase from from_plan_phase', () => {
    const a = addon({
      rate_cards: [
        card({ key: 'more-tokens', feature: { id: METERED.id }, price: { type: 'flat', amount: '1' } }),
      ],
    });
    expect(offer(plan(), a).errors).toEqual([
      {
        field: 'body.addon.rate_cards[0].feature.id',
        reason: expect.stringContaining('rate card tokens in phase default'),
      },
    ]);
    // from the trial on, the later default phase is checked too
    expect(offer(plan(), a, 'trial').errors).toHaveLength(1);
  });

  it('checks the trial phase only when the offer starts there', () => {
    // the trial's base is free: a flat extension is fine there and in the default phase
    const a = addon({ instance_type: 'single', rate_cards: [card({ payment_term: 'in_arrears' })] });
    expect(offer(plan(), a, 'default').errors.map((e) => e.reason)).toEqual([
      expect.stringMatching(/phase default.*payment term/),
    ]);
    expect(offer(plan(), a, 'trial').errors).toHaveLength(1);
  });
});
