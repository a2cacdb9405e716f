/**
 * 10.3 Plan validation is a pure function over the plan input and the features loaded beforehand: every
 * rule, with the exact fields and reasons the API returns (`body.…`), in input order.
 */
import type { InvalidParam } from '../../src/lib/errors';
import type { Feature } from '../../src/catalog/types';
import {
  decimalGreater,
  featureRefs,
  validatePlan,
  type PlanPhaseInput,
  type RateCardInput,
} from '../../src/catalog/validate';

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
const ARCHIVED = feature('01JARCHIVED000000000000000', 'old-tokens', {
  meter: { id: '01JMETER00000000000000000A' },
  deleted_at: T,
});

/** what the service loads: by id, and live features by key */
const FEATURES = new Map<string, Feature>([
  [METERED.id, METERED],
  [METERED.key, METERED],
  [STATIC.id, STATIC],
  [STATIC.key, STATIC],
  [ARCHIVED.id, ARCHIVED],
]);

const rc = (over: Partial<RateCardInput> = {}): RateCardInput => ({
  key: 'rc',
  name: 'Rate card',
  price: { type: 'free' },
  ...over,
});
const usageRc = (over: Partial<RateCardInput> = {}): RateCardInput =>
  rc({
    feature: { id: METERED.id },
    billing_cadence: 'P1M',
    price: { type: 'unit', amount: '0.01' },
    ...over,
  });
const phase = (rate_cards: RateCardInput[], over: Partial<PlanPhaseInput> = {}): PlanPhaseInput => ({
  key: 'default',
  name: 'Default',
  rate_cards,
  ...over,
});

const validate = (phases: PlanPhaseInput[], cadence: string | undefined = 'P1M') =>
  validatePlan(phases, cadence, FEATURES);
const errors = (phases: PlanPhaseInput[], cadence: string | undefined = 'P1M'): InvalidParam[] =>
  validate(phases, cadence).errors;
const one = (field: string, reason: string): InvalidParam[] => [{ field, reason }];
const RC0 = 'body.phases[0].rate_cards[0]';

describe('a valid plan', () => {
  it('has no errors and comes back normalized (defaults filled in, features by id)', () => {
    const { errors: errs, phases } = validate([
      phase(
        [
          rc({ key: 'setup', price: { type: 'flat', amount: '99' } }),
          usageRc({ key: 'tokens', feature: { id: 'tokens' }, entitlement: { type: 'metered', limit: 10 } }),
          rc({
            key: 'seats',
            description: 'per seat',
            labels: { team: 'a' },
            billing_cadence: 'P1M',
            payment_term: 'in_advance',
            price: { type: 'flat', amount: '10' },
          }),
        ],
        { key: 'trial', duration: 'P14D', description: 'two weeks', labels: { t: '1' } },
      ),
      phase([rc({ key: 'sso', feature: { id: 'sso' }, entitlement: { type: 'boolean' } })]),
    ]);
    expect(errs).toEqual([]);
    expect(phases).toEqual([
      {
        key: 'trial',
        name: 'Default',
        description: 'two weeks',
        labels: { t: '1' },
        duration: 'P14D',
        rate_cards: [
          {
            key: 'setup',
            name: 'Rate card',
            billing_cadence: null,
            payment_term: 'in_arrears',
            price: { type: 'flat', amount: '99' },
          },
          {
            key: 'tokens',
            name: 'Rate card',
            feature: { id: METERED.id },
            billing_cadence: 'P1M',
            payment_term: 'in_arrears',
            price: { type: 'unit', amount: '0.01' },
            entitlement: { type: 'metered', limit: 10 },
          },
          {
            key: 'seats',
            name: 'Rate card',
            description: 'per seat',
            labels: { team: 'a' },
            billing_cadence: 'P1M',
            payment_term: 'in_advance',
            price: { type: 'flat', amount: '10' },
          },
        ],
      },
      {
        key: 'default',
        name: 'Default',
        rate_cards: [
          {
            key: 'sso',
            name: 'Rate card',
            feature: { id: STATIC.id },
            billing_cadence: null,
            payment_term: 'in_arrears',
            price: { type: 'free' },
            entitlement: { type: 'boolean' },
          },
        ],
      },
    ]);
  });

  it('does not modify its input', () => {
    const input = [phase([usageRc({ feature: { id: 'tokens' } })])];
    const copy = JSON.parse(JSON.stringify(input)) as PlanPhaseInput[];
    validate(input);
    expect(input).toEqual(copy);
  });

  it('accepts the boundaries: PT1M everywhere, an explicit null cadence, the same cadence written otherwise', () => {
    expect(
      errors(
        [
          phase(
            [usageRc({ billing_cadence: 'PT1M', entitlement: { type: 'metered', usage_period: 'PT1M' } })],
            {
              duration: 'PT1M',
            },
          ),
          phase([rc({ billing_cadence: null, price: { type: 'flat', amount: '1' } })], { key: 'last' }),
        ],
        'PT1M',
      ),
    ).toEqual([]);
    // the same duration with zero components spelled out
    expect(errors([phase([usageRc({ billing_cadence: 'P1M0D' })])], 'P1M')).toEqual([]);
  });
});

