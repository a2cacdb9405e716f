/**
 * Pure invoice composition: from a plan phase's rate cards, the billed periods and the measured usage, the
 * invoice lines and totals. No I/O (the loading lives in `calculator.ts`), so every rule is unit-testable.
 *
 * Rules:
 * - Usage prices (unit, graduated, volume) are billed in arrears only: quantity = the usage measured over
 *   [max(arrears.from, subscription start), arrears.to), rated with `rateUsage`, rounded to the currency's
 *   minor units at the line. Usage prices are never prorated. A usage line is emitted even when the quantity
 *   is 0 (so the customer sees what was measured).
 * - Recurring flat prices (rate card with a `billing_cadence`) are billed in arrears (payment term
 *   `in_arrears`, the default) or in advance (`in_advance`) for the corresponding period. When the plan
 *   enables pro-rating and the period is shorter than its cycle, the amount is multiplied by
 *   period length / cycle length (milliseconds) and then rounded. Quantity is 1; `unit_price` is the billed
 *   (prorated, rounded) amount; the full amount and the factor are kept in `detail`.
 * - One-time flat prices (no `billing_cadence`) are billed once per subscription and (plan, phase, rate
 *   card) — a migration to a newer version of the same plan does not charge them again: on the first invoice of the subscription that covers a period of that phase — in the
 *   advance section when the invoice has one for that phase, else in the arrears section — whatever their
 *   payment term, never prorated. The caller passes the one-time fees already billed (`oneTimeBilled`).
 * - When an immediate change or cancel cuts a period short and the plan enables pro-rating, the unused part
 *   of an in-advance fee (already billed up to the period's grid end) is credited back as a negative line
 *   on the cut period's invoice; an invoice total may then be negative (a credit owed to the customer).
 * - Free prices produce no line.
 * - Totals (v3 BillingTotals): no taxes, discounts, credits or commitments yet, so
 *   amount = charges… = the sum of the line amounts, every other component "0", total = amount.
 */
import Decimal from 'decimal.js';
import { prorate, rateUsage, roundMoney } from '../catalog/pricing';
import { isOneTime, isUsagePrice, paymentTermOf as paymentTerm } from '../catalog/rate-cards';
import type { Price, RateCard } from '../catalog/types';
import type { DetailedLine } from './entities';

/** v3 `BillingTotals`: decimal strings. */
export interface BillingTotals {
  amount: string;
  taxes_total: string;
  taxes_inclusive_total: string;
  taxes_exclusive_total: string;
  charges_total: string;
  discounts_total: string;
  credits_total: string;
  total: string;
}

export interface ComposedLine {
  name: string;
  featureKey: string | null;
  rateCardKey: string;
  kind: 'usage' | 'flat';
  quantity: string;
  unitPrice: string | null;
  price: Price;
  /** ISO instants, half-open */
  periodFrom: string;
  periodTo: string;
  amount: string;
  totals: BillingTotals;
  /** tier breakdown, proration factor, plan/phase provenance */
  detail: Record<string, unknown>;
}

/** The plan version and phase a period is billed under. */
export interface PhaseInfo {
  planId: string;
  /** the plan's key, shared by its versions: a one-time fee is billed once per plan, not per version */
  planKey?: string;
  phaseKey: string;
  proRatingEnabled: boolean;
  rateCards: RateCard[];
}

export interface ComposeSection {
  phase: PhaseInfo;
  /** billed period, half-open */
  from: Date;
  to: Date;
  /** the full cycle the period belongs to */
  cycleFrom: Date;
  cycleTo: Date;
}

export interface ComposeArrears extends ComposeSection {
  /** start of the usage window: max(from, subscription start) */
  usageFrom: Date;
  /** measured usage per rate card key (usage-priced rate cards); missing = "0" */
  usage: Record<string, string>;
}

export interface ComposeInput {
  currency: string;
  arrears?: ComposeArrears;
  advance?: ComposeSection;
  /** feature key per rate card key (rate cards bound to a feature) */
  featureKeys?: Record<string, string>;
  /** one-time fees already billed to this subscription, as `oneTimeKey(planKey ?? planId, phaseKey, rateCardKey)` */
  oneTimeBilled?: ReadonlySet<string>;
}

export interface ComposedInvoice {
  currency: string;
  lines: ComposedLine[];
  totals: BillingTotals;
  /** the union of the billed periods (ISO) */
  servicePeriod: { from: string; to: string };
}

export const oneTimeKey = (planId: string, phaseKey: string, rateCardKey: string): string =>
  `${planId}/${phaseKey}/${rateCardKey}`;

// the rate-card predicates are catalog's (one copy, workflow-safe); re-exported for this module's callers
export { isOneTime, isUsagePrice };

