/**
 * Add-on rules, pure (no I/O, no clock): what an add-on version must satisfy (`validateAddon`) and when a
 * plan version may offer an add-on (`validatePlanAddon`), following OpenMeter's product-catalog rules.
 *
 * An add-on (`validateAddon`; every failure is reported as `{ field: 'body.…', reason }`):
 * - has at least one rate card; its rate cards follow the plan rate-card rules (`checkRateCards`: unique
 *   keys, live features, usage prices on metered features with a cadence and in arrears, tiers,
 *   entitlements on features);
 * - its recurring rate cards share one billing cadence (OpenMeter's publish rule, checked on every write);
 * - a `multiple` (multi-instance) add-on has only flat or free prices: the quantity multiplies a flat price,
 *   and there is no meaning for "three times a usage price";
 * - a rate card's `currency`, when sent, is the add-on's.
 *
 * A plan offering an add-on (`validatePlanAddon`):
 * - conflicts (409): the plan version is archived, the add-on version is not active;
 * - invalid (400): `max_quantity` on a single-instance add-on; another currency; an unknown
 *   `from_plan_phase`; a recurring add-on rate card whose cadence is not the plan's (Tally bills every
 *   recurring rate card on the plan's periods); and, in `from_plan_phase` and every later phase:
 *   - an add-on rate card with the key of a plan rate card extends it, so both must be compatible: the same
 *     feature and cadence; when both are priced, both flat with the same payment term; when both entitle,
 *     the same entitlement type, not static, and for metered ones the same usage period;
 *   - an add-on rate card under another key may not bring a feature the phase already has (one item per
 *     feature: two entitlements of one feature would conflict).
 */
import type { InvalidParam } from '../lib/errors';
import { parseDuration } from './periods';
import { checkRateCards, type RateCardInput } from './validate';
import type { Addon, AddonInstanceType, Feature, Plan, RateCard } from './types';

export interface AddonInput {
  instance_type: AddonInstanceType;
  currency: string;
  rate_cards: RateCardInput[];
}

export interface AddonValidation {
  /** the normalized rate cards (meaningful only when `errors` is empty) */
  rateCards: RateCard[];
  errors: InvalidParam[];
}

const sameDuration = (a: string, b: string): boolean =>
  JSON.stringify(parseDuration(a)) === JSON.stringify(parseDuration(b));

/** Validates and normalizes an add-on's rate cards; `features` as `validatePlan` takes them. */
export function validateAddon(input: AddonInput, features: ReadonlyMap<string, Feature>): AddonValidation {
  const errors: InvalidParam[] = [];
  const err = (field: string, reason: string) => errors.push({ field: `body.${field}`, reason });
  if (input.rate_cards.length === 0) err('rate_cards', 'an add-on needs at least one rate card');
  const rateCards = checkRateCards(input.rate_cards, 'rate_cards', undefined, features, err);

  let cadence: { index: number; value: string } | undefined;
  for (const [i, rc] of rateCards.entries()) {
    const rp = `rate_cards[${i}]`;
    if (rc.billing_cadence !== null) {
      if (!cadence) cadence = { index: i, value: rc.billing_cadence };
      else if (!sameDuration(cadence.value, rc.billing_cadence))
        err(
          `${rp}.billing_cadence`,
          `the recurring rate cards of an add-on share one billing cadence: ${rc.billing_cadence} differs from ` +
            `${cadence.value} (rate_cards[${cadence.index}])`,
        );
    }
    if (input.instance_type === 'multiple' && rc.price.type !== 'flat' && rc.price.type !== 'free')
      err(
        `${rp}.price.type`,
        `a multi-instance add-on allows only flat or free prices (the quantity multiplies them), not ${rc.price.type}`,
      );
    if (rc.currency !== undefined && rc.currency !== input.currency)
      err(`${rp}.currency`, `must be the add-on's currency ${input.currency}`);
  }
  return { rateCards, errors };
}

export interface PlanAddonInput {
  from_plan_phase: string;
  max_quantity?: number;
}

export interface PlanAddonValidation {
  /** contradictions with the plan's or add-on's status (409) */
  conflicts: string[];
  /** bad input (400) */
  errors: InvalidParam[];
}

