/**
 * OpenMeter's `UpdateInvoiceRequest` on a draft (`PUT /billing/invoices/{id}` with `type: standard`): a full
 * replace of what is editable. This module checks it against the stored invoice, prices its lines by their
 * rate cards and merges the snapshots; `editDraftInvoice` (invoices.ts) writes the result in one transaction.
 *
 * Lines: one with the `id` of a line of the invoice updates it, any other (no id, or an id the invoice does
 * not have, as OpenMeter) is a new manual line; the invoice's lines left out are removed. A subscription's
 * line sent back as it is (name, service period, price, feature) stays the subscription's (re-rated from
 * the events); changed, it becomes a manual line priced by the rate card given. A flat or free price bills
 * its amount once; a usage price (unit, graduated, volume) needs a metered feature (`feature_key`) and bills
 * the customer's usage of it over the line's service period (measured again whenever the draft is re-rated).
 */
import Decimal from 'decimal.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { rateUsage } from '../catalog/pricing';
import { usageFilters } from '../catalog/rate-cards';
import { findFeatures } from '../catalog/service';
import type { Feature, Price } from '../catalog/types';
import { subjectWindows } from '../customers/service';
import { Sql, exec } from '../db/sql';
import { invalid, type InvalidParam } from '../lib/errors';
import { aggregateUsage, billableUsage } from '../metering/service';
import type { BillingWorkflowSettings, Supplier } from '../profiles/types';
import { detailedLinesOf, isUsagePrice, totalsOf } from './compose';
import type { DraftReplace, ReplaceLine } from './contract';
import type { CustomerSnapshot, DetailedLine } from './entities';

/** A line of the invoice as stored (what an update is matched and compared against). */
export interface StoredLine {
  id: string;
  position: number;
  manual: boolean;
  kind: string;
  name: string;
  feature_key: string | null;
  price: Price;
  rate_card: Record<string, unknown> | null;
  service_period_from: Date;
  service_period_to: Date;
}

export async function storedLines(em: EntityManager, invoiceId: string): Promise<StoredLine[]> {
  return exec<StoredLine>(
    em,
    new Sql().add(
      `select id, position, manual, kind, name, feature_key, price, rate_card, service_period_from,
         service_period_to from invoice_lines where invoice_id = ? order by position`,
      invoiceId,
    ),
  );
}

/** What a line bills, priced by its rate card. */
export interface PricedLine {
  kind: 'usage' | 'flat';
  quantity: string;
  unitPrice: string | null;
  amount: string;
  detail: Record<string, unknown>;
  detailed: DetailedLine[];
}

/** One line to write: an existing one (`id`) or a new one. */
export interface PlannedLine {
  id?: string;
  /** a subscription's line sent back as it is: its pricing and quantities stay */
  unchanged: boolean;
  name: string;
  description: string | null;
  labels: Record<string, string>;
  from: string;
  to: string;
  price: Price;
  featureKey: string | null;
  rateCard: Record<string, unknown>;
  /** absent when `unchanged` */
  priced?: PricedLine;
}

export interface LinesPlan {
  write: PlannedLine[];
  /** ids of the invoice's lines left out */
  remove: string[];
}

const num = (v: string | undefined) => (v === undefined ? '' : new Decimal(v).toFixed());

/** A price as a comparable string (decimals compared by value: "0.10" is "0.1"). */
function priceKey(p: Price): string {
  switch (p.type) {
    case 'free':
      return 'free';
    case 'flat':
    case 'unit':
      return `${p.type}:${num(p.amount)}`;
    default:
      return `${p.type}:${p.tiers
        .map((t) => [num(t.up_to_amount), num(t.flat_price?.amount), num(t.unit_price?.amount)].join('/'))
        .join(';')}`;
  }
}

const sameInstant = (a: Date | string, b: string) => new Date(a).getTime() === Date.parse(b);

/** A stored line the update sends back as it is (what pricing depends on is the same). */
const unchangedLine = (s: StoredLine, l: ReplaceLine) =>
  s.name === l.name &&
  sameInstant(s.service_period_from, l.service_period.from) &&
  sameInstant(s.service_period_to, l.service_period.to) &&
  priceKey(s.price) === priceKey(l.rate_card.price) &&
  (s.feature_key ?? undefined) === l.rate_card.feature_key;