/** Totals of a set of already rounded amounts. */
export function totalsOf(amounts: string[], currency: string): BillingTotals {
  const sum = amounts.reduce((acc, a) => acc.plus(a), new Decimal(0));
  const amount = roundMoney(sum, currency);
  const zero = roundMoney(0, currency);
  return {
    amount,
    taxes_total: zero,
    taxes_inclusive_total: zero,
    taxes_exclusive_total: zero,
    charges_total: zero,
    discounts_total: zero,
    credits_total: zero,
    total: amount,
  };
}

/** The factor a recurring flat fee is multiplied by: period/cycle when pro-rating applies, else 1. */
export function prorationFactor(
  s: Pick<ComposeSection, 'from' | 'to' | 'cycleFrom' | 'cycleTo'>,
  enabled: boolean,
) {
  const period = s.to.getTime() - s.from.getTime();
  const cycle = s.cycleTo.getTime() - s.cycleFrom.getTime();
  if (!enabled || cycle <= 0 || period >= cycle) return '1';
  return prorate(1, s.from, s.to, s.cycleFrom, s.cycleTo);
}

function flatLine(
  rc: RateCard & { price: { type: 'flat'; amount: string } },
  s: ComposeSection,
  currency: string,
  featureKey: string | null,
  oneTime: boolean,
): ComposedLine {
  const factor = oneTime ? '1' : prorationFactor(s, s.phase.proRatingEnabled);
  const exact =
    factor === '1' ? rc.price.amount : prorate(rc.price.amount, s.from, s.to, s.cycleFrom, s.cycleTo);
  const amount = roundMoney(exact, currency);
  return {
    name: rc.name,
    featureKey,
    rateCardKey: rc.key,
    kind: 'flat',
    quantity: '1',
    unitPrice: amount,
    price: rc.price,
    periodFrom: s.from.toISOString(),
    periodTo: s.to.toISOString(),
    amount,
    totals: totalsOf([amount], currency),
    detail: {
      plan_id: s.phase.planId,
      ...(s.phase.planKey ? { plan_key: s.phase.planKey } : {}),
      phase_key: s.phase.phaseKey,
      payment_term: paymentTerm(rc),
      one_time: oneTime,
      full_amount: rc.price.amount,
      proration_factor: factor,
      cycle: { from: s.cycleFrom.toISOString(), to: s.cycleTo.toISOString() },
    },
  };
}

/**
 * A period cut short (immediate change or cancel) under a plan with pro-rating: the in-advance fee was
 * billed up to the period's grid end (`cycleTo`), so the unused part [to, cycleTo) is credited back as a
 * negative line. Without pro-rating the customer keeps paying the whole period, and nothing is credited.
 */
function unusedAdvanceCredit(
  rc: RateCard & { price: { type: 'flat'; amount: string } },
  a: ComposeSection,
  currency: string,
  featureKey: string | null,
): ComposedLine | undefined {
  if (!a.phase.proRatingEnabled || a.to.getTime() >= a.cycleTo.getTime()) return undefined;
  const unused = prorate(rc.price.amount, a.to, a.cycleTo, a.cycleFrom, a.cycleTo);
  const amount = roundMoney(new Decimal(unused).negated(), currency);
  if (new Decimal(amount).isZero()) return undefined;
  return {
    name: `${rc.name} (unused time credited)`,
    featureKey,
    rateCardKey: rc.key,
    kind: 'flat',
    quantity: '1',
    unitPrice: amount,
    price: rc.price,
    periodFrom: a.to.toISOString(),
    periodTo: a.cycleTo.toISOString(),
    amount,
    totals: totalsOf([amount], currency),
    detail: {
      plan_id: a.phase.planId,
      phase_key: a.phase.phaseKey,
      payment_term: 'in_advance',
      credit_for_unused: true,
      full_amount: rc.price.amount,
      proration_factor: prorate(1, a.to, a.cycleTo, a.cycleFrom, a.cycleTo),
      cycle: { from: a.cycleFrom.toISOString(), to: a.cycleTo.toISOString() },
    },
  };
}

function usageLine(
  rc: RateCard,
  a: ComposeArrears,
  currency: string,
  featureKey: string | null,
): ComposedLine {
  const quantity = a.usage[rc.key] ?? '0';
  const rated = rateUsage(rc.price, quantity, currency);
  const unitPrice = rc.price.type === 'unit' ? rc.price.amount : (rated.unit_price ?? null);
  return {
    name: rc.name,
    featureKey,
    rateCardKey: rc.key,
    kind: 'usage',
    quantity,
    unitPrice,
    price: rc.price,
    periodFrom: a.usageFrom.toISOString(),
    periodTo: a.to.toISOString(),
    amount: rated.amount,
    totals: totalsOf([rated.amount], currency),
    detail: {
      plan_id: a.phase.planId,
      phase_key: a.phase.phaseKey,
      ...(rated.lines ? { tiers: rated.lines } : {}),
    },
  };
}

