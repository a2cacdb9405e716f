/**
 * Plan validation, pure: what the request schema cannot check, over the plan input and the features it
 * references (loaded beforehand, in one query, by the service). No I/O, no clock.
 *
 * Rules (every failure is reported, in input order, as `{ field: 'body.…', reason }`):
 * - cadences and durations (the plan's, a phase's, a rate card's, a metered entitlement's usage period) are
 *   at least PT1M; a too-short plan cadence is reported once, not again on every rate card;
 * - phase keys are unique in the plan, rate-card keys unique in their phase; only the last phase may omit
 *   its duration;
 * - a referenced feature exists and is live; a usage price (unit, graduated, volume) needs a feature with
 *   a meter and a billing cadence, and cannot be paid `in_advance`;
 * - a recurring rate card is billed at the plan cadence (else it would be charged once per plan period);
 * - tiers: each has a flat or a unit price, only the last is open, bounds are > 0 and strictly ascending
 *   (compared as decimals);
 * - an entitlement needs the rate card to have a feature; a metered entitlement needs a metered feature.
 *
 * The result carries the normalized phases: features by id, `billing_cadence` null and `payment_term`
 * `in_arrears` when omitted.
 */
import type { InvalidParam } from '../lib/errors';
import { minDurationMs, parseDuration } from './periods';
import { isUsagePrice, paymentTermOf } from './rate-cards';
import type { Feature, PlanPhase, RateCard } from './types';

export interface PlanPhaseInput extends Omit<PlanPhase, 'rate_cards'> {
  rate_cards: RateCardInput[];
}

export interface RateCardInput extends Omit<RateCard, 'billing_cadence' | 'payment_term'> {
  billing_cadence?: string | null;
  payment_term?: RateCard['payment_term'];
}

export interface PlanValidation {
  /** the normalized phases (meaningful only when `errors` is empty) */
  phases: PlanPhase[];
  errors: InvalidParam[];
}

/** OpenMeter rate-card fields stored as sent, not billed yet */
const STORED_ONLY = ['currency', 'unit_config', 'commitments', 'discounts', 'tax_config'] as const;

/** The shortest cadence or duration a plan may use. */
export const MIN_DURATION_MS = 60_000;

/** Every feature reference (id or key, as written) of the phases' rate cards, each once, in input order. */
export function featureRefs(phases: readonly PlanPhaseInput[]): string[] {
  const refs = new Set<string>();
  for (const phase of phases) for (const rc of phase.rate_cards) if (rc.feature) refs.add(rc.feature.id);
  return [...refs];
}

const tooShort = (duration: string): boolean => minDurationMs(duration) < MIN_DURATION_MS;

const sameDuration = (a: string, b: string): boolean =>
  JSON.stringify(parseDuration(a)) === JSON.stringify(parseDuration(b));

/** a > b for non-negative decimal strings, without floating point */
export function decimalGreater(a: string, b: string): boolean {
  const norm = (s: string): [string, string] => {
    const [i, f = ''] = s.split('.');
    return [i.replace(/^0+(?=\d)/, ''), f.replace(/0+$/, '')];
  };
  const [ai, af] = norm(a);
  const [bi, bf] = norm(b);
  if (ai.length !== bi.length) return ai.length > bi.length;
  if (ai !== bi) return ai > bi;
  const len = Math.max(af.length, bf.length);
  return af.padEnd(len, '0') > bf.padEnd(len, '0');
}

/**
 * Validates and normalizes a plan's phases. `planCadence` is the plan's billing cadence (undefined: none
 * to compare with); `features` holds the referenced features by reference (as written in the input; a
 * missing reference is a feature that does not exist).
 */
export function validatePlan(
  phases: readonly PlanPhaseInput[],
  planCadence: string | undefined,
  features: ReadonlyMap<string, Feature>,
): PlanValidation {
  const errors: InvalidParam[] = [];
  const err = (field: string, reason: string) => errors.push({ field: `body.${field}`, reason });
  const out: PlanPhase[] = [];

  if (planCadence !== undefined && tooShort(planCadence)) {
    err('billing_cadence', 'must be at least PT1M');
    planCadence = undefined; // reported once, not again on every usage rate card
  }

  const phaseKeys = new Set<string>();
  for (const [pi, phase] of phases.entries()) {
    const pp = `phases[${pi}]`;
    if (phaseKeys.has(phase.key)) err(`${pp}.key`, `duplicate phase key ${phase.key}`);
    phaseKeys.add(phase.key);
    if (phase.duration === undefined && pi < phases.length - 1)
      err(`${pp}.duration`, 'only the last phase may omit its duration');
    if (phase.duration !== undefined && tooShort(phase.duration))
      err(`${pp}.duration`, 'must be at least PT1M');

    const rateCards = checkRateCards(phase.rate_cards, `${pp}.rate_cards`, planCadence, features, err);
    out.push({
      key: phase.key,
      name: phase.name,
      ...(phase.description !== undefined ? { description: phase.description } : {}),
      ...(phase.labels !== undefined ? { labels: phase.labels } : {}),
      ...(phase.duration !== undefined ? { duration: phase.duration } : {}),
      rate_cards: rateCards,
    });
  }
  return { phases: out, errors };
}

