/**
 * From the invoice as the API shows it (`getInvoice`'s view) to the printed document. Pure.
 *
 * The input type is structural: it takes today's view (no supplier, no due date, a customer without its
 * address) and the fuller OpenMeter shape (`supplier`, `customer.billing_address`, `due_at`, `description`,
 * lines with `detailed_lines`) alike; what is absent is not printed. A line's tier breakdown comes from its
 * `detailed_lines` when present, otherwise from the pricer's breakdown in `detail.tiers`.
 */
import Decimal from 'decimal.js';
import { roundMoney, type RatedLine } from '../../catalog/pricing';
import type { PostalAddress, Supplier } from '../../profiles/types';
import { formatMoney, formatQuantity } from './format';
import type { DocumentDetailedLine, DocumentLine, DocumentParty, InvoiceDocument } from './types';

interface SourceTotals {
  amount: string;
  discounts_total?: string;
  taxes_total?: string;
  credits_total?: string;
  total: string;
}

export interface SourceDetailedLine {
  name: string;
  quantity: string;
  unit_price?: string | null;
  totals: { amount?: string; total: string };
}

export interface SourceLine {
  name: string;
  description?: string | null;
  quantity?: string | null;
  unit_price?: string | null;
  service_period: { from: string; to: string };
  totals: SourceTotals;
  /** the rate card's price (`volume` names its tiers so) */
  price?: { type?: string };
  detail?: Record<string, unknown>;
  detailed_lines?: SourceDetailedLine[];
}

export interface SourceInvoice {
  number: string | null;
  status: string;
  currency: string;
  supplier?: Supplier | null;
  customer: {
    key?: string | null;
    name: string;
    primary_email?: string | null;
    billing_address?: PostalAddress | null;
  };
  service_period: { from: string; to: string };
  issued_at?: string | null;
  due_at?: string | null;
  description?: string | null;
  totals: SourceTotals;
  lines?: SourceLine[];
}

/** The pricer's tier breakdown as stored in a line's `detail.tiers`. */
export type StoredTier = RatedLine;

function isStoredTier(t: unknown): t is StoredTier {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as Record<string, unknown>;
  return typeof o.tier_index === 'number' && typeof o.quantity === 'string' && typeof o.amount === 'string';
}

/**
 * One detailed line per unit part and per flat part of each tier. A tier's amount was rounded once from
 * units × price + flat fee, so the unit part is the tier amount less the rounded flat fee: the parts add up
 * to the line exactly.
 */
export function tierDetailedLines(
  tiers: StoredTier[],
  currency: string,
  volume: boolean,
): DocumentDetailedLine[] {
  const out: DocumentDetailedLine[] = [];
  for (const t of tiers) {
    const range =
      t.to !== undefined
        ? `${formatQuantity(t.from)} – ${formatQuantity(t.to)}`
        : `above ${formatQuantity(t.from)}`;
    const label = `${volume ? 'Volume tier' : 'Tier'} ${t.tier_index + 1} (${range})`;
    const flat = t.flat_price !== undefined ? roundMoney(t.flat_price, currency) : undefined;
    if (t.unit_price !== undefined) {
      const unitAmount =
        flat !== undefined ? roundMoney(new Decimal(t.amount).minus(flat), currency) : t.amount;
      out.push({ name: label, quantity: t.quantity, unit_price: t.unit_price, amount: unitAmount });
    }
    if (flat !== undefined) {
      out.push({ name: `${label}, flat fee`, quantity: '1', unit_price: t.flat_price!, amount: flat });
    }
  }
  return out;
}

function detailedLines(l: SourceLine, currency: string): DocumentDetailedLine[] {
  if (l.detailed_lines && l.detailed_lines.length > 0) {
    const parts = l.detailed_lines.map((d) => ({
      name: d.name,
      quantity: d.quantity,
      unit_price: d.unit_price ?? null,
      amount: d.totals.amount ?? d.totals.total,
    }));
    // a single part that is the line itself (a flat fee) adds nothing to the document
    const only = parts.length === 1 ? parts[0] : undefined;
    if (
      only &&
      new Decimal(only.quantity).eq(l.quantity ?? '1') &&
      new Decimal(only.amount).eq(l.totals.amount)
    )
      return [];
    return parts;
  }
  const tiers = l.detail?.tiers;
  if (!Array.isArray(tiers) || !tiers.every(isStoredTier)) return [];
  return tierDetailedLines(tiers, currency, l.price?.type === 'volume');
}

function lineDescription(l: SourceLine, currency: string): string | undefined {
  if (l.description) return l.description;
  const d = l.detail ?? {};
  if (d.credit_for_unused === true) return 'Credit for the unused part of the period';
  const factor = typeof d.proration_factor === 'string' ? d.proration_factor : undefined;
  const full = typeof d.full_amount === 'string' ? d.full_amount : undefined;
  if (factor && full && !new Decimal(factor).eq(1)) {
    const pct = new Decimal(factor).times(100).toDecimalPlaces(2).toFixed();
    return `Prorated: ${pct}% of ${formatMoney(full, currency)}`;
  }
  return undefined;
}

function line(l: SourceLine, currency: string): DocumentLine {
  const description = lineDescription(l, currency);
  return {
    name: l.name,
    ...(description ? { description } : {}),
    quantity: l.quantity ?? '1',
    unit_price: l.unit_price ?? null,
    amount: l.totals.amount,
    service_period: { from: l.service_period.from, to: l.service_period.to },
    detailed_lines: detailedLines(l, currency),
  };
}

function party(s: Supplier | null | undefined): DocumentParty | undefined {
  if (!s) return undefined;
  const out: DocumentParty = {};
  if (s.name) out.name = s.name;
  if (s.tax_id?.code) out.tax_id = s.tax_id.code;
  if (s.email) out.email = s.email;
  if (s.addresses?.billing_address) out.address = s.addresses.billing_address;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The document of `inv` (an invoice view with its lines). */
export function invoiceDocumentFromView(inv: SourceInvoice): InvoiceDocument {
  const supplier = party(inv.supplier);
  const c = inv.customer;
  return {
    ...(supplier ? { supplier } : {}),
    customer: {
      name: c.name,
      ...(c.key ? { key: c.key } : {}),
      ...(c.primary_email ? { email: c.primary_email } : {}),
      ...(c.billing_address && Object.keys(c.billing_address).length > 0
        ? { billing_address: c.billing_address }
        : {}),
    },
    number: inv.number ?? 'preview',
    status: inv.status,
    ...(inv.issued_at ? { issued_at: inv.issued_at } : {}),
    ...(inv.due_at ? { due_at: inv.due_at } : {}),
    service_period: { from: inv.service_period.from, to: inv.service_period.to },
    currency: inv.currency,
    lines: (inv.lines ?? []).map((l) => line(l, inv.currency)),
    totals: {
      subtotal: inv.totals.amount,
      discounts: inv.totals.discounts_total ?? '0',
      taxes: inv.totals.taxes_total ?? '0',
      ...(inv.totals.credits_total !== undefined ? { credits: inv.totals.credits_total } : {}),
      total: inv.totals.total,
    },
    ...(inv.description ? { notes: [inv.description] } : {}),
  };
}