describe('cadences and durations', () => {
  it('refuses a plan cadence under PT1M, once (no cadence comparison on the rate cards)', () => {
    expect(errors([phase([usageRc({ billing_cadence: 'P1M' }), usageRc({ key: 'b' })])], 'PT30S')).toEqual(
      one('body.billing_cadence', 'must be at least PT1M'),
    );
  });

  it('compares nothing when there is no plan cadence', () => {
    expect(validatePlan([phase([usageRc({ billing_cadence: 'P1Y' })])], undefined, FEATURES).errors).toEqual(
      [],
    );
  });

  it.each(['PT59S', 'PT30S', 'PT0S'])('refuses a rate-card cadence of %s', (c) => {
    expect(errors([phase([rc({ billing_cadence: c, price: { type: 'flat', amount: '1' } })])], c)).toEqual([
      { field: 'body.billing_cadence', reason: 'must be at least PT1M' },
      { field: `${RC0}.billing_cadence`, reason: 'must be at least PT1M' },
    ]);
  });

  it.each([
    ['P1Y', 'P1M'],
    ['P1W', 'P1M'],
    ['P1D', 'P1M'],
    // compared component by component: 60 minutes is not written as the plan's hour
    ['PT60M', 'PT1H'],
    ['P12M', 'P1Y'],
  ])('refuses a recurring rate card billed every %s on a %s plan', (c, plan) => {
    expect(errors([phase([rc({ billing_cadence: c, price: { type: 'flat', amount: '1' } })])], plan)).toEqual(
      one(
        `${RC0}.billing_cadence`,
        `a recurring rate card must be billed at the plan cadence ${plan} (or be one-time: null)`,
      ),
    );
  });

  it('refuses a phase duration under PT1M', () => {
    expect(errors([phase([], { duration: 'PT30S' })])).toEqual(
      one('body.phases[0].duration', 'must be at least PT1M'),
    );
  });

  it('lets only the last phase omit its duration', () => {
    expect(errors([phase([], { key: 'a' }), phase([], { key: 'b' }), phase([], { key: 'c' })])).toEqual([
      { field: 'body.phases[0].duration', reason: 'only the last phase may omit its duration' },
      { field: 'body.phases[1].duration', reason: 'only the last phase may omit its duration' },
    ]);
    expect(
      errors([phase([], { key: 'a', duration: 'P1M' }), phase([], { key: 'b', duration: 'P1Y' })]),
    ).toEqual([]);
  });

  it('refuses a metered entitlement usage period under PT1M', () => {
    expect(errors([phase([usageRc({ entitlement: { type: 'metered', usage_period: 'PT10S' } })])])).toEqual(
      one(`${RC0}.entitlement.usage_period`, 'must be at least PT1M'),
    );
  });
});