/** Composes the invoice lines and totals. Throws RangeError on an empty input (neither arrears nor advance). */
export function composeInvoice(input: ComposeInput): ComposedInvoice {
  const { currency, arrears, advance } = input;
  if (!arrears && !advance) throw new RangeError('nothing to bill: neither arrears nor advance period');
  const billed = new Set(input.oneTimeBilled ?? []);
  const fk = (rc: RateCard) => input.featureKeys?.[rc.key] ?? null;
  const lines: ComposedLine[] = [];

  const oneTimeFees = (s: ComposeSection) => {
    for (const rc of s.phase.rateCards) {
      if (!isOneTime(rc) || rc.price.type !== 'flat') continue;
      const k = oneTimeKey(s.phase.planKey ?? s.phase.planId, s.phase.phaseKey, rc.key);
      if (billed.has(k)) continue;
      billed.add(k);
      lines.push(flatLine({ ...rc, price: rc.price }, s, currency, fk(rc), true));
    }
  };

  // advance first: it carries the one-time fees of the phase that starts
  if (advance) {
    for (const rc of advance.phase.rateCards) {
      if (rc.price.type === 'flat' && !isOneTime(rc) && paymentTerm(rc) === 'in_advance')
        lines.push(flatLine({ ...rc, price: rc.price }, advance, currency, fk(rc), false));
    }
    oneTimeFees(advance);
  }
  if (arrears) {
    for (const rc of arrears.phase.rateCards) {
      if (isUsagePrice(rc.price)) lines.push(usageLine(rc, arrears, currency, fk(rc)));
      else if (rc.price.type === 'flat' && !isOneTime(rc) && paymentTerm(rc) === 'in_arrears')
        lines.push(flatLine({ ...rc, price: rc.price }, arrears, currency, fk(rc), false));
      else if (rc.price.type === 'flat' && !isOneTime(rc) && paymentTerm(rc) === 'in_advance') {
        const credit = unusedAdvanceCredit({ ...rc, price: rc.price }, arrears, currency, fk(rc));
        if (credit) lines.push(credit);
      }
    }
    oneTimeFees(arrears);
  }
  // presentation order: arrears (the closed period) before advance (the next one); a credit for the unused
  // part of a cut period starts where the next period starts, and comes first
  const credit = (l: ComposedLine) => (l.detail.credit_for_unused ? 0 : 1);
  lines.sort((x, y) => x.periodFrom.localeCompare(y.periodFrom) || credit(x) - credit(y));

  const froms = [arrears?.from, advance?.from].filter((d): d is Date => !!d);
  const tos = [arrears?.to, advance?.to].filter((d): d is Date => !!d);
  return {
    currency,
    lines,
    totals: totalsOf(
      lines.map((l) => l.amount),
      currency,
    ),
    servicePeriod: {
      from: new Date(Math.min(...froms.map((d) => d.getTime()))).toISOString(),
      to: new Date(Math.max(...tos.map((d) => d.getTime()))).toISOString(),
    },
  };
}

/** One detailed line per tier part (unit and flat price of a tier apart) or per flat fee. */
export function detailedLinesOf(l: ComposedLine, currency: string): DetailedLine[] {
  const tiers = l.detail.tiers as
    | { tier_index: number; quantity: string; unit_price?: string; flat_price?: string; amount: string }[]
    | undefined;
  if (tiers) {
    const out: DetailedLine[] = [];
    for (const t of tiers) {
      if (t.unit_price !== undefined && new Decimal(t.quantity).gt(0))
        out.push({
          name: `${l.name}: tier ${t.tier_index + 1} usage`,
          quantity: new Decimal(t.quantity).toFixed(),
          unit_price: t.unit_price,
          amount: roundMoney(new Decimal(t.quantity).times(t.unit_price), currency),
          tier_index: t.tier_index,
        });
      if (t.flat_price !== undefined)
        out.push({
          name: `${l.name}: tier ${t.tier_index + 1} flat price`,
          quantity: '1',
          unit_price: t.flat_price,
          amount: roundMoney(t.flat_price, currency),
          tier_index: t.tier_index,
        });
    }
    return out;
  }
  if (l.kind === 'usage' && l.unitPrice !== null)
    return [
      {
        name: l.name,
        quantity: new Decimal(l.quantity).toFixed(),
        unit_price: l.unitPrice,
        amount: l.amount,
      },
    ];
  return [{ name: l.name, quantity: '1', unit_price: l.amount, amount: l.amount }];
}
