/**
 * Pure pricing: rating usage against a price, rounding money, prorating. No I/O; decimal.js only, so this
 * can run in activities and in workflow code alike.
 *
 * Rounding: money is rounded to the currency's minor units with ROUND_HALF_UP, i.e. halves round away
 * from zero (1.005 → 1.01, -1.005 → -1.01). In `rateUsage` every line is rounded and the total is the
 * sum of the rounded lines, so an invoice's lines always add up to its total.
 *
 * Tiers: `up_to_amount` is an inclusive upper bound; a tier's range is (previous up_to, up_to]. The first
 * tier is entered as soon as the quantity is > 0, so a quantity of 0 costs nothing (not even a flat tier
 * fee). Units above the last tier's bound (when the last tier is not open) are priced by the last tier.
 */
import Decimal from 'decimal.js';
import type { Price, PriceTier } from './types';

/** A private Decimal constructor: high precision, independent of anyone's global Decimal settings. */
const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -60, toExpPos: 60 });
type Dec = InstanceType<typeof D>;

const ZERO_DECIMALS = new Set([
  'BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF',
]); // prettier-ignore
const THREE_DECIMALS = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

/** Minor-unit digits of a currency (ISO 4217): 0 for JPY/KRW…, 3 for BHD/KWD/JOD/OMR/TND…, otherwise 2. */
export function currencyPrecision(currency: string): number {
  const c = currency.toUpperCase();
  if (ZERO_DECIMALS.has(c)) return 0;
  if (THREE_DECIMALS.has(c)) return 3;
  return 2;
}

const NUMERIC_RE = /^-?\d+(\.\d+)?$/;

function dec(v: Decimal.Value, what: string): Dec {
  if (typeof v === 'string' && !NUMERIC_RE.test(v)) throw new RangeError(`${what} is not a decimal: ${v}`);
  const d = new D(v);
  if (!d.isFinite()) throw new RangeError(`${what} is not finite`);
  return d;
}

/** Plain decimal string without exponent and without a negative zero. */
function str(d: Dec): string {
  const s = d.toFixed();
  return d.isZero() ? s.replace(/^-/, '') : s;
}

/** Rounds to the currency's minor units, ROUND_HALF_UP; returns a fixed-point string (`"12.30"`, `"5"` for JPY). */
export function roundMoney(amount: Decimal.Value, currency: string): string {
  const d = dec(amount, 'amount');
  const r = d.toDecimalPlaces(currencyPrecision(currency), Decimal.ROUND_HALF_UP);
  const s = r.toFixed(currencyPrecision(currency));
  return r.isZero() ? s.replace(/^-/, '') : s;
}

export interface RatedLine {
  /** index in `price.tiers` */
  tier_index: number;
  /** the tier's bounds: (from, to]; `to` absent on the open tier */
  from: string;
  to?: string;
  /** units priced in this tier */
  quantity: string;
  unit_price?: string;
  flat_price?: string;
  /** rounded to the currency */
  amount: string;
}

export interface Rated {
  /** rounded to the currency; sum of `lines` when present */
  amount: string;
  /** tier breakdown (graduated, volume) */
  lines?: RatedLine[];
  /** the per-unit price applied (unit; volume: the selected tier's) */
  unit_price?: string;
}

function tierLine(
  tiers: PriceTier[],
  i: number,
  units: Dec,
  currency: string,
  withFlat: boolean,
): { line: RatedLine; amount: Dec } {
  const t = tiers[i];
  const from = i === 0 ? '0' : (tiers[i - 1].up_to_amount ?? '0');
  const unit = t.unit_price ? dec(t.unit_price.amount, `tiers[${i}].unit_price.amount`) : undefined;
  const flat =
    withFlat && t.flat_price ? dec(t.flat_price.amount, `tiers[${i}].flat_price.amount`) : undefined;
  let exact = new D(0);
  if (unit) exact = exact.plus(units.times(unit));
  if (flat) exact = exact.plus(flat);
  const amount = roundMoney(exact, currency);
  const line: RatedLine = {
    tier_index: i,
    from,
    ...(t.up_to_amount !== undefined ? { to: t.up_to_amount } : {}),
    quantity: str(units),
    ...(unit ? { unit_price: str(unit) } : {}),
    ...(flat ? { flat_price: str(flat) } : {}),
    amount,
  };
  return { line, amount: new D(amount) };
}