describe('keys', () => {
  it('refuses duplicate phase keys, each repeat reported', () => {
    expect(
      errors([
        phase([], { key: 'a', duration: 'P1M' }),
        phase([], { key: 'a', duration: 'P1M' }),
        phase([], { key: 'a' }),
      ]),
    ).toEqual([
      { field: 'body.phases[1].key', reason: 'duplicate phase key a' },
      { field: 'body.phases[2].key', reason: 'duplicate phase key a' },
    ]);
  });

  it('refuses duplicate rate-card keys within a phase, not across phases', () => {
    expect(errors([phase([rc({ key: 'x' }), rc({ key: 'y' }), rc({ key: 'x' })])])).toEqual(
      one('body.phases[0].rate_cards[2].key', 'duplicate rate card key x in the phase'),
    );
    expect(
      errors([
        phase([rc({ key: 'x' })], { key: 'a', duration: 'P1M' }),
        phase([rc({ key: 'x' })], { key: 'b' }),
      ]),
    ).toEqual([]);
  });
});

describe('features', () => {
  it('refuses an unknown feature, by id or by key', () => {
    expect(errors([phase([rc({ feature: { id: '01JUNKNOWN0000000000000000' } })])])).toEqual(
      one(`${RC0}.feature.id`, 'feature 01JUNKNOWN0000000000000000 not found'),
    );
    expect(errors([phase([rc({ feature: { id: 'nope' } })])])).toEqual(
      one(`${RC0}.feature.id`, 'feature nope not found'),
    );
  });

  it('refuses an archived feature, and checks it no further', () => {
    // a unit price and a metered entitlement on an archived (metered) feature: only "not found"
    expect(
      errors([phase([usageRc({ feature: { id: ARCHIVED.id }, entitlement: { type: 'metered' } })])]),
    ).toEqual(one(`${RC0}.feature.id`, `feature ${ARCHIVED.id} not found`));
    // an archived feature without a meter: still only "not found"
    const features = new Map([[STATIC.id, { ...STATIC, deleted_at: T }]]);
    expect(validatePlan([phase([usageRc({ feature: { id: STATIC.id } })])], 'P1M', features).errors).toEqual(
      one(`${RC0}.feature.id`, `feature ${STATIC.id} not found`),
    );
  });

  it('stores the feature id even when the rate card names the feature by key', () => {
    const { phases } = validate([phase([rc({ feature: { id: 'sso' } })])]);
    expect(phases[0].rate_cards[0].feature).toEqual({ id: STATIC.id });
  });

  it('keeps the reference as written when the feature is unknown (the plan is refused anyway)', () => {
    const { phases } = validate([phase([rc({ feature: { id: 'nope' } })])]);
    expect(phases[0].rate_cards[0].feature).toEqual({ id: 'nope' });
  });
});

