/**
 * A subscription add-on as changes to the subscription's own plan version (S6-C's `deriveVersion`,
 * src/catalog/derive.ts): pure, no I/O. Buying, changing the quantity of or canceling an add-on derives a new
 * version from the one the subscription is on, which the workflow switches to with the timing and proration
 * of any plan change (an `edit`).
 *
 * What a quantity means (OpenMeter's): an add-on rate card counts `quantity` times.
 * - A flat price is multiplied by the quantity (decimal, exact); a free price stays free; other prices exist
 *   on single-instance add-ons only (quantity 1) and are taken as they are.
 * - A metered entitlement's `limit` is multiplied by the quantity; boolean and static entitlements are
 *   granted once whatever the quantity.
 * - An add-on rate card whose key the phase does not have is ADDED as an item (origin `addon`); one whose key
 *   the phase has EXTENDS that item (`validatePlanAddon` checked they are compatible): flat amounts add up,
 *   metered limits add up, an entitlement the item lacks is added. The item as it was before the add-on (its
 *   price and entitlement) is kept in the application, so a later quantity recomputes it from there and a
 *   cancelation (quantity 0) restores it exactly.
 * - The add-on applies from the phase the subscription is in (or `from_plan_phase`, when later) to the last
 *   phase; phases already over are never touched.
 */
import Decimal from 'decimal.js';
import type { RateCardChange } from '../catalog/derive';
import type { EntitlementTemplate, PlanPhase, Price, RateCard } from '../catalog/types';

/** How an add-on rate card applies to one phase: added as an item, or extending the phase's item. */
export type AppliedItem =
  { mode: 'add' } | { mode: 'extend'; base_price: Price; base_entitlement: EntitlementTemplate | null };

/** phase key → add-on rate-card key → how it applies (stored with the subscription add-on) */
export type AddonApplication = Record<string, Record<string, AppliedItem>>;

/** The flat price `quantity` times; other prices as they are. */
export function scalePrice(price: Price, quantity: number): Price {
  if (price.type !== 'flat') return price;
  return { type: 'flat', amount: new Decimal(price.amount).times(quantity).toFixed() };
}

/** A metered entitlement's limit `quantity` times; other entitlements as they are. */
export function scaleEntitlement(e: EntitlementTemplate, quantity: number): EntitlementTemplate {
  if (e.type !== 'metered' || e.limit === undefined) return e;
  return { ...e, limit: new Decimal(e.limit).times(quantity).toNumber() };
}

/** The price of an item extended `quantity` times by `add`: flat amounts add up; free adds nothing. */
export function extendPrice(base: Price, add: Price, quantity: number): Price {
  if (quantity === 0 || add.type === 'free') return base;
  if (base.type === 'free') return scalePrice(add, quantity);
  if (base.type === 'flat' && add.type === 'flat')
    return {
      type: 'flat',
      amount: new Decimal(base.amount).plus(new Decimal(add.amount).times(quantity)).toFixed(),
    };
  return base;
}

/** The entitlement of an item extended `quantity` times: metered limits add up; one it lacks is added. */
export function extendEntitlement(
  base: EntitlementTemplate | null,
  add: EntitlementTemplate | undefined,
  quantity: number,
): EntitlementTemplate | null {
  if (quantity === 0 || !add) return base;
  if (!base) return scaleEntitlement(add, quantity);
  if (base.type === 'metered' && add.type === 'metered' && add.limit !== undefined)
    return {
      ...base,
      limit: new Decimal(base.limit ?? 0).plus(new Decimal(add.limit).times(quantity)).toNumber(),
    };
  return base;
}

/** An add-on rate card as the item it adds, `quantity` times. */
export function addedItem(rc: RateCard, quantity: number): RateCard {
  const { entitlement, ...rest } = rc;
  return {
    ...rest,
    price: scalePrice(rc.price, quantity),
    ...(entitlement ? { entitlement: scaleEntitlement(entitlement, quantity) } : {}),
  };
}

export interface AddonChangeInput {
  /** the phases of the version the subscription is on */
  phases: readonly PlanPhase[];
  /** the index of the first phase the add-on applies to (the current one, or `from_plan_phase` when later) */
  fromIndex: number;
  /** the add-on version's rate cards */
  rateCards: readonly RateCard[];
  /** how the add-on applies so far; undefined when it is being bought */
  application?: AddonApplication;
  /** the quantity in force so far (0 when buying) */
  fromQuantity: number;
  /** the quantity wanted (0 cancels) */
  toQuantity: number;
}

export interface AddonChangeResult {
  changes: RateCardChange[];
  /** how the add-on applies afterwards (kept for the next change) */
  application: AddonApplication;
}

/** The rate-card changes that take the add-on from `fromQuantity` to `toQuantity`. */
export function addonChanges(input: AddonChangeInput): AddonChangeResult {
  const changes: RateCardChange[] = [];
  const application: AddonApplication = {};
  for (const phase of input.phases.slice(input.fromIndex)) {
    const applied: Record<string, AppliedItem> = {};
    for (const rc of input.rateCards) {
      const item = phase.rate_cards.find((p) => p.key === rc.key);
      const known = input.application?.[phase.key]?.[rc.key];
      const how: AppliedItem =
        known ??
        (item
          ? { mode: 'extend', base_price: item.price, base_entitlement: item.entitlement ?? null }
          : { mode: 'add' });
      if (how.mode === 'add') {
        if (!item && input.toQuantity > 0)
          changes.push({ op: 'add_item', phase_key: phase.key, rate_card: addedItem(rc, input.toQuantity) });
        else if (item && input.toQuantity === 0)
          changes.push({ op: 'remove_item', phase_key: phase.key, item_key: rc.key });
        else if (item) {
          const next = addedItem(rc, input.toQuantity);
          changes.push({
            op: 'update_item',
            phase_key: phase.key,
            item_key: rc.key,
            price: next.price,
            entitlement: next.entitlement ?? null,
          });
        }
      } else if (item) {
        changes.push({
          op: 'update_item',
          phase_key: phase.key,
          item_key: rc.key,
          price: extendPrice(how.base_price, rc.price, input.toQuantity),
          entitlement: extendEntitlement(how.base_entitlement, rc.entitlement, input.toQuantity),
        });
      }
      applied[rc.key] = how;
    }
    application[phase.key] = applied;
  }
  return { changes, application };
}
