/**
 * A one-off charge's `proration_configuration` (OpenMeter's `prorate_prices`): the amount given is for the
 * full service period; the charge bills the share of it its own service period covers, by time, rounded
 * to the currency's minor units (ROUND_HALF_UP, as every amount Tally bills). Pure, no I/O.
 */
import Decimal from 'decimal.js';
import { roundMoney } from '../catalog/pricing';

export interface ChargePeriods {
  /** ISO instants */
  service: { from: string; to: string };
  /** absent: the service period itself */
  full?: { from: string; to: string };
}

const length = (p: { from: string; to: string }) => Date.parse(p.to) - Date.parse(p.from);

/**
 * Why prorating cannot apply to these periods (the service period must lie inside a full service period
 * that lasts), or undefined when it can.
 */
export function prorationProblem(p: ChargePeriods): string | undefined {
  if (!p.full) return undefined;
  if (length(p.full) <= 0) return 'the full service period must last (to after from) to prorate';
  if (
    Date.parse(p.service.from) < Date.parse(p.full.from) ||
    Date.parse(p.service.to) > Date.parse(p.full.to)
  )
    return 'the service period must lie inside the full service period to prorate';
  return undefined;
}

/**
 * The amount billed: `amount` as given (`no_proration`, or no full period longer than the service period),
 * else `amount × service / full`, rounded to the currency.
 */
export function amountAfterProration(
  amount: string,
  currency: string,
  mode: 'no_proration' | 'prorate_prices' | undefined,
  p: ChargePeriods,
): string {
  if (mode !== 'prorate_prices' || !p.full || prorationProblem(p) !== undefined) return amount;
  const full = length(p.full);
  const part = length(p.service);
  if (part >= full) return amount;
  return roundMoney(new Decimal(amount).times(part).div(full), currency);
}
