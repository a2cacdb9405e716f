/**
 * Decimal amounts to Stripe's integer minor units, exactly (pure). The exponent is the currency's as
 * Stripe counts it: zero-decimal currencies have none, three-decimal ones three, the others two. An
 * amount with more decimals than the currency has is refused (Tally rounds money per currency before).
 */
import Decimal from 'decimal.js';

const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function currencyExponent(currency: string): number {
  const c = currency.trim().toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** `"12.34"` USD → 1234; `"1200"` JPY → 1200; throws on `"0.001"` USD or a non-number. */
export function toMinorUnits(amount: string, currency: string): number {
  const d = new Decimal(amount);
  const scaled = d.times(new Decimal(10).pow(currencyExponent(currency)));
  if (!scaled.isInteger())
    throw new RangeError(`${amount} ${currency.toUpperCase()} has more decimals than the currency`);
  if (scaled.abs().gt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${amount} is too large`);
  return scaled.toNumber();
}
