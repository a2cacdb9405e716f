/**
 * A subscription add-on as rate-card changes (src/subscriptions/addon-changes.ts), applied with S6-C's
 * pure `deriveVersion`: quantities multiply flat prices and metered limits, extensions add up and are
 * restored exactly on cancelation, phases before `fromIndex` are untouched.
 */
import { deriveVersion } from '../../src/catalog/derive';
import type { PlanPhase, RateCard } from '../../src/catalog/types';
import {
  addedItem,
  addonChanges,
  extendEntitlement,
  extendPrice,
  scaleEntitlement,
  scalePrice,
  type AddonApplication,
} from '../../src/subscriptions/addon-changes';

const card = (over: Partial<RateCard> = {}): RateCard => ({
  key: 'base',
  name: 'Base',
  billing_cadence: 'P1M',
  payment_term: 'in_advance',
  price: { type: 'flat', amount: '20' },
  ...over,
});
const TOKENS = card({
  key: 'tokens',
  feature: { id: 'F_TOKENS' },
  payment_term: 'in_arrears',
  price: { type: 'unit', amount: '0.01' },
  entitlement: { type: 'metered', limit: 1000, usage_period: 'P1M' },
});
const PHASES: PlanPhase[] = [
  { key: 'trial', name: 'Trial', duration: 'P14D', rate_cards: [card({ price: { type: 'free' } })] },
  { key: 'default', name: 'Default', rate_cards: [card(), TOKENS] },
];
const SEAT = card({
  key: 'seat',
  name: 'Seat',
  feature: { id: 'F_SEATS' },
  price: { type: 'flat', amount: '7.25' },
  entitlement: { type: 'boolean' },
});
const MORE_TOKENS = card({
  key: 'tokens',
  name: 'More tokens',
  feature: { id: 'F_TOKENS' },
  payment_term: 'in_arrears',
  price: { type: 'free' },
  entitlement: { type: 'metered', limit: 500, usage_period: 'P1M' },
});

/** applies the changes as the service does (deriveVersion), the phases afterwards */
function apply(phases: readonly PlanPhase[], r: ReturnType<typeof addonChanges>) {
  const d = deriveVersion({
    phases,
    baseId: 'V0',
    changes: r.changes,
    source: 'addon',
    versionId: 'V1',
    fieldOf: (i) => `body.addon[${i}]`,
    ref: { addon_id: 'A' },
  });
  expect(d.errors).toEqual([]);
  return { phases: d.phases as PlanPhase[], origins: d.origins };
}
const rcOf = (phases: readonly PlanPhase[], phase: string, key: string) =>
  phases.find((p) => p.key === phase)!.rate_cards.find((r) => r.key === key);

describe('scaling', () => {
  it.each([
    ['7.25', 3, '21.75'],
    ['0.1', 3, '0.3'],
    ['19.99', 1, '19.99'],
    ['1000000000.01', 7, '7000000000.07'],
  ])('flat %s × %d = %s, exactly', (amount, q, out) => {
    expect(scalePrice({ type: 'flat', amount }, q)).toEqual({ type: 'flat', amount: out });
  });

  it('leaves free and usage prices, boolean entitlements and unlimited meters as they are', () => {
    expect(scalePrice({ type: 'free' }, 3)).toEqual({ type: 'free' });
    expect(scalePrice({ type: 'unit', amount: '1' }, 3)).toEqual({ type: 'unit', amount: '1' });
    expect(scaleEntitlement({ type: 'boolean' }, 3)).toEqual({ type: 'boolean' });
    expect(scaleEntitlement({ type: 'metered' }, 3)).toEqual({ type: 'metered' });
    expect(scaleEntitlement({ type: 'metered', limit: 500, is_soft_limit: true }, 3)).toEqual({
      type: 'metered',
      limit: 1500,
      is_soft_limit: true,
    });
  });

  it('extends prices and entitlements additively', () => {
    expect(extendPrice({ type: 'flat', amount: '20' }, { type: 'flat', amount: '5.5' }, 2)).toEqual({
      type: 'flat',
      amount: '31',
    });
    expect(extendPrice({ type: 'free' }, { type: 'flat', amount: '5' }, 2)).toEqual({
      type: 'flat',
      amount: '10',
    });
    expect(extendPrice({ type: 'flat', amount: '20' }, { type: 'free' }, 2)).toEqual({
      type: 'flat',
      amount: '20',
    });
    expect(extendPrice({ type: 'flat', amount: '20' }, { type: 'flat', amount: '5' }, 0)).toEqual({
      type: 'flat',
      amount: '20',
    });
    expect(extendEntitlement({ type: 'metered', limit: 1000 }, { type: 'metered', limit: 500 }, 3)).toEqual({
      type: 'metered',
      limit: 2500,
    });
    expect(extendEntitlement(null, { type: 'boolean' }, 1)).toEqual({ type: 'boolean' });
    expect(extendEntitlement(null, { type: 'boolean' }, 0)).toBeNull();
    expect(extendEntitlement({ type: 'boolean' }, undefined, 2)).toEqual({ type: 'boolean' });
  });

  it('adds an item with its price and limit multiplied', () => {
    expect(addedItem(SEAT, 3)).toEqual({ ...SEAT, price: { type: 'flat', amount: '21.75' } });
  });
});

