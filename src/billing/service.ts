/**
 * Billing: issuing invoices (called by the subscription workflow's activities), reading them, previewing
 * what an open period would bill.
 *
 * Idempotency: `invoice_key` is unique. `issueInvoice` returns the stored invoice when the key exists; else it
 * computes the invoice and inserts it with its lines in one transaction, serialized per key by a
 * transaction-scoped advisory lock and guarded by the unique key, so concurrent or retried calls create
 * exactly one invoice. Its number comes from a counter row updated in the same statement as the insert
 * (see insertInvoice): issued numbers are gapless (a rolled-back transaction gives its number back).
 */
import Decimal from 'decimal.js';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { conflict, notFound } from '../lib/errors';
import { roundMoney } from '../catalog/pricing';
import type { Price } from '../catalog/types';
import { findCustomer, getCustomer, type BillingCustomer } from '../customers/service';
import type { AppDeps } from '../deps';
import { newId } from '../lib/ids';
import { logger } from '../lib/logger';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { currentPeriodOf } from '../subscriptions/row-period';
import { computeLines, type ComputedInvoice } from './calculator';
import type { BillingTotals, ComposedLine } from './compose';
import type { IssueInvoiceInput, IssuedInvoiceRef } from './contract';
import {
  Invoice,
  InvoiceLine,
  type CustomerSnapshot,
  type InvoiceEntity,
  type InvoiceLineEntity,
} from './entities';

/** API shape of an invoice line. */
export interface InvoiceLineView {
  id: string | null;
  type: 'standard_line';
  name: string;
  feature_key: string | null;
  rate_card_key: string;
  kind: 'usage' | 'flat';
  quantity: string;
  unit_price: string | null;
  service_period: { from: string; to: string };
  totals: BillingTotals;
  price: Price;
  rate_card: { price: Price; feature_key?: string };
  subscription?: { id: string; phase: { key: string } };
  detail: Record<string, unknown>;
}