const entitlementIssue = (base: RateCard, add: RateCard): string | undefined => {
  const a = base.entitlement;
  const b = add.entitlement;
  if (!a || !b) return undefined;
  if (a.type !== b.type)
    return `its ${b.type} entitlement cannot extend the plan's ${a.type} entitlement of the same rate card`;
  if (a.type === 'static') return 'a static entitlement cannot be extended by an add-on';
  if (a.type === 'metered' && b.type === 'metered') {
    const pa = a.usage_period;
    const pb = b.usage_period;
    if ((pa ?? '') !== (pb ?? '') && !(pa && pb && sameDuration(pa, pb)))
      return `its metered entitlement's usage period ${pb ?? '(the default)'} differs from the plan's ${pa ?? '(the default)'}`;
  }
  return undefined;
};

/** Why an add-on rate card cannot extend the plan rate card under the same key; undefined when it can. */
export function overlayIssue(base: RateCard, add: RateCard): string | undefined {
  if ((base.feature?.id ?? null) !== (add.feature?.id ?? null))
    return `its feature ${add.feature?.id ?? '(none)'} is not the plan rate card's ${base.feature?.id ?? '(none)'}`;
  if (
    (base.billing_cadence ?? null) !== (add.billing_cadence ?? null) &&
    !(base.billing_cadence && add.billing_cadence && sameDuration(base.billing_cadence, add.billing_cadence))
  )
    return `its billing cadence ${add.billing_cadence ?? 'null'} is not the plan rate card's ${base.billing_cadence ?? 'null'}`;
  if (base.price.type !== 'free' && add.price.type !== 'free') {
    if (base.price.type !== 'flat' || add.price.type !== 'flat')
      return `only flat prices can be extended (the plan's is ${base.price.type}, the add-on's ${add.price.type})`;
    if (base.payment_term !== add.payment_term)
      return `its payment term ${add.payment_term} is not the plan rate card's ${base.payment_term}`;
  }
  return entitlementIssue(base, add);
}

/** Whether `plan` may offer `addon` from `input.from_plan_phase` with `input.max_quantity`. */
export function validatePlanAddon(plan: Plan, addon: Addon, input: PlanAddonInput): PlanAddonValidation {
  const conflicts: string[] = [];
  const errors: InvalidParam[] = [];
  const err = (field: string, reason: string) => errors.push({ field: `body.${field}`, reason });
  if (plan.status === 'archived')
    conflicts.push(`plan ${plan.key} version ${plan.version} is archived: it offers no new add-ons`);
  if (addon.status !== 'active')
    conflicts.push(
      `add-on ${addon.key} version ${addon.version} is ${addon.status}: only a published (active) add-on can be offered`,
    );
  if (addon.instance_type === 'single' && input.max_quantity !== undefined)
    err('max_quantity', 'must be omitted for a single-instance add-on (it is bought at most once)');
  if (addon.currency !== plan.currency)
    err('addon.id', `the add-on bills in ${addon.currency}, the plan in ${plan.currency}`);
  for (const [i, rc] of addon.rate_cards.entries())
    if (rc.billing_cadence !== null && !sameDuration(rc.billing_cadence, plan.billing_cadence))
      err(
        `addon.rate_cards[${i}].billing_cadence`,
        `the add-on's rate card ${rc.key} is billed every ${rc.billing_cadence}, the plan every ${plan.billing_cadence}`,
      );

  const from = plan.phases.findIndex((p) => p.key === input.from_plan_phase);
  if (from < 0) {
    err(
      'from_plan_phase',
      `plan ${plan.key} version ${plan.version} has no phase ${input.from_plan_phase} (phases: ${plan.phases.map((p) => p.key).join(', ')})`,
    );
    return { conflicts, errors };
  }
  for (const phase of plan.phases.slice(from)) {
    const byKey = new Map(phase.rate_cards.map((rc) => [rc.key, rc]));
    for (const [i, rc] of addon.rate_cards.entries()) {
      const field = `addon.rate_cards[${i}]`;
      const base = byKey.get(rc.key);
      if (base) {
        const issue = overlayIssue(base, rc);
        if (issue) err(field, `rate card ${rc.key} extends the plan's in phase ${phase.key}, but ${issue}`);
        continue;
      }
      const clash = rc.feature && phase.rate_cards.find((p) => p.feature?.id === rc.feature!.id);
      if (clash)
        err(
          `${field}.feature.id`,
          `feature ${rc.feature!.id} is already on the plan's rate card ${clash.key} in phase ${phase.key}; ` +
            'an add-on extends it under the same key',
        );
    }
  }
  return { conflicts, errors };
}