/**
 * Rates `quantity` units against `price`, in `currency`.
 * - free: 0; flat: its amount whatever the quantity; unit: quantity × amount.
 * - graduated: each unit priced by the tier it falls in; each entered tier's flat price added once.
 * - volume: all units priced by the single tier the total quantity falls into, plus that tier's flat price.
 * Tiered prices need a non-negative quantity (RangeError otherwise).
 */
export function rateUsage(price: Price, quantity: string, currency: string): Rated {
  const qty = dec(quantity, 'quantity');
  switch (price.type) {
    case 'free':
      return { amount: roundMoney(0, currency) };
    case 'flat':
      return { amount: roundMoney(dec(price.amount, 'price.amount'), currency) };
    case 'unit': {
      const unit = dec(price.amount, 'price.amount');
      return { amount: roundMoney(qty.times(unit), currency), unit_price: str(unit) };
    }
    case 'graduated': {
      if (qty.isNegative() && !qty.isZero()) throw new RangeError('quantity must not be negative');
      const tiers = price.tiers;
      if (tiers.length === 0) throw new RangeError('price has no tiers');
      const lines: RatedLine[] = [];
      let total = new D(0);
      let lower = new D(0);
      for (let i = 0; i < tiers.length && qty.gt(lower); i++) {
        const last = i === tiers.length - 1;
        const upTo = tiers[i].up_to_amount;
        const upper = last || upTo === undefined ? qty : D.min(qty, dec(upTo, `tiers[${i}].up_to_amount`));
        const units = upper.minus(lower);
        const { line, amount } = tierLine(tiers, i, units, currency, true);
        lines.push(line);
        total = total.plus(amount);
        if (upTo === undefined) break;
        lower = dec(upTo, `tiers[${i}].up_to_amount`);
      }
      return { amount: roundMoney(total, currency), lines };
    }
    case 'volume': {
      if (qty.isNegative() && !qty.isZero()) throw new RangeError('quantity must not be negative');
      const tiers = price.tiers;
      if (tiers.length === 0) throw new RangeError('price has no tiers');
      if (qty.isZero()) return { amount: roundMoney(0, currency), lines: [] };
      let i = tiers.findIndex(
        (t, j) => t.up_to_amount === undefined || qty.lte(dec(t.up_to_amount, `tiers[${j}].up_to_amount`)),
      );
      if (i < 0) i = tiers.length - 1;
      const { line, amount } = tierLine(tiers, i, qty, currency, true);
      const unit = tiers[i].unit_price;
      return {
        amount: roundMoney(amount, currency),
        lines: [line],
        ...(unit ? { unit_price: str(dec(unit.amount, 'unit_price.amount')) } : {}),
      };
    }
  }
}

/**
 * amount × (period length / cycle length), by milliseconds, unrounded (60 significant digits; round with
 * `roundMoney` when billing). The period is not clamped to the cycle: pass the part being charged.
 */
export function prorate(
  amount: Decimal.Value,
  periodStart: Date,
  periodEnd: Date,
  cycleStart: Date,
  cycleEnd: Date,
): string {
  const a = dec(amount, 'amount');
  const cycle = cycleEnd.getTime() - cycleStart.getTime();
  const period = periodEnd.getTime() - periodStart.getTime();
  if (!Number.isFinite(cycle) || !Number.isFinite(period)) throw new RangeError('invalid date');
  if (cycle <= 0) throw new RangeError('cycle must have a positive length');
  if (period < 0) throw new RangeError('period end is before its start');
  return str(a.times(period).div(cycle));
}