describe('prices', () => {
  it.each(['unit', 'graduated', 'volume'] as const)(
    'a %s price needs a feature and a billing cadence',
    (type) => {
      const price =
        type === 'unit'
          ? { type, amount: '1' }
          : { type, tiers: [{ unit_price: { type: 'unit' as const, amount: '1' } }] };
      expect(errors([phase([rc({ price })])])).toEqual([
        { field: `${RC0}.feature`, reason: `a ${type} price needs a feature with a meter` },
        { field: `${RC0}.billing_cadence`, reason: `a ${type} price needs a billing cadence` },
      ]);
    },
  );

  it('a usage price needs a metered feature', () => {
    expect(errors([phase([usageRc({ feature: { id: STATIC.id } })])])).toEqual(
      one(`${RC0}.feature.id`, 'a unit price needs a metered feature; sso has no meter'),
    );
  });

  it('only flat prices may be paid in advance', () => {
    expect(errors([phase([usageRc({ payment_term: 'in_advance' })])])).toEqual(
      one(`${RC0}.payment_term`, 'in_advance is only allowed for flat prices'),
    );
    expect(
      errors([
        phase([
          rc({ billing_cadence: 'P1M', payment_term: 'in_advance', price: { type: 'flat', amount: '5' } }),
        ]),
      ]),
    ).toEqual([]);
    // a one-time fee may name either term (it is billed on the first invoice of the phase)
    expect(
      errors([phase([rc({ payment_term: 'in_advance', price: { type: 'flat', amount: '5' } })])]),
    ).toEqual([]);
    expect(errors([phase([rc({ payment_term: 'in_advance', price: { type: 'free' } })])])).toEqual([]);
  });

  it('flat and free prices need neither a feature nor a cadence', () => {
    expect(
      errors([phase([rc({ key: 'a', price: { type: 'flat', amount: '1' } }), rc({ key: 'b' })])]),
    ).toEqual([]);
  });

  it('reports every problem of one usage rate card, in rule order', () => {
    expect(
      errors([
        phase([
          rc({
            feature: { id: STATIC.id },
            payment_term: 'in_advance',
            price: { type: 'unit', amount: '1' },
          }),
        ]),
      ]),
    ).toEqual([
      { field: `${RC0}.feature.id`, reason: 'a unit price needs a metered feature; sso has no meter' },
      { field: `${RC0}.billing_cadence`, reason: 'a unit price needs a billing cadence' },
      { field: `${RC0}.payment_term`, reason: 'in_advance is only allowed for flat prices' },
    ]);
  });
});

describe('tiers', () => {
  const tiered = (type: 'graduated' | 'volume', bounds: (string | undefined)[], priced = true) =>
    usageRc({
      price: {
        type,
        tiers: bounds.map((b) => ({
          ...(b !== undefined ? { up_to_amount: b } : {}),
          ...(priced ? { unit_price: { type: 'unit' as const, amount: '1' } } : {}),
        })),
      },
    });
  const tierErrors = (type: 'graduated' | 'volume', bounds: (string | undefined)[], priced = true) =>
    errors([phase([tiered(type, bounds, priced)])]);
  const TP = `${RC0}.price.tiers`;

  it.each(['graduated', 'volume'] as const)(
    '%s: ascending bounds with an open last tier are valid',
    (type) => {
      expect(tierErrors(type, ['10', '100', '1000.5', undefined])).toEqual([]);
      expect(tierErrors(type, ['9.99', '10', '010.01'])).toEqual([]);
      expect(tierErrors(type, [undefined])).toEqual([]);
    },
  );

  it.each(['graduated', 'volume'] as const)('%s: a tier needs a flat or a unit price', (type) => {
    expect(tierErrors(type, ['10', undefined], false)).toEqual([
      { field: `${TP}[0]`, reason: 'a tier needs a flat_price or a unit_price' },
      { field: `${TP}[1]`, reason: 'a tier needs a flat_price or a unit_price' },
    ]);
    const flatOnly = usageRc({
      price: {
        type,
        tiers: [
          { up_to_amount: '5', flat_price: { type: 'flat', amount: '10' } },
          { unit_price: { type: 'unit', amount: '1' } },
        ],
      },
    });
    expect(errors([phase([flatOnly])])).toEqual([]);
  });

  it('only the last tier may be open', () => {
    expect(tierErrors('graduated', [undefined, '10', undefined])).toEqual(
      one(`${TP}[0].up_to_amount`, 'only the last tier may be open'),
    );
  });

  it.each(['0', '0.000', '00'])('a bound of %s is refused', (b) => {
    expect(tierErrors('volume', [b, undefined])).toEqual(
      one(`${TP}[0].up_to_amount`, 'must be greater than 0'),
    );
  });

  it.each([
    ['10', '10'],
    ['10', '10.0'],
    ['10.5', '10.50'],
    ['10', '9.999'],
    ['100', '99'],
  ])('after %s, a bound of %s is refused (compared as decimals)', (a, b) => {
    expect(tierErrors('graduated', [a, b])).toEqual(
      one(`${TP}[1].up_to_amount`, `must be greater than the previous tier's ${a}`),
    );
  });

  it('the bound after a refused zero is compared with it: one error per bad bound', () => {
    for (const next of ['6', '4'])
      expect(tierErrors('graduated', ['5', '0', next])).toEqual(
        one(`${TP}[1].up_to_amount`, 'must be greater than 0'),
      );
    expect(tierErrors('graduated', ['5', '0', '0'])).toEqual([
      { field: `${TP}[1].up_to_amount`, reason: 'must be greater than 0' },
      { field: `${TP}[2].up_to_amount`, reason: 'must be greater than 0' },
    ]);
  });
});