describe('addonChanges', () => {
  it('adds new items in every phase from fromIndex, never before', () => {
    const r = addonChanges({
      phases: PHASES,
      fromIndex: 1,
      rateCards: [SEAT],
      fromQuantity: 0,
      toQuantity: 3,
    });
    expect(r.changes).toEqual([{ op: 'add_item', phase_key: 'default', rate_card: addedItem(SEAT, 3) }]);
    expect(r.application).toEqual({ default: { seat: { mode: 'add' } } });
    const { phases, origins } = apply(PHASES, r);
    expect(rcOf(phases, 'default', 'seat')?.price).toEqual({ type: 'flat', amount: '21.75' });
    expect(rcOf(phases, 'trial', 'seat')).toBeUndefined();
    expect(origins.items.default.seat).toEqual({ source: 'addon', version: 'V1', ref: { addon_id: 'A' } });
    expect(origins.items.default.base.source).toBe('plan');
  });

  it('extends an item with the same key and restores it exactly on cancelation', () => {
    const buy = addonChanges({
      phases: PHASES,
      fromIndex: 0,
      rateCards: [MORE_TOKENS],
      fromQuantity: 0,
      toQuantity: 2,
    });
    // the trial has no tokens item: added there; the default phase's item is extended
    expect(buy.application).toEqual({
      trial: { tokens: { mode: 'add' } },
      default: {
        tokens: { mode: 'extend', base_price: TOKENS.price, base_entitlement: TOKENS.entitlement },
      },
    });
    const v1 = apply(PHASES, buy).phases;
    expect(rcOf(v1, 'default', 'tokens')).toMatchObject({
      price: { type: 'unit', amount: '0.01' },
      entitlement: { type: 'metered', limit: 2000, usage_period: 'P1M' },
    });
    expect(rcOf(v1, 'trial', 'tokens')?.entitlement).toEqual({
      type: 'metered',
      limit: 1000,
      usage_period: 'P1M',
    });

    const more = addonChanges({
      phases: v1,
      fromIndex: 0,
      rateCards: [MORE_TOKENS],
      application: buy.application,
      fromQuantity: 2,
      toQuantity: 5,
    });
    const v2 = apply(v1, more).phases;
    expect(rcOf(v2, 'default', 'tokens')?.entitlement).toMatchObject({ limit: 3500 });
    expect(rcOf(v2, 'trial', 'tokens')?.entitlement).toMatchObject({ limit: 2500 });

    const cancel = addonChanges({
      phases: v2,
      fromIndex: 0,
      rateCards: [MORE_TOKENS],
      application: more.application,
      fromQuantity: 5,
      toQuantity: 0,
    });
    const v3 = apply(v2, cancel).phases;
    expect(rcOf(v3, 'default', 'tokens')).toEqual(TOKENS);
    expect(rcOf(v3, 'trial', 'tokens')).toBeUndefined();
    expect(v3).toEqual(PHASES);
  });

  it('changes the quantity of an added item and removes it at 0', () => {
    const application: AddonApplication = { default: { seat: { mode: 'add' } } };
    const v1 = apply(
      PHASES,
      addonChanges({ phases: PHASES, fromIndex: 1, rateCards: [SEAT], fromQuantity: 0, toQuantity: 3 }),
    ).phases;
    const down = addonChanges({
      phases: v1,
      fromIndex: 1,
      rateCards: [SEAT],
      application,
      fromQuantity: 3,
      toQuantity: 1,
    });
    expect(down.changes).toEqual([
      {
        op: 'update_item',
        phase_key: 'default',
        item_key: 'seat',
        price: { type: 'flat', amount: '7.25' },
        entitlement: { type: 'boolean' },
      },
    ]);
    const v2 = apply(v1, down).phases;
    const gone = addonChanges({
      phases: v2,
      fromIndex: 1,
      rateCards: [SEAT],
      application,
      fromQuantity: 1,
      toQuantity: 0,
    });
    expect(gone.changes).toEqual([{ op: 'remove_item', phase_key: 'default', item_key: 'seat' }]);
    expect(apply(v2, gone).phases).toEqual(PHASES);
  });

  it('extends a free base price to a flat one and back', () => {
    const addFee = card({ price: { type: 'flat', amount: '4' } });
    const buy = addonChanges({
      phases: PHASES,
      fromIndex: 0,
      rateCards: [addFee],
      fromQuantity: 0,
      toQuantity: 1,
    });
    const v1 = apply(PHASES, buy).phases;
    expect(rcOf(v1, 'trial', 'base')?.price).toEqual({ type: 'flat', amount: '4' });
    expect(rcOf(v1, 'default', 'base')?.price).toEqual({ type: 'flat', amount: '24' });
    const back = addonChanges({
      phases: v1,
      fromIndex: 0,
      rateCards: [addFee],
      application: buy.application,
      fromQuantity: 1,
      toQuantity: 0,
    });
    expect(apply(v1, back).phases).toEqual(PHASES);
  });
});