const rateCardOf = (l: ReplaceLine): Record<string, unknown> => ({
  price: l.rate_card.price,
  ...(l.rate_card.feature_key ? { feature_key: l.rate_card.feature_key } : {}),
  ...(l.rate_card.tax_config ? { tax_config: l.rate_card.tax_config } : {}),
  ...(l.rate_card.discounts ? { discounts: l.rate_card.discounts } : {}),
});

/**
 * The problems of the update's lines that the invoice and the catalog reveal (the body's own rules are the
 * API's): a line id given twice, a usage price without a metered feature. Returns the features named.
 */
async function checkLines(
  em: EntityManager,
  lines: ReplaceLine[],
): Promise<{ problems: InvalidParam[]; features: Map<string, Feature> }> {
  const problems: InvalidParam[] = [];
  const seen = new Set<string>();
  lines.forEach((l, i) => {
    if (l.id === undefined) return;
    if (seen.has(l.id))
      problems.push({ field: `body.lines[${i}].id`, rule: 'invalid', reason: `line ${l.id} is given twice` });
    seen.add(l.id);
  });
  const keys = [...new Set(lines.flatMap((l) => (l.rate_card.feature_key ? [l.rate_card.feature_key] : [])))];
  const features = await findFeatures(em, keys);
  lines.forEach((l, i) => {
    if (!isUsagePrice(l.rate_card.price)) return;
    const field = `body.lines[${i}].rate_card.feature_key`;
    const key = l.rate_card.feature_key;
    if (!key)
      problems.push({
        field,
        rule: 'required',
        reason: 'a usage price (unit, graduated, volume) needs the feature whose usage it bills',
      });
    else if (!features.get(key))
      problems.push({ field, rule: 'invalid', reason: `no feature with key ${key}` });
    else if (!features.get(key)!.meter)
      problems.push({
        field,
        rule: 'invalid',
        reason: `feature ${key} has no meter: its usage cannot be billed`,
      });
  });
  return { problems, features };
}

/** Refuses (400 naming the fields) an update whose lines the invoice or the catalog cannot take. */
export async function validateReplace(em: EntityManager, edit: DraftReplace): Promise<void> {
  if (!edit.lines) return;
  const { problems } = await checkLines(em, edit.lines);
  if (problems.length) throw invalid('the invoice update is invalid', problems);
}

export interface PricingContext {
  customerId: string;
  currency: string;
}

/**
 * Prices a line by its rate card: a flat or free price bills its amount once (quantity 1); a usage price
 * bills the customer's usage of the feature in [from, to) (every subject within the window the customer
 * owned it; a negative aggregate bills as 0).
 */
export async function priceLine(
  em: EntityManager,
  ctx: PricingContext,
  l: { name: string; price: Price; feature?: Feature; from: string; to: string },
  subjects?: Awaited<ReturnType<typeof subjectWindows>>,
): Promise<PricedLine> {
  if (!isUsagePrice(l.price)) {
    const amount = rateUsage(l.price, '1', ctx.currency).amount;
    const unit = l.price.type === 'flat' ? l.price.amount : '0';
    return {
      kind: 'flat',
      quantity: '1',
      unitPrice: new Decimal(unit).toFixed(),
      amount,
      detail: {},
      detailed: [{ name: l.name, quantity: '1', unit_price: new Decimal(unit).toFixed(), amount }],
    };
  }
  const meter = l.feature?.meter;
  if (!meter) throw invalid(`line ${l.name}: a usage price needs a metered feature`);
  const from = new Date(l.from);
  const to = new Date(l.to);
  const quantity =
    from < to
      ? billableUsage(
          await aggregateUsage(em, {
            meterId: meter.id,
            subjects: subjects ?? (await subjectWindows(em, ctx.customerId)),
            from,
            to,
            filters: usageFilters(meter.filters),
          }),
        )
      : '0';
  const rated = rateUsage(l.price, quantity, ctx.currency);
  const unitPrice =
    l.price.type === 'unit' ? new Decimal(l.price.amount).toFixed() : (rated.unit_price ?? null);
  const detail = rated.lines ? { tiers: rated.lines } : {};
  const detailed = detailedLinesOf(
    {
      name: l.name,
      featureKey: l.feature?.key ?? null,
      rateCardKey: 'manual',
      kind: 'usage',
      quantity,
      unitPrice,
      price: l.price,
      periodFrom: l.from,
      periodTo: l.to,
      amount: rated.amount,
      totals: totalsOf([rated.amount], ctx.currency),
      detail,
    },
    ctx.currency,
  );
  return { kind: 'usage', quantity, unitPrice, amount: rated.amount, detail, detailed };
}