/** API shape of an invoice (`BillingInvoiceStandard`, reduced); previews have id/number null. */
export interface InvoiceView {
  id: string | null;
  number: string | null;
  type: 'standard';
  status: string;
  currency: string;
  customer: { id: string; key: string; name: string };
  subscription: { id: string } | null;
  service_period: { from: string; to: string };
  issued_at: string | null;
  totals: BillingTotals;
  lines?: InvoiceLineView[];
  created_at: string | null;
  updated_at: string | null;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

function totalsView(t: {
  amount: string;
  charges: string;
  discounts: string;
  taxes: string;
  credits: string;
  total: string;
  currency: string;
}): BillingTotals {
  const m = (v: string) => roundMoney(v, t.currency);
  return {
    amount: m(t.amount),
    taxes_total: m(t.taxes),
    taxes_inclusive_total: m('0'),
    taxes_exclusive_total: m(t.taxes),
    charges_total: m(t.charges),
    discounts_total: m(t.discounts),
    credits_total: m(t.credits),
    total: m(t.total),
  };
}

/** A decimal string as stored (`numeric`), without trailing zeros (`"3"`, `"0.5"`). */
const plain = (v: string) => new Decimal(v).toFixed();

function lineView(l: InvoiceLineEntity, currency: string, subscriptionId: string | null): InvoiceLineView {
  const detail = l.detail ?? {};
  const phaseKey = typeof detail.phase_key === 'string' ? detail.phase_key : undefined;
  const price = l.price as Price;
  return {
    id: l.id,
    type: 'standard_line',
    name: l.name,
    feature_key: l.featureKey ?? null,
    rate_card_key: l.rateCardKey,
    kind: l.kind as 'usage' | 'flat',
    quantity: plain(l.quantity),
    unit_price: l.unitPrice == null ? null : plain(l.unitPrice),
    service_period: { from: iso(l.servicePeriodFrom), to: iso(l.servicePeriodTo) },
    totals: totalsView({
      amount: l.amount,
      charges: '0',
      discounts: '0',
      taxes: '0',
      credits: '0',
      total: l.total,
      currency,
    }),
    price,
    rate_card: { price, ...(l.featureKey ? { feature_key: l.featureKey } : {}) },
    ...(subscriptionId && phaseKey ? { subscription: { id: subscriptionId, phase: { key: phaseKey } } } : {}),
    detail,
  };
}

export function invoiceView(inv: InvoiceEntity, lines?: InvoiceLineEntity[]): InvoiceView {
  return {
    id: inv.id,
    number: inv.number,
    type: 'standard',
    status: inv.status,
    currency: inv.currency,
    customer: { id: inv.customer.id, key: inv.customer.key, name: inv.customer.name },
    subscription: inv.subscriptionId ? { id: inv.subscriptionId } : null,
    service_period: { from: iso(inv.servicePeriodFrom), to: iso(inv.servicePeriodTo) },
    issued_at: iso(inv.issuedAt),
    totals: totalsView({
      amount: inv.amount,
      charges: inv.chargesTotal,
      discounts: inv.discountsTotal,
      taxes: inv.taxesTotal,
      credits: inv.creditsTotal,
      total: inv.total,
      currency: inv.currency,
    }),
    ...(lines ? { lines: lines.map((l) => lineView(l, inv.currency, inv.subscriptionId ?? null)) } : {}),
    created_at: iso(inv.createdAt),
    updated_at: iso(inv.updatedAt),
  };
}

function composedLineView(l: ComposedLine, subscriptionId: string | null): InvoiceLineView {
  const phaseKey = typeof l.detail.phase_key === 'string' ? l.detail.phase_key : undefined;
  return {
    id: null,
    type: 'standard_line',
    name: l.name,
    feature_key: l.featureKey,
    rate_card_key: l.rateCardKey,
    kind: l.kind,
    quantity: plain(l.quantity),
    unit_price: l.unitPrice === null ? null : plain(l.unitPrice),
    service_period: { from: l.periodFrom, to: l.periodTo },
    totals: l.totals,
    price: l.price,
    rate_card: { price: l.price, ...(l.featureKey ? { feature_key: l.featureKey } : {}) },
    ...(subscriptionId && phaseKey ? { subscription: { id: subscriptionId, phase: { key: phaseKey } } } : {}),
    detail: l.detail,
  };
}

const snapshot = (c: BillingCustomer): CustomerSnapshot => ({
  id: c.id,
  key: c.key,
  name: c.name,
  primary_email: c.primary_email ?? null,
  ...(c.billing_address ? { billing_address: c.billing_address } : {}),
});

interface RefRow {
  id: string;
  number: string;
  total: string;
}

async function findRef(em: EntityManager, invoiceKey: string): Promise<RefRow | undefined> {
  const rows = await em.execute<RefRow[]>(
    'select id, number, total::text as total from invoices where invoice_key = ?',
    [invoiceKey],
  );
  return rows[0];
}

function validateInput(input: IssueInvoiceInput): void {
  if (!input.invoiceKey) throw new RangeError('invoiceKey is required');
  if (!input.arrears && !input.advance)
    throw new RangeError('an invoice needs an arrears or an advance period');
  for (const p of [input.arrears, input.advance]) {
    if (!p) continue;
    for (const d of [p.from, p.to, p.cycleFrom, p.cycleTo])
      if (Number.isNaN(Date.parse(d))) throw new RangeError(`invalid instant: ${d}`);
    if (Date.parse(p.to) < Date.parse(p.from)) throw new RangeError('period ends before it starts');
  }
}

export interface IssueInvoiceOptions {
  /** runs inside the transaction after the insert (tests inject failures there: the number is given back) */
  beforeCommit?: (em: EntityManager) => Promise<void>;
}

/**
 * Issues the invoice for `input` once: a second call with the same `invoiceKey` (retry, replay, concurrent
 * duplicate) returns the stored invoice with `created: false`.
 */
export async function issueInvoice(
  em: EntityManager,
  input: IssueInvoiceInput,
  opts: IssueInvoiceOptions = {},
): Promise<IssuedInvoiceRef> {
  validateInput(input);
  const existing = await findRef(em, input.invoiceKey);
  if (existing)
    return { invoiceId: existing.id, number: existing.number, total: existing.total, created: false };

  const computed = await computeLines(em, input);
  let result: IssuedInvoiceRef;
  try {
    result = await em.transactional(async (tem) => {
      await tem.execute('select pg_advisory_xact_lock(hashtext(?))', [`tally.invoice:${input.invoiceKey}`]);
      const again = await findRef(tem, input.invoiceKey);
      if (again) return { invoiceId: again.id, number: again.number, total: again.total, created: false };
      const ref = await insertInvoice(tem, input, computed);
      await opts.beforeCommit?.(tem);
      return ref;
    });
  } catch (e) {
    // another transaction won the race for this key (cannot happen under the advisory lock; a guard):
    // the unique violation rolled this one back, number included
    const winner = e instanceof UniqueConstraintViolationException && (await findRef(em, input.invoiceKey));
    if (!winner) throw e;
    return { invoiceId: winner.id, number: winner.number, total: winner.total, created: false };
  }
  if (result.created) {
    logger.info(
      {
        invoice_id: result.invoiceId,
        invoice_number: result.number,
        invoice_key: input.invoiceKey,
        subscription_id: input.subscriptionId,
        customer_id: input.customerId,
        service_period: computed.servicePeriod,
        currency: computed.currency,
        total: result.total,
        lines: computed.lines.length,
      },
      'invoice issued',
    );
  }
  return result;
}

/**
 * Inserts the invoice and its lines in ONE statement that also takes the next invoice number from the
 * counter row (`invoice_number_counter`). The row lock that the increment takes is held until the
 * transaction ends, so numbers are handed out in commit order, and a transaction that rolls back (an
 * error, a killed worker or connection) gives its number back: issued numbers are gapless and unique.
 * The lock is taken as late as possible (the lines were computed before the transaction) and held for
 * this one statement and the commit; every issuer takes its key's advisory lock first and the counter
 * second, so there is no lock cycle.
 */
async function insertInvoice(
  em: EntityManager,
  input: IssueInvoiceInput,
  c: ComputedInvoice,
): Promise<IssuedInvoiceRef> {
  const id = newId();
  const now = new Date();
  const params: unknown[] = [
    id,
    input.invoiceKey,
    c.customer.id,
    input.subscriptionId,
    c.currency,
    c.servicePeriod.from,
    c.servicePeriod.to,
    now,
    c.totals.amount,
    c.totals.charges_total,
    c.totals.discounts_total,
    c.totals.taxes_total,
    c.totals.credits_total,
    c.totals.total,
    JSON.stringify(snapshot(c.customer)),
    now,
    now,
  ];
  const tuples = c.lines.map((l, i) => {
    params.push(
      newId(),
      i + 1,
      l.name,
      l.featureKey,
      l.rateCardKey,
      l.kind,
      l.quantity,
      l.unitPrice,
      JSON.stringify(l.price),
      l.periodFrom,
      l.periodTo,
      l.amount,
      l.totals.total,
      JSON.stringify(l.detail),
    );
    return `(?::text, ?::int, ?::text, ?::text, ?::text, ?::text, ?::numeric, ?::numeric, ?::jsonb,
      ?::timestamptz, ?::timestamptz, ?::numeric, ?::numeric, ?::jsonb)`;
  });
  const lines = tuples.length
    ? `, lines as (
        insert into invoice_lines (id, invoice_id, position, name, feature_key, rate_card_key, kind, quantity,
            unit_price, price, service_period_from, service_period_to, amount, total, detail, created_at,
            updated_at)
        select v.id, inv.id, v.position, v.name, v.feature_key, v.rate_card_key, v.kind, v.quantity,
            v.unit_price, v.price, v.service_period_from, v.service_period_to, v.amount, v.total, v.detail,
            inv.created_at, inv.created_at
          from inv, (values ${tuples.join(', ')}) as v (id, position, name, feature_key, rate_card_key, kind,
            quantity, unit_price, price, service_period_from, service_period_to, amount, total, detail)
      )`
    : '';
  const rows = await em.execute<RefRow[]>(
    `with n as (
       update invoice_number_counter set last_value = last_value + 1 where name = 'invoices'
       returning last_value
     ), inv as (
       insert into invoices (id, number, invoice_key, customer_id, subscription_id, currency, status,
           service_period_from, service_period_to, issued_at, amount, charges_total, discounts_total,
           taxes_total, credits_total, total, customer, created_at, updated_at)
       select ?::text, 'INV-' || lpad(n.last_value::text, greatest(6, length(n.last_value::text)), '0'), ?::text, ?::text, ?::text, ?::text,
           'issued', ?::timestamptz, ?::timestamptz, ?::timestamptz, ?::numeric, ?::numeric, ?::numeric,
           ?::numeric, ?::numeric, ?::numeric, ?::jsonb, ?::timestamptz, ?::timestamptz
         from n
       returning id, number, total::text as total, created_at
     )${lines}
     select id, number, total from inv`,
    params,
  );
  const row = rows[0];
  if (!row)
    throw new Error('invoice_number_counter has no row "invoices" (migration m2026120203 not applied?)');
  return { invoiceId: row.id, number: row.number, total: row.total, created: true };
}

/** The invoice with its lines; 404 problem when unknown. */
export async function getInvoice(em: EntityManager, id: string): Promise<InvoiceView> {
  const inv = await em.findOne(Invoice, { id });
  if (!inv) throw notFound('invoice', id);
  const lines = await em.find(InvoiceLine, { invoiceId: id }, { orderBy: { position: 'asc' } });
  return invoiceView(inv, lines);
}

export type InvoiceSortField = 'created_at' | 'issued_at' | 'service_period_start';

export interface InvoiceListQuery {
  /** customer id or key */
  customer?: string;
  /** any of these statuses */
  status?: string[];
  /** none of these statuses */
  statusNot?: string[];
  sort?: { field: InvoiceSortField; desc: boolean };
  page: PageParams;
}

const SORT_PROPS = {
  created_at: 'createdAt',
  issued_at: 'issuedAt',
  service_period_start: 'servicePeriodFrom',
} as const;

/** Invoices without lines, newest last by default (`created_at`, then id). */
export async function listInvoices(em: EntityManager, q: InvoiceListQuery): Promise<Page<InvoiceView>> {
  const where: Record<string, unknown> = {};
  if (q.customer !== undefined) {
    // a live customer's id or key; else the value is taken as the id of a (possibly deleted) customer
    const c = await findCustomer(em, q.customer);
    where.customerId = c ? c.id : q.customer;
  }
  if (q.status || q.statusNot) {
    where.status = { ...(q.status ? { $in: q.status } : {}), ...(q.statusNot ? { $nin: q.statusNot } : {}) };
  }
  const sort = q.sort ?? { field: 'created_at', desc: false };
  const dir = sort.desc ? 'desc' : 'asc';
  const { limit, offset } = pageOffset(q.page);
  const [rows, total] = await em.findAndCount(Invoice, where, {
    orderBy: [{ [SORT_PROPS[sort.field]]: dir }, { id: dir }],
    limit,
    offset,
  });
  return toPage(
    rows.map((r) => invoiceView(r)),
    total,
    q.page,
  );
}

interface SubscriptionRow {
  id: string;
  plan_id: string;
  phase_key: string;
  active_from: Date;
  current_period_start: Date;
  current_period_end: Date;
  next_period_end: Date | null;
}

/**
 * What the customer's active subscriptions would bill if their open periods closed at `now`: usage in
 * [max(current_period_start, subscription start), now), in-arrears flat fees prorated to now when the plan
 * enables pro-rating (else in full), one-time fees not billed yet. One invoice-shaped object over all
 * active subscriptions (`id`/`number` null, status `preview`); nothing is stored.
 */
export async function previewInvoice(
  em: EntityManager,
  customerIdOrKey: string,
  now: Date,
): Promise<InvoiceView> {
  const customer = await getCustomer(em, customerIdOrKey);
  const subs = await em.execute<SubscriptionRow[]>(
    `select id, plan_id, phase_key, active_from, current_period_start, current_period_end, next_period_end
       from subscriptions
      where customer_id = ? and status = 'active' and active_from <= ?
        and current_period_start is not null and current_period_end is not null
        and current_period_start <= ?
      order by active_from, id`,
    [customer.id, now, now],
  );
  const lines: InvoiceLineView[] = [];
  let currency: string | undefined;
  let amount = new Decimal(0);
  let from: Date | undefined;
  for (const s of subs) {
    // a plain rollover is recorded with the invoice, after the collection period: roll forward meanwhile
    const { from: cps, to: cpe } = currentPeriodOf(s, now)!;
    const to = now < cpe ? now : cpe;
    const computed = await computeLines(
      em,
      {
        invoiceKey: `preview:${s.id}`,
        subscriptionId: s.id,
        customerId: customer.id,
        subscriptionStart: new Date(s.active_from).toISOString(),
        arrears: {
          planId: s.plan_id,
          phaseKey: s.phase_key,
          from: cps.toISOString(),
          to: to.toISOString(),
          cycleFrom: cps.toISOString(),
          cycleTo: cpe.toISOString(),
        },
      },
      { customer },
    );
    if (currency && currency !== computed.currency)
      throw conflict(
        `the customer's active subscriptions bill in several currencies (${currency}, ${computed.currency})`,
      );
    currency = computed.currency;
    // the period is not really cut: an in-advance fee already invoiced is not credited in a preview
    const shown = computed.lines.filter((l) => !l.detail.credit_for_unused);
    for (const l of shown) amount = amount.plus(l.amount);
    if (!from || cps < from) from = cps;
    lines.push(...shown.map((l) => composedLineView(l, s.id)));
  }
  const cur = currency ?? customer.currency ?? 'USD';
  return {
    id: null,
    number: null,
    type: 'standard',
    status: 'preview',
    currency: cur,
    customer: { id: customer.id, key: customer.key, name: customer.name },
    subscription: subs.length === 1 ? { id: subs[0].id } : null,
    service_period: { from: (from ?? now).toISOString(), to: now.toISOString() },
    issued_at: null,
    totals: totalsView({
      amount: amount.toFixed(),
      charges: '0',
      discounts: '0',
      taxes: '0',
      credits: '0',
      total: amount.toFixed(),
      currency: cur,
    }),
    lines,
    created_at: null,
    updated_at: null,
  };
}

/** Service bound to the app's ORM (each call on its own EntityManager fork). */
export function createBillingService(deps: Pick<AppDeps, 'orm'>) {
  const em = () => deps.orm.em.fork();
  return {
    issueInvoice: (input: IssueInvoiceInput) => issueInvoice(em(), input),
    getInvoice: (id: string) => getInvoice(em(), id),
    listInvoices: (q: InvoiceListQuery) => listInvoices(em(), q),
    previewInvoice: (customerIdOrKey: string, now: Date = new Date()) =>
      previewInvoice(em(), customerIdOrKey, now),
  };
}

export type BillingService = ReturnType<typeof createBillingService>;
