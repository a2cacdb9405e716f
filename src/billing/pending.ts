/**
 * Consolidation (OpenMeter's gathering invoice): the customer's pending lines and their gathering onto one
 * draft invoice per currency.
 *
 * - `handOverPeriod`: a subscription's billed period (arrears and/or in-advance fees) becomes a pending line,
 *   once per key (`<subscription>:<period start>`): a retried or replayed hand-over finds it. Nothing is
 *   rated then: quantities are computed when the invoice is created (and re-rated while it is a draft).
 * - `createCharge` / `deleteCharge`: a one-off flat charge is a pending line keyed by its id.
 * - `gatherPendingLines`: in ONE transaction under the customer's lock, every line due by `asOf` (its
 *   `collect_at`; with `invoiceNow`, its `invoice_at`) goes, per currency, onto one draft, together with the
 *   charges of that currency due by then (a charge rides on the next invoice). The draft's key is its first
 *   line's key (a line is on one invoice only, so the key is unique and a retry finds the draft: the lines it
 *   took are no longer pending). A crash before the commit leaves everything pending; after it, the lines
 *   are on their draft.
 */
import Decimal from 'decimal.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { roundMoney } from '../catalog/pricing';
import { getPlan } from '../catalog/service';
import { getCustomer } from '../customers/service';
import { Sql, exec, isUniqueViolation } from '../db/sql';
import { conflict, invalid, notFound } from '../lib/errors';
import { newId } from '../lib/ids';
import { orderBy, whereFilter, type FieldFilter, type SortKey } from '../lib/list-query';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { logger } from '../lib/logger';
import { instant } from '../lib/time';
import type { InvoicingSnapshot } from '../profiles/types';
import { billedCustomer, computeLines, oneTimeFeesBilled } from './calculator';
import { amountAfterProration } from './charge-proration';
import { collectionInstant } from './collection';
import { oneTimeKey, totalsOf, type ComposedLine } from './compose';
import type { IssueInvoiceInput } from './contract';
import { draftRef, insertDraft, notifyInvoice, rowById, validateInput, type DraftLine } from './invoices';
import type { DraftRef, HandOverRef } from './contract';

export type SnapshotOf = (em: EntityManager, customerId: string) => Promise<InvoicingSnapshot>;