describe('entitlements', () => {
  it('an entitlement needs the rate card to have a feature', () => {
    for (const entitlement of [{ type: 'boolean' as const }, { type: 'static' as const, config: { a: 1 } }])
      expect(errors([phase([rc({ entitlement })])])).toEqual(
        one(`${RC0}.entitlement`, 'an entitlement needs the rate card to have a feature'),
      );
  });

  it('a metered entitlement needs a metered feature; boolean and static ones do not', () => {
    expect(
      errors([phase([rc({ feature: { id: STATIC.id }, entitlement: { type: 'metered', limit: 5 } })])]),
    ).toEqual(one(`${RC0}.entitlement`, 'a metered entitlement needs a metered feature; sso has no meter'));
    expect(errors([phase([rc({ feature: { id: STATIC.id }, entitlement: { type: 'boolean' } })])])).toEqual(
      [],
    );
    expect(
      errors([phase([rc({ feature: { id: STATIC.id }, entitlement: { type: 'static', config: ['x'] } })])]),
    ).toEqual([]);
    // a free rate card on a metered feature can carry a metered entitlement (no billing cadence needed)
    expect(errors([phase([rc({ feature: { id: METERED.id }, entitlement: { type: 'metered' } })])])).toEqual(
      [],
    );
  });
});

describe('many problems at once', () => {
  it('are all reported, in input order, with fields naming phase and rate card', () => {
    expect(
      errors(
        [
          phase([rc({ key: 'a', feature: { id: 'gone' } }), rc({ key: 'a' })], { key: 'p' }),
          phase([usageRc({ key: 'u', billing_cadence: 'P1Y' })], { key: 'p', duration: 'PT1S' }),
        ],
        'P1M',
      ),
    ).toEqual([
      { field: 'body.phases[0].duration', reason: 'only the last phase may omit its duration' },
      { field: 'body.phases[0].rate_cards[0].feature.id', reason: 'feature gone not found' },
      { field: 'body.phases[0].rate_cards[1].key', reason: 'duplicate rate card key a in the phase' },
      { field: 'body.phases[1].key', reason: 'duplicate phase key p' },
      { field: 'body.phases[1].duration', reason: 'must be at least PT1M' },
      {
        field: 'body.phases[1].rate_cards[0].billing_cadence',
        reason: 'a recurring rate card must be billed at the plan cadence P1M (or be one-time: null)',
      },
    ]);
  });
});

describe('featureRefs (what the service loads in one query)', () => {
  it('lists every referenced feature once, in input order', () => {
    expect(
      featureRefs([
        phase([rc({ feature: { id: 'b' } }), rc(), rc({ feature: { id: 'a' } })], { duration: 'P1M' }),
        phase([rc({ feature: { id: 'a' } }), rc({ feature: { id: 'c' } })]),
      ]),
    ).toEqual(['b', 'a', 'c']);
    expect(featureRefs([phase([rc()])])).toEqual([]);
  });
});

describe('decimalGreater', () => {
  it.each([
    ['1', '0', true],
    ['0', '0', false],
    ['0.0001', '0', true],
    ['10', '9.99', true],
    ['9.99', '10', false],
    ['10.0', '10', false],
    ['10.01', '10.1', false],
    ['10.1', '10.01', true],
    ['007', '7', false],
    ['0100', '99', true],
    ['123456789012345678901234567890', '123456789012345678901234567889', true],
  ])('%s > %s is %s', (a, b, want) => {
    expect(decimalGreater(a, b)).toBe(want);
  });
});
