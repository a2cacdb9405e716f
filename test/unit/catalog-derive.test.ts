/**
 * A subscription's own plan version derived from another by rate-card changes (src/catalog/derive.ts):
 * pure, every rule with its field and whether it is a conflict.
 */
import {
  deriveVersion,
  errorField,
  formatDuration,
  originOf,
  originsOf,
  stretchDuration,
  type DeriveInput,
  type RateCardChange,
} from '../../src/catalog/derive';
import { parseDuration } from '../../src/catalog/periods';
import type { PlanPhase, RateCard } from '../../src/catalog/types';

const fee = (key: string, amount: string): RateCard => ({
  key,
  name: key,
  billing_cadence: 'P1M',
  payment_term: 'in_arrears',
  price: { type: 'flat', amount },
});
const PHASES: PlanPhase[] = [
  { key: 'trial', name: 'Trial', duration: 'P1M', rate_cards: [fee('platform', '0')] },
  {
    key: 'default',
    name: 'Default',
    rate_cards: [
      fee('platform', '30'),
      { ...fee('seats', '10'), feature: { id: 'F1' }, entitlement: { type: 'boolean' } },
    ],
  },
];
const run = (changes: RateCardChange[], extra: Partial<DeriveInput> = {}) =>
  deriveVersion({
    phases: PHASES,
    baseId: 'BASE',
    changes,
    source: 'edit',
    versionId: 'NEW',
    fieldOf: (i) => `body.customizations[${i}]`,
    ...extra,
  });

describe('deriveVersion', () => {
  it('adds an item marked with the source and the new version; the others keep their origin', () => {
    const r = run([{ op: 'add_item', phase_key: 'default', rate_card: fee('support', '5') }]);
    expect(r.errors).toEqual([]);
    expect(r.phases[1].rate_cards.map((rc) => rc.key)).toEqual(['platform', 'seats', 'support']);
    expect(r.origins.items.default.support).toEqual({ source: 'edit', version: 'NEW' });
    expect(r.origins.items.default.platform).toEqual({ source: 'plan', version: 'BASE' });
    expect(r.origins.replaced).toBeUndefined();
    // the input is not mutated
    expect(PHASES[1].rate_cards).toHaveLength(2);
  });

  it('refuses an item key the phase already has, as a conflict naming the field', () => {
    const r = run([{ op: 'add_item', phase_key: 'default', rate_card: fee('platform', '5') }]);
    expect(r.errors).toEqual([
      expect.objectContaining({ field: 'body.customizations[0].rate_card.key', conflict: true }),
    ]);
  });

  it('remove then add with the same key replaces the item; the old one is kept as replaced', () => {
    const r = run([
      { op: 'remove_item', phase_key: 'default', item_key: 'platform' },
      { op: 'add_item', phase_key: 'default', rate_card: fee('platform', '45') },
    ]);
    expect(r.errors).toEqual([]);
    expect(r.phases[1].rate_cards.find((rc) => rc.key === 'platform')!.price).toEqual({
      type: 'flat',
      amount: '45',
    });
    expect(r.origins.items.default.platform).toEqual({ source: 'edit', version: 'NEW' });
    expect(r.origins.replaced!.default).toEqual([
      { rate_card: fee('platform', '30'), origin: { source: 'plan', version: 'BASE' } },
    ]);
  });

  it('remove drops the item and its origin', () => {
    const r = run([{ op: 'remove_item', phase_key: 'default', item_key: 'seats' }]);
    expect(r.phases[1].rate_cards.map((rc) => rc.key)).toEqual(['platform']);
    expect(r.origins.items.default.seats).toBeUndefined();
    expect(r.origins.replaced!.default[0].rate_card.key).toBe('seats');
  });

  it('update_item replaces the price and/or the entitlement (null removes it)', () => {
    const r = run([
      { op: 'update_item', phase_key: 'default', item_key: 'seats', price: { type: 'flat', amount: '12' } },
      { op: 'update_item', phase_key: 'default', item_key: 'seats', entitlement: null },
    ]);
    expect(r.errors).toEqual([]);
    const seats = r.phases[1].rate_cards.find((rc) => rc.key === 'seats')!;
    expect(seats.price).toEqual({ type: 'flat', amount: '12' });
    expect(seats.entitlement).toBeUndefined();
    // replaced once, with its original form
    expect(r.origins.replaced!.default).toHaveLength(1);
    expect(r.origins.replaced!.default[0].rate_card.price).toEqual({ type: 'flat', amount: '10' });
    const empty = run([{ op: 'update_item', phase_key: 'default', item_key: 'seats' }]);
    expect(empty.errors).toEqual([expect.objectContaining({ field: 'body.customizations[0]' })]);
  });

  it('unknown phases and items are invalid (not conflicts), each naming its field', () => {
    const r = run([
      { op: 'remove_item', phase_key: 'nope', item_key: 'platform' },
      { op: 'remove_item', phase_key: 'default', item_key: 'nope' },
      { op: 'update_item', phase_key: 'trial', item_key: 'seats', price: { type: 'free' } },
    ]);
    expect(r.errors.map((e) => [e.field, !!e.conflict])).toEqual([
      ['body.customizations[0].phase_key', false],
      ['body.customizations[1].item_key', false],
      ['body.customizations[2].item_key', false],
    ]);
  });

  it('a phase that is over cannot be changed (conflict)', () => {
    const r = run([{ op: 'add_item', phase_key: 'trial', rate_card: fee('x', '1') }], {
      frozenPhases: ['trial'],
    });
    expect(r.errors).toEqual([
      expect.objectContaining({ field: 'body.customizations[0].phase_key', conflict: true }),
    ]);
  });

  it('stretches a phase with a successor; the last phase has no end to move', () => {
    const r = run([{ op: 'stretch_phase', phase_key: 'trial', extend_by: 'P15D' }]);
    expect(r.errors).toEqual([]);
    expect(r.phases[0].duration).toBe('P1M15D');
    expect(r.writtenBy.get('trial/')).toBe('body.customizations[0]');
    const last = run([{ op: 'stretch_phase', phase_key: 'default', extend_by: 'P1M' }]);
    expect(last.errors).toEqual([expect.objectContaining({ field: 'body.customizations[0].phase_key' })]);
  });

  it('carries the origins of an earlier derivation and marks its own changes', () => {
    const first = run([{ op: 'add_item', phase_key: 'default', rate_card: fee('support', '5') }]);
    const second = deriveVersion({
      phases: first.phases as PlanPhase[],
      origins: first.origins,
      baseId: 'NEW',
      changes: [{ op: 'update_item', phase_key: 'default', item_key: 'platform', price: { type: 'free' } }],
      source: 'edit',
      versionId: 'NEWER',
      fieldOf: (i) => `x[${i}]`,
    });
    expect(second.origins.items.default).toEqual({
      platform: { source: 'edit', version: 'NEWER' },
      seats: { source: 'plan', version: 'BASE' },
      support: { source: 'edit', version: 'NEW' },
    });
    expect(second.origins.replaced!.default[0].origin).toEqual({ source: 'plan', version: 'BASE' });
  });
});

