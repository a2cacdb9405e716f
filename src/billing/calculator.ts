/**
 * The invoice calculator: loads what an invoice needs (plan versions, features, the customer's subjects, the
 * usage) and hands it to the pure composition in `compose.ts`.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { findFeatures, findPlanKey, getPlan } from '../catalog/service';
import { Sql, exec } from '../db/sql';
import { usageFilters } from '../catalog/rate-cards';
import type { Feature, Plan, RateCard } from '../catalog/types';
import { notFound } from '../lib/errors';
import {
  findCustomer,
  findDeletedCustomer,
  subjectWindows,
  type BillingCustomer,
} from '../customers/service';
import { aggregateUsage, billableUsage } from '../metering/service';
import type { BilledPeriod, IssueInvoiceInput } from './contract';
import {
  composeInvoice,
  isUsagePrice,
  oneTimeKey,
  type ComposedInvoice,
  type ComposeSection,
  type PhaseInfo,
} from './compose';

export interface ComputeOptions {
  /**
   * One-time fees already billed to the subscription (`oneTimeKey(...)`); default: read from the stored
   * invoices of the subscription (other than the one with `input.invoiceKey`).
   */
  oneTimeBilled?: ReadonlySet<string>;
  /** the customer, when the caller already loaded it */
  customer?: BillingCustomer;
}

export interface ComputedInvoice extends ComposedInvoice {
  customer: BillingCustomer;
}

/**
 * One-time fees already on invoices of the subscription (deleted drafts do not count; `exceptInvoiceKey`: not
 * the lines billed under that key, the invoice's or, on a gathered invoice, the pending line's). A line names its plan
 * version's key (`plan_key`, since issue 11); older lines name the version only, whose key the catalog gives.
 */
export async function oneTimeFeesBilled(
  em: EntityManager,
  subscriptionId: string,
  exceptInvoiceKey?: string,
): Promise<Set<string>> {
  const rows = await exec<{
    plan_id: string;
    plan_key: string | null;
    phase_key: string;
    rate_card_key: string;
  }>(
    em,
    new Sql().add(
      `select l.detail->>'plan_id' as plan_id, l.detail->>'plan_key' as plan_key,
              l.detail->>'phase_key' as phase_key, l.rate_card_key
         from invoice_lines l join invoices i on i.id = l.invoice_id
        where coalesce(l.subscription_id, i.subscription_id) = ?
          and coalesce(l.source_key, i.invoice_key) <> ? and i.status <> 'deleted' and l.kind = 'flat'
          and l.detail->>'one_time' = 'true'`,
      subscriptionId,
      exceptInvoiceKey ?? '',
    ),
  );
  const keys = new Map<string, string>();
  const keyOf = async (planId: string) => {
    let k = keys.get(planId);
    if (k === undefined) {
      k = (await findPlanKey(em, planId)) ?? planId;
      keys.set(planId, k);
    }
    return k;
  };
  const out = new Set<string>();
  for (const r of rows)
    out.add(oneTimeKey(r.plan_key ?? (await keyOf(r.plan_id)), r.phase_key, r.rate_card_key));
  return out;
}

/**
 * The customer to bill: a live customer by id or key, else a deleted customer by id (its final invoice is
 * still issued, counting the usage of its names up to its deletion).
 */
export async function billedCustomer(em: EntityManager, idOrKey: string): Promise<BillingCustomer> {
  const live = await findCustomer(em, idOrKey);
  if (live) return live;
  const deleted = await findDeletedCustomer(em, idOrKey);
  if (!deleted) throw notFound('customer', idOrKey);
  return deleted;
}

function phaseOf(plan: Plan, phaseKey: string): PhaseInfo {
  const phase = plan.phases.find((p) => p.key === phaseKey);
  if (!phase) throw new Error(`plan ${plan.id} (${plan.key} v${plan.version}) has no phase ${phaseKey}`);
  return {
    planId: plan.id,
    planKey: plan.key,
    phaseKey,
    proRatingEnabled: plan.pro_rating_enabled !== false,
    rateCards: phase.rate_cards,
  };
}