interface PendingRow {
  id: string;
  line_key: string;
  customer_id: string;
  kind: 'subscription' | 'charge';
  currency: string;
  subscription_id: string | null;
  invoice_at: Date;
  collect_at: Date;
  source: IssueInvoiceInput | null;
  name: string | null;
  description: string | null;
  amount: string | null;
  service_period_from: Date | null;
  service_period_to: Date | null;
  invoice_id: string | null;
  labels: Record<string, string> | null;
  charge_terms: ChargeTerms | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const PENDING_COLUMNS = `id, line_key, customer_id, kind, currency, subscription_id, invoice_at, collect_at,
  source, name, description, amount::text as amount, service_period_from, service_period_to, invoice_id,
  labels, charge_terms, deleted_at, created_at, updated_at`;
const SELECT_PENDING = `select ${PENDING_COLUMNS} from billing_pending_lines`;

async function pendingByKey(em: EntityManager, key: string): Promise<PendingRow | undefined> {
  return (await exec<PendingRow>(em, new Sql().add(`${SELECT_PENDING} where line_key = ?`, key)))[0];
}

/** The currency a billed period is invoiced in (its plan's). */
async function currencyOf(em: EntityManager, input: IssueInvoiceInput): Promise<string> {
  const p = input.arrears ?? input.advance!;
  return (await getPlan(em, p.planId)).currency;
}

/**
 * Hands a subscription's billed period over as a pending line, once per `invoiceKey`. `invoice_at`: the end
 * of the closed period (or the start of the period whose in-advance fees it bills).
 */
export async function handOverPeriod(
  em: EntityManager,
  input: IssueInvoiceInput,
  snapshot: InvoicingSnapshot,
  now: Date,
): Promise<HandOverRef> {
  validateInput(input);
  const asLine = (r: PendingRow, created: boolean): HandOverRef => ({
    lineKey: r.line_key,
    customerId: r.customer_id,
    created,
    collectAt: instant(r.collect_at),
  });
  const found = await pendingByKey(em, input.invoiceKey);
  if (found) return asLine(found, false);
  const customer = await billedCustomer(em, input.customerId);
  const invoiceAt = new Date(input.arrears?.to ?? input.advance!.from);
  const collectAt = collectionInstant(invoiceAt, snapshot.workflow.collection);
  const rows = await exec<PendingRow>(
    em,
    new Sql().add(
      `insert into billing_pending_lines (id, line_key, customer_id, kind, currency, subscription_id,
         invoice_at, collect_at, source, created_at, updated_at)
       values (?, ?, ?, 'subscription', ?, ?, ?, ?, ?::jsonb, ?, ?)
       on conflict (line_key) do nothing returning id`,
      newId(),
      input.invoiceKey,
      customer.id,
      await currencyOf(em, input),
      input.subscriptionId,
      invoiceAt,
      collectAt,
      JSON.stringify({ ...input, customerId: customer.id }),
      now,
      now,
    ),
  );
  const row = (await pendingByKey(em, input.invoiceKey))!;
  return asLine(row, rows.length > 0);
}

// ---------------------------------------------------------------------------------------------------
// one-off charges

/** An ISO period as a charge stores and shows it */
export interface IsoPeriod {
  from: string;
  to: string;
}

/**
 * OpenMeter's charge fields that Tally stores and shows (issue 13). It acts only on `proration_configuration`
 * `prorate_prices` with a `full_service_period` (the service period's share is billed: `charge-proration.ts`);
 * otherwise a charge is invoiced in full, at its `invoice_at`, without credits, discounts or tax.
 */
export interface ChargeTerms {
  settlement_mode?: 'credit_then_invoice' | 'credit_only';
  payment_term?: 'in_advance' | 'in_arrears';
  proration_configuration?: { mode: 'no_proration' | 'prorate_prices' };
  tax_config?: unknown;
  discounts?: { percentage?: number };
  unique_reference_id?: string;
  feature_id?: string;
  full_service_period?: IsoPeriod;
  billing_period?: IsoPeriod;
}

export interface ChargeInput {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  /** decimal string, > 0 */
  amount: string;
  currency?: string;
  service_period?: { from: Date; to: Date };
  invoice_at?: Date;
  terms?: ChargeTerms;
}

export const CHARGE_STATUSES = ['created', 'active', 'final', 'deleted'] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

/** OpenMeter's `CurrencyAmount` */
export interface CurrencyAmount {
  amount: string;
  currency: string;
}

/**
 * A one-off charge as the API shows it: OpenMeter's `BillingChargeFlatFee` (every field it requires), plus
 * Tally's `collect_at`, `amount_before_proration` and `invoice`. The stored terms are shown as given; absent
 * ones with what Tally does (`credit_then_invoice` without credits, `no_proration`, the service period).
 */
export interface ChargeView {
  id: string;
  type: 'flat_fee';
  name: string;
  description?: string;
  labels: Record<string, string>;
  customer: { id: string };
  lifecycle_controller: 'system';
  currency: string;
  /** `created`: pending; `final`: on an invoice; `deleted` (`active` is never shown) */
  status: ChargeStatus;
  invoice_at: string;
  collect_at: string;
  service_period: IsoPeriod;
  full_service_period: IsoPeriod;
  billing_period: IsoPeriod;
  settlement_mode: NonNullable<ChargeTerms['settlement_mode']>;
  payment_term: NonNullable<ChargeTerms['payment_term']>;
  proration_configuration: NonNullable<ChargeTerms['proration_configuration']>;
  tax_config?: unknown;
  discounts?: ChargeTerms['discounts'];
  unique_reference_id?: string;
  feature_id?: string;
  amount_before_proration: CurrencyAmount;
  amount_after_proration: CurrencyAmount;
  price: { type: 'flat'; amount: string };
  invoice?: { id: string };
  created_at: string;
  updated_at: string;
  deleted_at?: string;
}

function chargeView(r: PendingRow): ChargeView {
  const amount = new Decimal(r.amount!).toFixed();
  const t = r.charge_terms ?? {};
  const servicePeriod = {
    from: instant(r.service_period_from ?? r.invoice_at),
    to: instant(r.service_period_to ?? r.invoice_at),
  };
  const money = { amount, currency: r.currency };
  return {
    id: r.line_key,
    type: 'flat_fee',
    name: r.name ?? '',
    ...(r.description ? { description: r.description } : {}),
    labels: r.labels ?? {},
    customer: { id: r.customer_id },
    lifecycle_controller: 'system',
    currency: r.currency,
    status: r.deleted_at ? 'deleted' : r.invoice_id ? 'final' : 'created',
    invoice_at: instant(r.invoice_at),
    collect_at: instant(r.collect_at),
    service_period: servicePeriod,
    full_service_period: t.full_service_period ?? servicePeriod,
    billing_period: t.billing_period ?? servicePeriod,
    settlement_mode: t.settlement_mode ?? 'credit_then_invoice',
    // as given; else by when it is invoiced: before its service period ends (in advance) or after
    payment_term:
      t.payment_term ??
      (Date.parse(instant(r.invoice_at)) < Date.parse(servicePeriod.to) ? 'in_advance' : 'in_arrears'),
    proration_configuration: t.proration_configuration ?? { mode: 'no_proration' },
    ...(t.tax_config !== undefined ? { tax_config: t.tax_config } : {}),
    ...(t.discounts !== undefined ? { discounts: t.discounts } : {}),
    ...(t.unique_reference_id !== undefined ? { unique_reference_id: t.unique_reference_id } : {}),
    ...(t.feature_id !== undefined ? { feature_id: t.feature_id } : {}),
    amount_before_proration: money,
    amount_after_proration: { amount: billedAmount(r), currency: r.currency },
    price: { type: 'flat', amount },
    ...(r.invoice_id ? { invoice: { id: r.invoice_id } } : {}),
    created_at: instant(r.created_at),
    updated_at: instant(r.updated_at),
    ...(r.deleted_at ? { deleted_at: instant(r.deleted_at) } : {}),
  };
}

/**
 * Records a one-off charge of a live customer (a deleted one: 404) as a pending line. `invoice_at`: as
 * given, else its service period's end, else now. `then` runs inside the transaction (the caller signals
 * the customer's collection there: a failure leaves no charge behind).
 */
export async function createCharge(
  em: EntityManager,
  customerRef: string,
  input: ChargeInput,
  snapshotOf: SnapshotOf,
  now: Date,
  then: (c: ChargeView) => Promise<void>,
): Promise<ChargeView> {
  const customer = await getCustomer(em, customerRef);
  const currency = input.currency ?? customer.currency;
  if (!currency)
    throw invalid('the customer has no currency: the charge needs one', [
      { field: 'body.currency', reason: 'required' },
    ]);
  const snapshot = await snapshotOf(em, customer.id);
  const invoiceAt = input.invoice_at ?? input.service_period?.to ?? now;
  const collectAt = collectionInstant(invoiceAt, snapshot.workflow.collection);
  const id = newId();
  const terms = input.terms && Object.keys(input.terms).length ? input.terms : null;
  const ref = terms?.unique_reference_id;
  const taken = async (e: EntityManager) =>
    ref === undefined
      ? undefined
      : (
          await exec<{ line_key: string }>(
            e,
            new Sql().add(
              `select line_key from billing_pending_lines where kind = 'charge' and deleted_at is null
                 and charge_terms->>'unique_reference_id' = ?`,
              ref,
            ),
          )
        )[0]?.line_key;
  const refused = (chargeId: string) =>
    conflict(`a charge with unique_reference_id ${ref} exists already: ${chargeId}`, {
      charge_id: chargeId,
      invalid_parameters: [
        {
          field: 'body.unique_reference_id',
          rule: 'invalid',
          reason: `charge ${chargeId} has it`,
          source: 'body',
        },
      ],
    });
  const existing = await taken(em);
  if (existing) throw refused(existing);
  return insertCharge().catch(async (e: unknown) => {
    // a concurrent request with the same reference won the unique index
    if (ref !== undefined && isUniqueViolation(e)) {
      const winner = await taken(em);
      if (winner) throw refused(winner);
    }
    throw e;
  });

  function insertCharge(): Promise<ChargeView> {
    return em.transactional(async (tem) => {
      await exec(
        tem,
        new Sql().add(
          `insert into billing_pending_lines (id, line_key, customer_id, kind, currency, invoice_at, collect_at,
           name, description, amount, service_period_from, service_period_to, labels, charge_terms,
           created_at, updated_at)
         values (?, ?, ?, 'charge', ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?)`,
          id,
          id,
          customer.id,
          currency,
          invoiceAt,
          collectAt,
          input.name,
          input.description ?? null,
          new Decimal(input.amount).toFixed(),
          input.service_period?.from ?? null,
          input.service_period?.to ?? null,
          JSON.stringify(input.labels ?? {}),
          terms ? JSON.stringify(terms) : null,
          now,
          now,
        ),
      );
      const view = chargeView((await pendingByKey(tem, id))!);
      await then(view);
      return view;
    });
  }
}

async function chargeRow(em: EntityManager, customerRef: string, id: string): Promise<PendingRow> {
  const customer = await billedCustomer(em, customerRef);
  const r = await pendingByKey(em, id);
  if (!r || r.kind !== 'charge' || r.customer_id !== customer.id) throw notFound('charge', id);
  return r;
}

export async function getCharge(em: EntityManager, customerRef: string, id: string): Promise<ChargeView> {
  return chargeView(await chargeRow(em, customerRef, id));
}

export const CHARGE_SORT_FIELDS = ['id', 'created_at', 'service_period.from', 'billing_period.from'] as const;
export type ChargeSortField = (typeof CHARGE_SORT_FIELDS)[number];

export interface ChargeListQuery {
  page: PageParams;
  /** OpenMeter's StringFieldFilterExact on the status; absent: every status but `deleted` */
  status?: FieldFilter;
  /** absent: `created_at` ascending (OpenMeter's default); the id breaks ties */
  sort?: SortKey<ChargeSortField>[];
}

/** a charge's status in SQL, as `chargeView` derives it */
const STATUS_SQL = `(case when deleted_at is not null then 'deleted' when invoice_id is not null then 'final'
  else 'created' end)`;
const SORT_COLUMNS: Record<ChargeSortField, string> = {
  id: 'line_key',
  created_at: 'created_at',
  'service_period.from': 'coalesce(service_period_from, invoice_at)',
  'billing_period.from': `coalesce((charge_terms #>> '{billing_period,from}')::timestamptz, service_period_from,
    invoice_at)`,
};

/** A page of the customer's charges (OpenMeter's `ChargePagePaginatedResponse`). */
export async function listCharges(
  em: EntityManager,
  customerRef: string,
  query: ChargeListQuery,
): Promise<Page<ChargeView>> {
  const customer = await billedCustomer(em, customerRef);
  const q = new Sql().add(
    `select ${PENDING_COLUMNS}, count(*) over () as total from billing_pending_lines
      where customer_id = ? and kind = 'charge' and `,
    customer.id,
  );
  if (query.status) whereFilter(q, STATUS_SQL, query.status);
  else q.add(`deleted_at is null`);
  q.add(orderBy(query.sort, SORT_COLUMNS, [{ field: 'created_at', desc: false }], 'line_key'));
  const { limit, offset } = pageOffset(query.page);
  q.add(' limit ? offset ?', limit, offset);
  const rows = await exec<PendingRow & { total: string }>(em, q);
  const total = rows.length ? Number(rows[0].total) : await countCharges(em, customer.id, query);
  return toPage(rows.map(chargeView), total, query.page);
}

/** the total when the page is past the end (no row to carry it) */
async function countCharges(em: EntityManager, customerId: string, query: ChargeListQuery): Promise<number> {
  const q = new Sql().add(
    `select count(*)::int as n from billing_pending_lines where customer_id = ? and kind = 'charge' and `,
    customerId,
  );
  if (query.status) whereFilter(q, STATUS_SQL, query.status);
  else q.add(`deleted_at is null`);
  return (await exec<{ n: number }>(em, q))[0].n;
}

/** Deletes a pending charge; one already on an invoice is refused (409): edit or void the invoice. */
export async function deleteCharge(
  em: EntityManager,
  customerRef: string,
  id: string,
  now: Date,
): Promise<void> {
  const r = await chargeRow(em, customerRef, id);
  if (r.deleted_at) return;
  const rows = await exec<{ id: string }>(
    em,
    new Sql().add(
      `update billing_pending_lines set deleted_at = ?, updated_at = ?
        where id = ? and invoice_id is null and deleted_at is null returning id`,
      now,
      now,
      r.id,
    ),
  );
  if (!rows.length) {
    const again = (await pendingByKey(em, id))!;
    if (again.invoice_id)
      throw conflict(`charge ${id} is on invoice ${again.invoice_id} already: it cannot be deleted`);
  }
}

// ---------------------------------------------------------------------------------------------------
// gathering

export interface GatherOptions {
  /** invoice now: lines due by their `invoice_at` (ignoring the collection interval) */
  invoiceNow?: boolean;
}

export interface GatherResult {
  /** the drafts created now, one per currency */
  drafts: DraftRef[];
  /** ISO: when the next line still pending is collected, or null */
  nextCollectAt: string | null;
}

/** What a charge bills: its amount, prorated by its service period when it asks (`charge-proration.ts`). */
function billedAmount(r: PendingRow): string {
  const t = r.charge_terms ?? {};
  return amountAfterProration(new Decimal(r.amount!).toFixed(), r.currency, t.proration_configuration?.mode, {
    service: {
      from: instant(r.service_period_from ?? r.invoice_at),
      to: instant(r.service_period_to ?? r.invoice_at),
    },
    ...(t.full_service_period ? { full: t.full_service_period } : {}),
  });
}

function chargeLine(r: PendingRow): DraftLine {
  const billed = billedAmount(r);
  const amount = roundMoney(billed, r.currency);
  const from = r.service_period_from ?? r.invoice_at;
  const to = r.service_period_to ?? r.invoice_at;
  return {
    name: r.name ?? 'Charge',
    featureKey: null,
    rateCardKey: 'charge',
    kind: 'flat',
    quantity: '1',
    unitPrice: amount,
    price: { type: 'flat', amount: billed },
    periodFrom: instant(from),
    periodTo: instant(to),
    amount,
    totals: totalsOf([amount], r.currency),
    detail: { charge_id: r.line_key, ...(r.description ? { description: r.description } : {}) },
    sourceKey: r.line_key,
  };
}

/** The one-time fee key of a composed line, when it is one. */
const oneTimeOf = (l: ComposedLine): string | undefined =>
  l.detail.one_time === true
    ? oneTimeKey(String(l.detail.plan_key ?? l.detail.plan_id), String(l.detail.phase_key), l.rateCardKey)
    : undefined;

/** Inserts the draft for one currency's lines (inside the gathering transaction). */
async function draftFor(
  em: EntityManager,
  customerId: string,
  group: PendingRow[],
  snapshot: InvoicingSnapshot,
  now: Date,
): Promise<string> {
  const customer = await billedCustomer(em, customerId);
  const lines: DraftLine[] = [];
  const gathered: IssueInvoiceInput[] = [];
  const billedOnce = new Map<string, Set<string>>();
  // the union of the billed periods (a period billing nothing still counts: a free trial month)
  const periods: { from: string; to: string }[] = [];
  for (const r of group) {
    if (r.kind === 'charge') {
      const l = chargeLine(r);
      lines.push(l);
      periods.push({ from: l.periodFrom, to: l.periodTo });
      continue;
    }
    const src = r.source!;
    let billed = billedOnce.get(src.subscriptionId);
    if (!billed) {
      billed = await oneTimeFeesBilled(em, src.subscriptionId);
      billedOnce.set(src.subscriptionId, billed);
    }
    const c = await computeLines(em, src, { customer, oneTimeBilled: billed });
    periods.push(c.servicePeriod);
    for (const l of c.lines) {
      const k = oneTimeOf(l);
      if (k) billed.add(k); // two periods of one subscription on one invoice: a one-time fee once
      lines.push({ ...l, sourceKey: r.line_key, subscriptionId: src.subscriptionId });
    }
    gathered.push(src);
  }
  const currency = group[0].currency;
  const subs = [...new Set(group.map((r) => r.subscription_id).filter((x): x is string => !!x))];
  const totals = totalsOf(
    lines.map((l) => l.amount),
    currency,
  );
  const servicePeriod = {
    from: new Date(Math.min(...periods.map((p) => Date.parse(p.from)))).toISOString(),
    to: new Date(Math.max(...periods.map((p) => Date.parse(p.to)))).toISOString(),
  };
  return insertDraft(
    em,
    {
      invoiceKey: group[0].line_key,
      subscriptionId: subs.length === 1 ? subs[0] : null,
      source: { gathered },
    },
    { currency, lines, totals, servicePeriod, customer },
    snapshot,
    now,
  );
}

/** The customer's draft invoices holding gathered lines (their workflows are started, once, by id). */
export async function gatheredDrafts(em: EntityManager, customerId: string): Promise<DraftRef[]> {
  const rows = await exec<{ invoice_id: string }>(
    em,
    new Sql().add(
      `select distinct p.invoice_id from billing_pending_lines p join invoices i on i.id = p.invoice_id
        where p.customer_id = ? and i.status = 'draft'`,
      customerId,
    ),
  );
  return Promise.all(rows.map(async (r) => draftRef(await rowById(em, r.invoice_id), false)));
}

/** When the customer's next pending line is collected (ISO), or null. */
export async function nextCollectAt(em: EntityManager, customerId: string): Promise<string | null> {
  const rows = await exec<{ at: Date | null }>(
    em,
    new Sql().add(
      `select min(collect_at) as at from billing_pending_lines
        where customer_id = ? and invoice_id is null and deleted_at is null`,
      customerId,
    ),
  );
  return rows[0]?.at ? instant(rows[0].at) : null;
}

/** Gathers the customer's lines due by `asOf` onto one draft per currency (see the file's comment). */
export async function gatherPendingLines(
  em: EntityManager,
  customerId: string,
  asOf: Date,
  snapshotOf: SnapshotOf,
  now: Date,
  opts: GatherOptions = {},
): Promise<GatherResult> {
  const ids = await em.transactional(async (tem) => {
    await tem.execute('select pg_advisory_xact_lock(hashtext(?))', [`tally.gather:${customerId}`]);
    const due = await exec<PendingRow>(
      tem,
      new Sql().add(
        `${SELECT_PENDING} where customer_id = ? and invoice_id is null and deleted_at is null
           and (${opts.invoiceNow ? 'invoice_at' : 'collect_at'} <= ? or (kind = 'charge' and invoice_at <= ?))
         order by invoice_at, line_key for update`,
        customerId,
        asOf,
        asOf,
      ),
    );
    const byCurrency = new Map<string, PendingRow[]>();
    for (const r of due) {
      const g = byCurrency.get(r.currency) ?? [];
      g.push(r);
      byCurrency.set(r.currency, g);
    }
    const out: string[] = [];
    let snapshot: InvoicingSnapshot | undefined;
    for (const [, group] of [...byCurrency].sort(([a], [b]) => a.localeCompare(b))) {
      // a charge alone waits for its own collection instant; with other lines due it rides along
      const collectNow = group.some(
        (r) => new Date(opts.invoiceNow ? r.invoice_at : r.collect_at).getTime() <= asOf.getTime(),
      );
      if (!collectNow) continue;
      snapshot ??= await snapshotOf(tem, customerId);
      const id = await draftFor(tem, customerId, group, snapshot, now);
      await notifyInvoice(tem, 'invoice.created', id); // notifications (issue 12)
      await exec(
        tem,
        new Sql()
          .add('update billing_pending_lines set invoice_id = ?, updated_at = ? where id in ', id, now)
          .list(group.map((r) => r.id)),
      );
      out.push(id);
    }
    return out;
  });
  const drafts = await Promise.all(ids.map(async (id) => draftRef(await rowById(em, id), true)));
  for (const d of drafts)
    logger.info(
      { invoice_id: d.invoiceId, draft_number: d.draftNumber, customer_id: customerId },
      'pending lines gathered onto a draft invoice',
    );
  return { drafts, nextCollectAt: await nextCollectAt(em, customerId) };
}

/**
 * The customer's pending lines rated as of now (the preview): each subscription line's billed period with
 * today's events, each charge as it will be billed. Nothing is stored.
 */
export async function pendingLinesOf(
  em: EntityManager,
  customerId: string,
  customer?: Awaited<ReturnType<typeof billedCustomer>>,
): Promise<{ currency: string; lines: DraftLine[] }[]> {
  const rows = await exec<PendingRow>(
    em,
    new Sql().add(
      `${SELECT_PENDING} where customer_id = ? and invoice_id is null and deleted_at is null
        order by invoice_at, line_key`,
      customerId,
    ),
  );
  const out: { currency: string; lines: DraftLine[] }[] = [];
  for (const r of rows) {
    if (r.kind === 'charge') {
      out.push({ currency: r.currency, lines: [chargeLine(r)] });
      continue;
    }
    const c = await computeLines(em, r.source!, customer ? { customer } : {});
    out.push({
      currency: r.currency,
      lines: c.lines.map((l) => ({ ...l, sourceKey: r.line_key, subscriptionId: r.subscription_id! })),
    });
  }
  return out;
}