describe('stretchDuration', () => {
  it.each([
    ['P1M', 'P1M', 'P2M'],
    ['P1M', 'P10D', 'P1M10D'],
    ['P2M', '-P1M', 'P1M'],
    ['P1M10D', '-P10D', 'P1M'],
    ['PT1H', 'PT30M', 'PT1H30M'],
  ])('%s by %s is %s', (d, by, out) => {
    expect(stretchDuration(d, by, undefined)).toEqual({ duration: out });
  });

  it('a shortening that crosses a unit is exact from the phase start', () => {
    // Jan 1 + P1M = Feb 1, minus 10 days = Jan 22: 21 days
    expect(stretchDuration('P1M', '-P10D', '2026-01-01T00:00:00.000Z')).toEqual({
      duration: `PT${21 * 86400}S`,
    });
    expect(stretchDuration('P1M', '-P10D', undefined)).toHaveProperty('reason');
  });

  it('refuses what leaves nothing, zero and garbage', () => {
    expect(stretchDuration('P1M', '-P1M', undefined)).toHaveProperty('reason');
    expect(stretchDuration('P1M', '-P2M', '2026-01-01T00:00:00.000Z')).toHaveProperty('reason');
    expect(stretchDuration('P1M', 'PT0S', undefined)).toHaveProperty('reason');
    expect(stretchDuration('P1M', 'soon', undefined)).toHaveProperty('reason');
  });
});

describe('helpers', () => {
  it('formatDuration round-trips parseDuration', () => {
    for (const d of ['P1Y2M', 'P3W', 'P1DT12H', 'PT0.5S', 'P1M10DT1H2M3S'])
      expect(formatDuration(parseDuration(d))).toBe(d);
  });

  it('originsOf / originOf: catalog versions are all plan', () => {
    const o = originsOf(PHASES, 'custom', 'V');
    expect(o.items.trial.platform).toEqual({ source: 'custom', version: 'V' });
    expect(originOf(undefined, 'default', 'seats', 'P')).toEqual({ source: 'plan', version: 'P' });
  });

  it('errorField maps a validation error onto the change that wrote the item', () => {
    const r = run([{ op: 'add_item', phase_key: 'default', rate_card: fee('support', '5') }]);
    expect(errorField('body.phases[1].rate_cards[2].billing_cadence', r.phases, r.writtenBy)).toBe(
      'body.customizations[0].rate_card.billing_cadence',
    );
    expect(errorField('body.phases[1].rate_cards[0].price', r.phases, r.writtenBy)).toBe(
      'body.phases[1].rate_cards[0].price',
    );
    expect(errorField('body.billing_cadence', r.phases, r.writtenBy)).toBe('body.billing_cadence');
  });
});