/** Matches, checks and prices the update's lines against the invoice's (inside the writing transaction). */
export async function planLines(
  em: EntityManager,
  ctx: PricingContext,
  stored: StoredLine[],
  lines: ReplaceLine[],
): Promise<LinesPlan> {
  const { problems, features } = await checkLines(em, lines);
  if (problems.length) throw invalid('the invoice update is invalid', problems);
  const byId = new Map(stored.map((s) => [s.id, s]));
  const subjects = lines.some((l) => isUsagePrice(l.rate_card.price))
    ? await subjectWindows(em, ctx.customerId)
    : [];
  const write: PlannedLine[] = [];
  for (const l of lines) {
    const existing = l.id !== undefined ? byId.get(l.id) : undefined;
    const base = {
      ...(existing ? { id: existing.id } : {}),
      name: l.name,
      description: l.description ?? null,
      labels: l.labels ?? {},
      from: new Date(l.service_period.from).toISOString(),
      to: new Date(l.service_period.to).toISOString(),
      price: l.rate_card.price,
      featureKey: l.rate_card.feature_key ?? null,
      rateCard: rateCardOf(l),
    };
    if (existing && !existing.manual && unchangedLine(existing, l)) {
      write.push({ ...base, unchanged: true });
      continue;
    }
    const feature = l.rate_card.feature_key ? features.get(l.rate_card.feature_key) : undefined;
    const priced = await priceLine(em, ctx, { ...base, feature }, subjects);
    write.push({ ...base, unchanged: false, priced });
  }
  const kept = new Set(write.flatMap((w) => (w.id ? [w.id] : [])));
  return { write, remove: stored.filter((s) => !kept.has(s.id)).map((s) => s.id) };
}

/** The supplier snapshot after the update: its parts replaced, its identity (`id`, `key`) kept. */
export function mergedSupplier(old: Supplier | null, s: DraftReplace['supplier']): Supplier {
  const email = s.email ?? old?.email;
  return {
    ...(old?.id !== undefined ? { id: old.id } : {}),
    ...(old?.key !== undefined ? { key: old.key } : {}),
    ...(s.name !== undefined ? { name: s.name } : {}),
    ...(email !== undefined ? { email } : {}),
    ...(s.tax_id ? { tax_id: s.tax_id } : {}),
    ...(s.addresses ? { addresses: s.addresses } : {}),
  };
}

/** The customer snapshot after the update: name and billing address replaced; id and key kept. */
export function mergedCustomer(old: CustomerSnapshot, c: DraftReplace['customer']): CustomerSnapshot {
  const email = c.primary_email === undefined ? old.primary_email : c.primary_email;
  return {
    id: old.id,
    key: old.key,
    name: c.name,
    ...(email ? { primary_email: email } : {}),
    ...(c.billing_address ? { billing_address: c.billing_address } : {}),
  };
}

/** What an invoice from before the workflow snapshot runs by (the profiles' defaults). */
const DEFAULT_WORKFLOW: BillingWorkflowSettings = {
  collection: { alignment: { type: 'subscription' }, interval: 'PT1H' },
  invoicing: { auto_advance: true, draft_period: 'P0D' },
  payment: { collection_method: 'charge_automatically' },
};

/** The workflow snapshot after the update: the invoicing and payment settings given replace the stored. */
export function mergedWorkflow(
  old: BillingWorkflowSettings | null,
  w: DraftReplace['workflow'],
): BillingWorkflowSettings {
  const base = old ?? DEFAULT_WORKFLOW;
  return {
    ...base,
    ...(w.invoicing ? { invoicing: w.invoicing } : {}),
    ...(w.payment ? { payment: w.payment } : {}),
  };
}