function section(p: BilledPeriod, phase: PhaseInfo): ComposeSection {
  return {
    phase,
    from: new Date(p.from),
    to: new Date(p.to),
    cycleFrom: new Date(p.cycleFrom),
    cycleTo: new Date(p.cycleTo),
  };
}

/**
 * Computes the lines and totals of an invoice (nothing is stored). Usage is measured over
 * [max(arrears.from, subscriptionStart), arrears.to) for all the customer's subjects, each within the
 * window the customer owned it (`subjectWindows`).
 */
export async function computeLines(
  em: EntityManager,
  input: IssueInvoiceInput,
  opts: ComputeOptions = {},
): Promise<ComputedInvoice> {
  const customer = opts.customer ?? (await billedCustomer(em, input.customerId));
  // the customer's names, each within the window it owned it: never an earlier owner's usage
  const subjects = await subjectWindows(em, customer.id);
  const plans = new Map<string, Plan>();
  const plan = async (id: string) => {
    let p = plans.get(id);
    if (!p) {
      p = await getPlan(em, id);
      plans.set(id, p);
    }
    return p;
  };
  // every feature the billed phases name, in one query (a deleted feature still bills its last period)
  const billedPlans = [
    input.arrears ? await plan(input.arrears.planId) : undefined,
    input.advance ? await plan(input.advance.planId) : undefined,
  ];
  const featureIds = new Set<string>();
  billedPlans.forEach((p, i) => {
    const period = i === 0 ? input.arrears : input.advance;
    if (!p || !period) return;
    for (const rc of phaseOf(p, period.phaseKey).rateCards) if (rc.feature) featureIds.add(rc.feature.id);
  });
  const features = await findFeatures(em, [...featureIds]);
  const featureKeys: Record<string, string> = {};
  const feature = (rc: RateCard): Feature | undefined => {
    if (!rc.feature) return undefined;
    const f = features.get(rc.feature.id);
    if (!f) throw notFound('feature', rc.feature.id);
    featureKeys[rc.key] = f.key;
    return f;
  };

  let currency: string | undefined;
  const useCurrency = (p: Plan) => {
    if (currency && currency !== p.currency)
      throw new Error(`arrears and advance plans bill in different currencies (${currency}, ${p.currency})`);
    currency = p.currency;
  };

  let arrears: Parameters<typeof composeInvoice>[0]['arrears'];
  if (input.arrears) {
    const p = await plan(input.arrears.planId);
    useCurrency(p);
    const s = section(input.arrears, phaseOf(p, input.arrears.phaseKey));
    const start = new Date(input.subscriptionStart);
    const usageFrom = start > s.from ? start : s.from;
    const usage: Record<string, string> = {};
    for (const rc of s.phase.rateCards) {
      const f = feature(rc);
      if (!isUsagePrice(rc.price)) continue;
      if (!f?.meter || usageFrom >= s.to) {
        usage[rc.key] = '0';
        continue;
      }
      // a negative aggregate (corrections exceeding usage) bills as 0: no line with a negative quantity
      usage[rc.key] = billableUsage(
        await aggregateUsage(em, {
          meterId: f.meter.id,
          subjects,
          from: usageFrom,
          to: s.to,
          filters: usageFilters(f.meter.filters),
        }),
      );
    }
    arrears = { ...s, usageFrom: usageFrom < s.to ? usageFrom : s.to, usage };
  }

  let advance: ComposeSection | undefined;
  if (input.advance) {
    const p = await plan(input.advance.planId);
    useCurrency(p);
    advance = section(input.advance, phaseOf(p, input.advance.phaseKey));
    for (const rc of advance.phase.rateCards) feature(rc);
  }

  const oneTimeBilled =
    opts.oneTimeBilled ?? (await oneTimeFeesBilled(em, input.subscriptionId, input.invoiceKey));
  const composed = composeInvoice({
    currency: currency ?? customer.currency ?? 'USD',
    arrears,
    advance,
    featureKeys,
    oneTimeBilled,
  });
  return { ...composed, customer };
}
