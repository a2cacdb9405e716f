/**
 * Pure formatting of what an invoice document prints: money with the currency's minor digits (from decimal
 * strings, never through a JS number), exact quantities and unit prices, UTC dates and service periods.
 */
import Decimal from 'decimal.js';
import { currencyPrecision } from '../../catalog/pricing';
import type { DocumentPeriod, InvoiceDocument } from './types';

const D = Decimal.clone({ precision: 200, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -200, toExpPos: 200 });

const DECIMAL_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function parse(value: string, what: string): Decimal {
  if (typeof value !== 'string' || !DECIMAL_RE.test(value.trim()))
    throw new RangeError(`${what} is not a decimal string: ${String(value)}`);
  return new D(value.trim());
}

/** `1234567.5` → `1,234,567.5`; the sign is kept, a negative zero dropped. */
function group(fixed: string): string {
  const negative = fixed.startsWith('-');
  const body = negative ? fixed.slice(1) : fixed;
  const [int, frac] = body.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const out = frac !== undefined ? `${grouped}.${frac}` : grouped;
  return negative && /[1-9]/.test(body) ? `-${out}` : out;
}

/** An amount in `currency`, rounded half-up to its minor digits: `USD 1,234.50`, `JPY 1,235`, `BHD 1.235`. */
export function formatMoney(amount: string, currency: string): string {
  const digits = currencyPrecision(currency);
  const fixed = parse(amount, 'amount').toDecimalPlaces(digits, Decimal.ROUND_HALF_UP).toFixed(digits);
  return `${currency.toUpperCase()} ${group(fixed)}`;
}

/**
 * A unit price, exact: at least the currency's minor digits, more when the price has them
 * (`USD 0.0004` stays `USD 0.0004`; `USD 2` prints `USD 2.00`).
 */
export function formatUnitPrice(price: string, currency: string): string {
  const d = parse(price, 'unit price');
  const digits = Math.max(currencyPrecision(currency), d.decimalPlaces());
  return `${currency.toUpperCase()} ${group(d.toFixed(digits))}`;
}

/** A quantity, exact, without trailing zeros: `1,500`, `0.25`. */
export function formatQuantity(quantity: string): string {
  return group(parse(quantity, 'quantity').toFixed());
}

const isMidnight = (d: Date) =>
  d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0;

function toDate(iso: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not an instant: ${iso}`);
  return d;
}

/** `2026-01-31` (UTC) */
export function formatDate(iso: string): string {
  return toDate(iso).toISOString().slice(0, 10);
}

/** `2026-01-31 14:05 UTC`, or the date alone at midnight */
export function formatInstant(iso: string): string {
  const d = toDate(iso);
  if (isMidnight(d)) return formatDate(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
}

/**
 * A half-open period as people read it: whole days print their last day inclusive
 * (`[2026-01-01, 2026-02-01)` → `2026-01-01 – 2026-01-31`); other bounds print with their time.
 */
export function formatPeriod(p: DocumentPeriod): string {
  const from = toDate(p.from);
  const to = toDate(p.to);
  if (isMidnight(from) && isMidnight(to) && to.getTime() - from.getTime() >= 86_400_000) {
    const last = new Date(to.getTime() - 86_400_000).toISOString().slice(0, 10);
    const first = from.toISOString().slice(0, 10);
    return first === last ? first : `${first} – ${last}`;
  }
  return `${formatInstant(p.from)} – ${formatInstant(p.to)}`;
}

/** The address lines to print, in reading order (empty parts left out). */
export function addressLines(a: InvoiceDocument['customer']['billing_address']): string[] {
  if (!a) return [];
  const city = [a.postal_code, a.city].filter(Boolean).join(' ');
  const region = [city, a.state].filter(Boolean).join(', ');
  return [a.line1, a.line2, region, a.country, a.phone_number].filter((s): s is string => !!s && !!s.trim());
}

/** A heading for the document: `Invoice INV-000042`, `Draft invoice DRAFT-…`, `Voided invoice …`. */
export function documentTitle(doc: Pick<InvoiceDocument, 'status' | 'number'>): string {
  const label: Record<string, string> = {
    draft: 'Draft invoice',
    issuing: 'Draft invoice',
    voided: 'Voided invoice',
    preview: 'Invoice preview',
  };
  return `${label[doc.status] ?? 'Invoice'} ${doc.number}`;
}

/** The status as printed (`payment_processing` → `Payment processing`). */
export function formatStatus(status: string): string {
  const s = status.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** true when the decimal string is zero */
export const isZero = (v: string | undefined): boolean => v === undefined || parse(v, 'amount').isZero();