/**
 * The rules every rate card follows (a plan phase's or an add-on's), over `input` at field `prefix` (e.g.
 * `phases[0].rate_cards`; fields are reported as `body.<prefix>[i]…` through `err`): unique keys, live
 * features, usage prices on metered features with a cadence and in arrears, the cadence (`planCadence`: the plan
 * cadence every recurring rate card must use; undefined: none to compare with), tiers, entitlements.
 * Returns the normalized rate cards.
 */
export function checkRateCards(
  input: readonly RateCardInput[],
  prefix: string,
  planCadence: string | undefined,
  features: ReadonlyMap<string, Feature>,
  err: (field: string, reason: string) => void,
): RateCard[] {
  const rcKeys = new Set<string>();
  const rateCards: RateCard[] = [];
  for (const [ri, rc] of input.entries()) {
    const rp = `${prefix}[${ri}]`;
    if (rcKeys.has(rc.key)) err(`${rp}.key`, `duplicate rate card key ${rc.key} in the phase`);
    rcKeys.add(rc.key);

    const found = rc.feature ? features.get(rc.feature.id) : undefined;
    if (rc.feature && (!found || found.deleted_at))
      err(`${rp}.feature.id`, `feature ${rc.feature.id} not found`);
    // the live feature, when there is one (an archived one is reported above and checked no further)
    const live = found && !found.deleted_at ? found : undefined;

    const price = rc.price;
    const usage = isUsagePrice(price);
    const cadence = rc.billing_cadence ?? null;
    if (cadence !== null && tooShort(cadence)) err(`${rp}.billing_cadence`, 'must be at least PT1M');
    if (usage) {
      if (!rc.feature) err(`${rp}.feature`, `a ${price.type} price needs a feature with a meter`);
      else if (live && !live.meter)
        err(`${rp}.feature.id`, `a ${price.type} price needs a metered feature; ${live.key} has no meter`);
      if (cadence === null) err(`${rp}.billing_cadence`, `a ${price.type} price needs a billing cadence`);
    }
    // every recurring rate card is billed on the plan's periods: a different cadence would be charged
    // once per plan period (e.g. a yearly fee every month), so it is refused
    if (cadence !== null && planCadence !== undefined && !sameDuration(cadence, planCadence))
      err(
        `${rp}.billing_cadence`,
        `a recurring rate card must be billed at the plan cadence ${planCadence} (or be one-time: null)`,
      );
    const paymentTerm = paymentTermOf(rc);
    if (paymentTerm === 'in_advance' && usage)
      err(`${rp}.payment_term`, 'in_advance is only allowed for flat prices');

    if (price.type === 'graduated' || price.type === 'volume') {
      let prev: string | undefined;
      for (const [ti, tier] of price.tiers.entries()) {
        const tp = `${rp}.price.tiers[${ti}]`;
        if (!tier.flat_price && !tier.unit_price) err(tp, 'a tier needs a flat_price or a unit_price');
        if (tier.up_to_amount === undefined) {
          if (ti < price.tiers.length - 1) err(`${tp}.up_to_amount`, 'only the last tier may be open');
          continue;
        }
        if (!decimalGreater(tier.up_to_amount, '0')) err(`${tp}.up_to_amount`, 'must be greater than 0');
        // compared as decimals: equal or descending bounds are invalid
        else if (prev !== undefined && !decimalGreater(tier.up_to_amount, prev))
          err(`${tp}.up_to_amount`, `must be greater than the previous tier's ${prev}`);
        prev = tier.up_to_amount;
      }
    }

    const ent = rc.entitlement;
    if (ent) {
      if (!rc.feature) err(`${rp}.entitlement`, 'an entitlement needs the rate card to have a feature');
      else if (ent.type === 'metered' && live && !live.meter)
        err(`${rp}.entitlement`, `a metered entitlement needs a metered feature; ${live.key} has no meter`);
      if (ent.type === 'metered' && ent.usage_period !== undefined && tooShort(ent.usage_period))
        err(`${rp}.entitlement.usage_period`, 'must be at least PT1M');
    }

    rateCards.push({
      key: rc.key,
      name: rc.name,
      ...(rc.description !== undefined ? { description: rc.description } : {}),
      ...(rc.labels !== undefined ? { labels: rc.labels } : {}),
      ...(rc.feature ? { feature: { id: found?.id ?? rc.feature.id } } : {}),
      billing_cadence: cadence,
      payment_term: paymentTerm,
      price,
      ...(ent ? { entitlement: ent } : {}),
      ...Object.fromEntries(STORED_ONLY.filter((k) => rc[k] !== undefined).map((k) => [k, rc[k]])),
    });
  }
  return rateCards;
}
