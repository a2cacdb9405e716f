/**
 * Billing's write side: an invoice from its creation as a draft (the subscription's hand-over) to paid. The
 * invoice workflow calls these through activities; each one is idempotent (absolute writes, checks before
 * acting), so a retried or replayed activity never creates, numbers, hands over or charges twice.
 *
 * - `createDraftInvoice`: once per `invoice_key` (advisory lock + unique key), with the customer's settings
 *   snapshot and a draft number.
 * - `issueDraftInvoice`: re-rates the usage lines, then in ONE transaction takes the next number of the
 *   invoice's profile from its counter row (held until commit: numbers are gapless and unique, a rollback
 *   gives its number back), freezes the quantities and marks the invoice issued. Issuing an issued invoice
 *   returns it as it is.
 * - `handOverToPayment`: the sandbox payment app; the hand-over is recorded in the row
 *   (`payment_handed_over_at`) in the same transaction as its effect, and skipped when already recorded.
 * - `issueInvoice`: draft and issue in one transaction (programmatic issuing; the number tests use it).
 */
import Decimal from 'decimal.js';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { roundMoney } from '../catalog/pricing';
import { addDuration } from '../catalog/periods';
import { Sql, exec } from '../db/sql';
import { conflict, invalid, notFound } from '../lib/errors';
import { newId } from '../lib/ids';
import { instant } from '../lib/time';
import { logger } from '../lib/logger';
import type { InvoicingSnapshot, Supplier } from '../profiles/types';
import type { Price } from '../catalog/types';
import { findFeatures } from '../catalog/service';
import { subjectWindows } from '../customers/service';
import { computeLines, type ComputedInvoice } from './calculator';
import { detailedLinesOf, type ComposedLine } from './compose';
import type {
  DraftEdit,
  DraftEditResult,
  DraftRef,
  DraftReplace,
  ManualLinesEdit,
  HandOverResult,
  IssueInvoiceInput,
  IssuedInvoiceRef,
  IssuedRef,
  RecordedStatus,
} from './contract';
import type { CustomerSnapshot, DetailedLine } from './entities';
import type { HandOverStatus, InvoiceStatus, LifecycleState } from './lifecycle';
import type { BillingCustomer } from '../customers/service';
import { recordEvent } from '../notifications/outbox';
import { Invoice, InvoiceLine } from './entities';
import {
  mergedCustomer,
  mergedSupplier,
  mergedWorkflow,
  planLines,
  priceLine,
  storedLines,
  validateReplace,
  type PlannedLine,
} from './invoice-update';
import { lifecycleOf } from './invoice-state';
import { invoiceView } from './views';

// ---- notifications (issue 12): invoice.created / invoice.updated, recorded in the write's transaction ----
/** Records `type` with the invoice's API view as it is now in `em`'s transaction. */
export async function notifyInvoice(
  em: EntityManager,
  type: 'invoice.created' | 'invoice.updated',
  id: string,
): Promise<void> {
  // the view is built only when a rule wants the event
  await recordEvent(em, type, async () => {
    const inv = await em.findOneOrFail(Invoice, { id }, { refresh: true });
    const lines = await em.find(
      InvoiceLine,
      { invoiceId: id },
      { orderBy: { position: 'asc' }, refresh: true },
    );
    return invoiceView(inv, lines);
  });
}

const snapshotOf = (c: BillingCustomer): CustomerSnapshot => ({
  id: c.id,
  key: c.key,
  name: c.name,
  primary_email: c.primary_email ?? null,
  ...(c.billing_address ? { billing_address: c.billing_address } : {}),
});

export { detailedLinesOf };

const rateCardOf = (l: ComposedLine) => ({
  price: l.price,
  ...(l.featureKey ? { feature_key: l.featureKey } : {}),
});

export function validateInput(input: IssueInvoiceInput): void {
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

interface StoredRow {
  // instants come back from raw SQL as Date or string: read them with `instant`
  id: string;
  status: InvoiceStatus;
  number: string | null;
  draft_number: string | null;
  total: string;
  customer: CustomerSnapshot;
  workflow: InvoicingSnapshot['workflow'] | null;
  draft_until: Date | null;
  failure: { step: string } | null;
  profile_id: string;
  source: IssueInvoiceInput | GatheredSource | null;
  currency: string;
  issued_at: Date | null;
  due_at: Date | null;
  payment_handed_over_at: Date | null;
  apps: InvoicingSnapshot['apps'] | null;
}

const SELECT_ROW = `select id, status, number, draft_number, total::text as total, customer, workflow,
  draft_until, failure, profile_id, source, currency, issued_at, due_at, payment_handed_over_at, apps
  from invoices`;

async function rowByKey(em: EntityManager, key: string): Promise<StoredRow | undefined> {
  return (await exec<StoredRow>(em, new Sql().add(`${SELECT_ROW} where invoice_key = ?`, key)))[0];
}

export async function rowById(em: EntityManager, id: string, lock = false): Promise<StoredRow> {
  const rows = await exec<StoredRow>(
    em,
    new Sql().add(`${SELECT_ROW} where id = ?${lock ? ' for update' : ''}`, id),
  );
  if (!rows[0]) throw notFound('invoice', id);
  return rows[0];
}

// moved to ./invoice-state (a leaf) so that views.ts no longer imports this file (notifications, issue 12)
export { lifecycleOf };

export const draftRef = (r: StoredRow, created: boolean): DraftRef => ({
  invoiceId: r.id,
  created,
  status: r.status,
  lifecycle: lifecycleOf(r),
  draftNumber: r.draft_number,
  customerKey: r.customer.key,
  draftUntil: instant(r.draft_until ?? 0),
  paymentAppId: r.apps?.payment.id ?? '',
});

/**
 * What a gathered invoice was billed from (`invoices.source`): the subscriptions' billed periods, each under
 * its pending line's key, re-rated while it is a draft. Invoices from before consolidation hold one
 * `IssueInvoiceInput` instead.
 */
export interface GatheredSource {
  gathered: IssueInvoiceInput[];
}

/** The billed periods an invoice is re-rated from (either stored shape). */
export function sourcesOf(source: IssueInvoiceInput | GatheredSource | null): IssueInvoiceInput[] {
  if (!source) return [];
  return 'gathered' in source ? source.gathered : [source];
}

/** A line to insert, with the pending line and subscription it came from (consolidation). */
export type DraftLine = ComposedLine & { sourceKey?: string; subscriptionId?: string };

/** What `insertDraft` writes besides the lines: the key, the single subscription (if any), the source. */
export interface DraftMeta {
  invoiceKey: string;
  subscriptionId: string | null;
  source: IssueInvoiceInput | GatheredSource;
}

/** Inserts the draft and its lines (inside the caller's transaction). */
export async function insertDraft(
  em: EntityManager,
  input: DraftMeta | IssueInvoiceInput,
  c: Omit<ComputedInvoice, 'lines'> & { lines: DraftLine[] },
  s: InvoicingSnapshot,
  now: Date,
): Promise<string> {
  const meta: DraftMeta =
    'source' in input
      ? input
      : { invoiceKey: input.invoiceKey, subscriptionId: input.subscriptionId, source: input };
  const id = newId();
  const draftUntil = addDuration(now, s.workflow.invoicing.draft_period);
  await exec(
    em,
    new Sql().add(
      `insert into invoices (id, draft_number, invoice_key, customer_id, subscription_id, currency, status,
         service_period_from, service_period_to, amount, charges_total, discounts_total, taxes_total,
         credits_total, total, customer, profile_id, supplier, workflow, apps, source, draft_until,
         collection_at, created_at, updated_at)
       values (?, 'DRAFT-' || lpad(nextval('invoice_draft_number_seq')::text, 6, '0'), ?, ?, ?, ?, 'draft',
         ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?, ?, ?)`,
      id,
      meta.invoiceKey,
      c.customer.id,
      meta.subscriptionId,
      c.currency,
      c.servicePeriod.from,
      c.servicePeriod.to,
      c.totals.amount,
      c.totals.charges_total,
      c.totals.discounts_total,
      c.totals.taxes_total,
      c.totals.credits_total,
      c.totals.total,
      JSON.stringify(snapshotOf(c.customer)),
      s.profile_id,
      JSON.stringify(s.supplier),
      JSON.stringify(s.workflow),
      JSON.stringify(s.apps),
      JSON.stringify(meta.source),
      draftUntil,
      now,
      now,
      now,
    ),
  );
  if (c.lines.length) {
    const q = new Sql().add(
      `insert into invoice_lines (id, invoice_id, position, name, feature_key, rate_card_key, kind, quantity,
         unit_price, price, service_period_from, service_period_to, amount, total, detail, rate_card,
         detailed_lines, manual, source_key, subscription_id, created_at, updated_at) values `,
    );
    c.lines.forEach((l, i) => {
      q.add(
        `${i ? ', ' : ''}(?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, false, ?, ?, ?, ?)`,
        newId(),
        id,
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
        JSON.stringify(rateCardOf(l)),
        JSON.stringify(detailedLinesOf(l, c.currency)),
        l.sourceKey ?? null,
        l.subscriptionId ?? meta.subscriptionId,
        now,
        now,
      );
    });
    await exec(em, q);
  }
  return id;
}

/** Runs `fn` once per invoice key: the stored row when the key exists, else `fn` under the key's lock. */
async function oncePerKey<T>(
  em: EntityManager,
  key: string,
  existing: (r: StoredRow) => T | Promise<T>,
  fn: (tem: EntityManager) => Promise<T>,
): Promise<T> {
  const found = await rowByKey(em, key);
  if (found) return existing(found);
  try {
    return await em.transactional(async (tem) => {
      await tem.execute('select pg_advisory_xact_lock(hashtext(?))', [`tally.invoice:${key}`]);
      const again = await rowByKey(tem, key);
      if (again) return existing(again);
      return fn(tem);
    });
  } catch (e) {
    // another transaction won the race for this key (cannot happen under the advisory lock; a guard)
    const winner = e instanceof UniqueConstraintViolationException && (await rowByKey(em, key));
    if (!winner) throw e;
    return existing(winner);
  }
}

/**
 * Creates the draft for `input` once: a second call with the same `invoiceKey` (retry, replay, concurrent
 * duplicate) returns the stored invoice with `created: false`, whatever its status now.
 */
export async function createDraftInvoice(
  em: EntityManager,
  input: IssueInvoiceInput,
  snapshot: InvoicingSnapshot,
  now: Date = new Date(),
): Promise<DraftRef> {
  validateInput(input);
  const found = await rowByKey(em, input.invoiceKey);
  if (found) return draftRef(found, false);
  const computed = await computeLines(em, input);
  const ref = await oncePerKey(
    em,
    input.invoiceKey,
    (r) => draftRef(r, false),
    async (tem) => {
      const id = await insertDraft(tem, input, computed, snapshot, now);
      await notifyInvoice(tem, 'invoice.created', id); // notifications (issue 12)
      return draftRef(await rowById(tem, id), true);
    },
  );
  if (ref.created)
    logger.info(
      {
        invoice_id: ref.invoiceId,
        draft_number: ref.draftNumber,
        invoice_key: input.invoiceKey,
        subscription_id: input.subscriptionId,
        total: computed.totals.total,
        lines: computed.lines.length,
      },
      'draft invoice created',
    );
  return ref;
}

interface LineRow {
  id: string;
  source_key: string | null;
  rate_card_key: string;
  kind: string;
  manual: boolean;
  name: string;
  feature_key: string | null;
  price: Price;
  service_period_from: Date;
  service_period_to: Date;
  quantity: string;
  amount: string;
}

/** Recomputes the invoice totals from its lines (no taxes, discounts or credits yet). */
async function retotal(em: EntityManager, id: string, currency: string, now: Date): Promise<void> {
  const rows = await exec<{ sum: string | null }>(
    em,
    new Sql().add('select sum(amount)::text as sum from invoice_lines where invoice_id = ?', id),
  );
  const total = roundMoney(rows[0]?.sum ?? '0', currency);
  await exec(
    em,
    new Sql().add(
      `update invoices set amount = ?, total = ?, updated_at = ? where id = ?`,
      total,
      total,
      now,
      id,
    ),
  );
}

/**
 * Re-rates the draft's usage lines from the events (as at creation: the same billed periods, today's
 * events), inside the caller's transaction; manual and flat lines stay. Returns the lines that changed.
 */
async function rerateLines(em: EntityManager, r: StoredRow, now: Date): Promise<number> {
  const lines = await exec<LineRow>(
    em,
    new Sql().add(
      `select id, source_key, rate_card_key, kind, manual, name, feature_key, price, service_period_from,
         service_period_to, quantity::text as quantity, amount::text as amount
         from invoice_lines where invoice_id = ? order by position`,
      r.id,
    ),
  );
  const sources = sourcesOf(r.source);
  const computedBySource = new Map<string, ComposedLine[]>();
  for (const src of sources) computedBySource.set(src.invoiceKey, (await computeLines(em, src)).lines);
  // lines from before consolidation name no source: their invoice had one
  const single = sources.length === 1 ? sources[0].invoiceKey : undefined;
  let changed = await rerateManualUsage(em, r, lines, now);
  for (const l of lines) {
    if (l.manual || l.kind !== 'usage') continue;
    const computed = computedBySource.get(l.source_key ?? single ?? '') ?? [];
    const c = computed.find(
      (x) =>
        x.kind === 'usage' &&
        x.rateCardKey === l.rate_card_key &&
        Date.parse(x.periodFrom) === new Date(l.service_period_from).getTime(),
    );
    if (!c || (new Decimal(c.quantity).eq(l.quantity) && new Decimal(c.amount).eq(l.amount))) continue;
    changed++;
    await exec(
      em,
      new Sql().add(
        `update invoice_lines set quantity = ?, unit_price = ?, amount = ?, total = ?, detail = ?::jsonb,
           detailed_lines = ?::jsonb, updated_at = ? where id = ?`,
        c.quantity,
        c.unitPrice,
        c.amount,
        c.totals.total,
        JSON.stringify(c.detail),
        JSON.stringify(detailedLinesOf(c, r.currency)),
        now,
        l.id,
      ),
    );
  }
  if (changed) await retotal(em, r.id, r.currency, now);
  return changed;
}

/**
 * Measures again the manual usage lines (added or changed by an update, priced by their rate card) over
 * their service periods; a line whose feature is gone since keeps what it billed. Returns the lines changed.
 */
async function rerateManualUsage(em: EntityManager, r: StoredRow, lines: LineRow[], now: Date) {
  const usage = lines.filter((l) => l.manual && l.kind === 'usage' && l.feature_key);
  if (!usage.length) return 0;
  const features = await findFeatures(em, [...new Set(usage.map((l) => l.feature_key!))]);
  const subjects = await subjectWindows(em, r.customer.id);
  let changed = 0;
  for (const l of usage) {
    const feature = features.get(l.feature_key!);
    if (!feature?.meter) continue;
    const p = await priceLine(
      em,
      { customerId: r.customer.id, currency: r.currency },
      {
        name: l.name,
        price: l.price,
        feature,
        from: instant(l.service_period_from),
        to: instant(l.service_period_to),
      },
      subjects,
    );
    if (new Decimal(p.quantity).eq(l.quantity) && new Decimal(p.amount).eq(l.amount)) continue;
    changed++;
    await exec(
      em,
      new Sql().add(
        `update invoice_lines set quantity = ?, unit_price = ?, amount = ?, total = ?, detail = ?::jsonb,
           detailed_lines = ?::jsonb, updated_at = ? where id = ?`,
        p.quantity,
        p.unitPrice,
        p.amount,
        p.amount,
        JSON.stringify(p.detail),
        JSON.stringify(p.detailed),
        now,
        l.id,
      ),
    );
  }
  return changed;
}

/** Re-rates a draft's usage lines now (`snapshot_quantities`, the end of the draft period); else no-op. */
export async function rerateDraftInvoice(
  em: EntityManager,
  id: string,
  now: Date = new Date(),
): Promise<{ changed: number }> {
  return em.transactional(async (tem) => {
    const r = await rowById(tem, id, true);
    if (r.status !== 'draft') return { changed: 0 };
    const changed = await rerateLines(tem, r, now);
    await exec(
      tem,
      new Sql().add(
        'update invoices set quantity_snapshotted_at = ?, updated_at = ? where id = ?',
        now,
        now,
        id,
      ),
    );
    return { changed };
  });
}

export interface IssueOptions {
  /** runs inside the transaction after the number was taken (tests inject failures there) */
  beforeCommit?: (em: EntityManager) => Promise<void>;
}

/** The issued invoice, with its payment app (whose issuing steps the invoice workflow runs next). */
export type IssuedWithApp = IssuedRef & { paymentAppId: string };

const issuedRef = (r: StoredRow, issued: boolean): IssuedWithApp => ({
  invoiceId: r.id,
  number: r.number!,
  total: r.total,
  issuedAt: instant(r.issued_at!),
  dueAt: r.due_at ? instant(r.due_at) : null,
  issued,
  paymentAppId: r.apps?.payment.id ?? '',
});

/**
 * Numbers, dates and freezes the locked draft (inside the caller's transaction). The number comes from
 * the profile's counter row, incremented in the same statement that marks the invoice issued: the row
 * stays locked from there to the commit, so every issue of the profile waits for it — the statement
 * comes last, and nothing but the notification and the commit follow it (BENCHMARKS.md, billing-day:
 * with the counter taken first, issuing transactions queued on it for 100–200 ms each).
 */
async function issueLocked(em: EntityManager, r: StoredRow, now: Date): Promise<IssuedWithApp> {
  const pay = r.workflow?.payment;
  const dueAt = pay?.collection_method === 'send_invoice' ? addDuration(now, pay.due_after) : null;
  const issue = () =>
    exec<{ number: string; total: string; issued_at: Date; due_at: Date | null }>(
      em,
      new Sql().add(
        `with n as (
           update invoice_number_counter set last_value = last_value + 1 where name = ?
           returning prefix || lpad(last_value::text, greatest(6, length(last_value::text)), '0') as number)
         update invoices i set status = 'issued', number = n.number, issued_at = ?, due_at = ?,
           quantity_snapshotted_at = ?, failure = null, validation_issues = '[]'::jsonb, updated_at = ?
         from n where i.id = ?
         returning i.number, i.total::text as total, i.issued_at, i.due_at`,
        r.profile_id,
        now,
        dueAt,
        now,
        now,
        r.id,
      ),
    );
  let rows = await issue();
  if (!rows.length) {
    // the profile's first invoice: its counter row does not exist yet
    await exec(
      em,
      new Sql().add(
        'insert into invoice_number_counter (name, last_value) values (?, 0) on conflict (name) do nothing',
        r.profile_id,
      ),
    );
    rows = await issue();
  }
  const row = rows[0];
  if (!row) throw new Error(`invoice ${r.id}: no number could be taken for profile ${r.profile_id}`);
  return issuedRef({ ...r, ...row }, true);
}

/**
 * Issues the draft (or the invoice stuck in `issuing`): its usage lines re-rated one last time, then
 * numbered, dated and frozen in one transaction. An invoice issued already is returned as it is; a
 * deleted or voided one is refused.
 */
export async function issueDraftInvoice(
  em: EntityManager,
  id: string,
  now: Date = new Date(),
  opts: IssueOptions = {},
): Promise<IssuedWithApp> {
  const ref = await em.transactional(async (tem) => {
    const r = await rowById(tem, id, true);
    if (r.number) return issuedRef(r, false);
    if (r.status !== 'draft' && r.status !== 'issuing')
      throw conflict(`invoice ${id} is ${r.status}: it cannot be issued`);
    await rerateLines(tem, r, now);
    const issued = await issueLocked(tem, r, now);
    await notifyInvoice(tem, 'invoice.updated', id); // notifications (issue 12)
    await opts.beforeCommit?.(tem);
    return issued;
  });
  if (ref.issued)
    logger.info({ invoice_id: id, invoice_number: ref.number, total: ref.total }, 'invoice issued');
  return ref;
}

/**
 * Drafts and issues the invoice for `input` at once, in one transaction (a rollback leaves neither the
 * draft nor a number). Once per `invoiceKey`: a repeated call returns the stored invoice, `created: false`.
 */
export async function issueInvoice(
  em: EntityManager,
  input: IssueInvoiceInput,
  snapshot: InvoicingSnapshot,
  opts: IssueOptions = {},
): Promise<IssuedInvoiceRef> {
  validateInput(input);
  const asRef = (r: StoredRow): IssuedInvoiceRef => ({
    invoiceId: r.id,
    number: r.number ?? r.draft_number ?? '',
    total: r.total,
    created: false,
  });
  const found = await rowByKey(em, input.invoiceKey);
  if (found) return asRef(found);
  const computed = await computeLines(em, input);
  return oncePerKey(em, input.invoiceKey, asRef, async (tem) => {
    const now = new Date();
    const id = await insertDraft(tem, input, computed, snapshot, now);
    const issued = await issueLocked(tem, await rowById(tem, id, true), now);
    await notifyInvoice(tem, 'invoice.created', id); // notifications (issue 12)
    await opts.beforeCommit?.(tem);
    return { invoiceId: id, number: issued.number, total: issued.total, created: true };
  });
}

/** What the payment app made of the hand-over (src/apps/payment.ts). */
export interface PaymentOutcome {
  status: HandOverStatus;
  /** the payment did not go through (yet): shown in `status_details` until the invoice moves on */
  issue?: PaymentIssue;
}
export interface PaymentIssue {
  state: 'failed' | 'action_required';
  message: string;
}

/** The default outcome (the sandbox app without a label): charged at once, or sent and awaited. */
export const defaultOutcome = (collectionMethod: string | undefined): PaymentOutcome => ({
  status:
    (collectionMethod ?? 'charge_automatically') === 'charge_automatically' ? 'paid' : 'payment_processing',
});

/**
 * Records the hand-over of the issued invoice to its payment app, once, with what the app made of it
 * (`outcome`; default: the sandbox's charged → paid, sent → payment_processing).
 */
export async function handOverToPayment(
  em: EntityManager,
  id: string,
  now: Date = new Date(),
  outcome?: PaymentOutcome,
): Promise<HandOverResult> {
  const res = await em.transactional(async (tem) => {
    const r = await rowById(tem, id, true);
    if (r.payment_handed_over_at || r.status !== 'issued') return { status: r.status, handedOver: false };
    const o = outcome ?? defaultOutcome(r.workflow?.payment.collection_method);
    const status: InvoiceStatus = o.status;
    const charged = status === 'paid';
    await exec(
      tem,
      new Sql().add(
        `update invoices set payment_handed_over_at = ?, status = ?, paid_at = ?, sent_to_customer_at = ?,
           failure = null, payment_issue = ?::jsonb, updated_at = ? where id = ?`,
        now,
        status,
        charged ? now : null,
        charged ? null : now,
        o.issue ? JSON.stringify({ ...o.issue, at: now.toISOString() }) : null,
        now,
        id,
      ),
    );
    await notifyInvoice(tem, 'invoice.updated', id); // notifications (issue 12)
    return { status, handedOver: true };
  });
  if (res.handedOver)
    logger.info({ invoice_id: id, status: res.status }, 'invoice handed to the payment app');
  return res;
}

/** Shows (or clears) a payment that did not go through, while the invoice awaits its payment. */
export async function recordPaymentIssue(
  em: EntityManager,
  id: string,
  issue: PaymentIssue | null,
  now: Date = new Date(),
): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `update invoices set payment_issue = ?::jsonb, updated_at = ?
        where id = ? and status in ('payment_processing', 'overdue')`,
      issue
        ? JSON.stringify({ ...issue, message: issue.message.slice(0, 1000), at: now.toISOString() })
        : null,
      now,
      id,
    ),
  );
}

/** Merges the payment app's ids into the invoice's `external_references` (absolute: a retry writes the same). */
export async function addExternalReferences(
  em: EntityManager,
  id: string,
  refs: Record<string, string>,
): Promise<void> {
  await exec(
    em,
    new Sql().add(
      'update invoices set external_references = external_references || ?::jsonb, updated_at = now() where id = ?',
      JSON.stringify(refs),
      id,
    ),
  );
}

/**
 * A sync hook's report (custom invoicing: the external system synchronized the draft or the issued invoice):
 * its ids merged into `external_references`, with `invoice.updated` when they changed (a retry of the same
 * report changes nothing and notifies nothing).
 */
export async function recordAppSync(
  em: EntityManager,
  id: string,
  step: 'draft' | 'issuing',
  refs: Record<string, string>,
  at: Date,
): Promise<void> {
  // the workflow's instant of the report: the same on a retry, so that the report is recorded once
  refs = { ...refs, [`${step}_synchronized_at`]: instant(at) };
  await em.transactional(async (tem) => {
    const rows = await exec<{ changed: boolean }>(
      tem,
      new Sql().add(
        `update invoices set external_references = external_references || ?::jsonb, updated_at = ?
          where id = ? and not (external_references @> ?::jsonb) returning true as changed`,
        JSON.stringify(refs),
        at,
        id,
        JSON.stringify(refs),
      ),
    );
    if (rows.length) await notifyInvoice(tem, 'invoice.updated', id);
  });
}

/** What a payment app needs of an issued invoice. */
export interface InvoiceForApp {
  id: string;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  customerId: string;
  total: string;
  labels: Record<string, string>;
  externalReferences: Record<string, string>;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  dueAt: string | null;
  paymentAppId: string;
  lines: { id: string; name: string; quantity: string; amount: string }[];
}

export async function invoiceForApp(em: EntityManager, id: string): Promise<InvoiceForApp> {
  const rows = await exec<{
    id: string;
    number: string | null;
    status: InvoiceStatus;
    currency: string;
    customer_id: string;
    total: string;
    labels: Record<string, string> | null;
    external_references: Record<string, string> | null;
    workflow: InvoicingSnapshot['workflow'] | null;
    apps: InvoicingSnapshot['apps'] | null;
    due_at: Date | null;
  }>(
    em,
    new Sql().add(
      `select id, number, status, currency, customer_id, total::text as total, labels, external_references,
         workflow, apps, due_at from invoices where id = ?`,
      id,
    ),
  );
  const r = rows[0];
  if (!r) throw notFound('invoice', id);
  const lines = await exec<{ id: string; name: string; quantity: string; amount: string }>(
    em,
    new Sql().add(
      `select id, name, quantity::text as quantity, amount::text as amount from invoice_lines
        where invoice_id = ? order by position, id`,
      id,
    ),
  );
  return {
    id: r.id,
    number: r.number,
    status: r.status,
    currency: r.currency.trim(),
    customerId: r.customer_id,
    total: r.total,
    labels: r.labels ?? {},
    externalReferences: r.external_references ?? {},
    collectionMethod: r.workflow?.payment.collection_method ?? 'charge_automatically',
    dueAt: r.due_at ? instant(r.due_at) : null,
    paymentAppId: r.apps?.payment.id ?? '',
    lines,
  };
}

const ALLOWED_BEFORE: Record<RecordedStatus, InvoiceStatus[]> = {
  overdue: ['payment_processing'],
  paid: ['payment_processing', 'overdue', 'uncollectible'],
  uncollectible: ['payment_processing', 'overdue'],
  voided: ['issued', 'payment_processing', 'overdue', 'uncollectible'],
  deleted: ['draft', 'issuing'],
};

/**
 * Writes a status the workflow decided. Writing the status the invoice already has is a no-op (a retry);
 * a status the current one does not lead to is refused (the workflow decided from a stale state: a bug).
 */
export async function recordInvoiceStatus(
  em: EntityManager,
  id: string,
  status: RecordedStatus,
  now: Date = new Date(),
): Promise<void> {
  await em.transactional(async (tem) => {
    const r = await rowById(tem, id, true);
    if (r.status === status) return;
    if (!ALLOWED_BEFORE[status].includes(r.status))
      throw conflict(`invoice ${id} is ${r.status}: it cannot become ${status}`);
    const dates: Partial<Record<RecordedStatus, string>> = {
      paid: 'paid_at',
      voided: 'voided_at',
      deleted: 'deleted_at',
    };
    const col = dates[status];
    await exec(
      tem,
      new Sql().add(
        `update invoices set status = ?, failure = null, payment_issue = null, updated_at = ?${col ? `, ${col} = ?` : ''} where id = ?`,
        ...(col ? [status, now, now, id] : [status, now, id]),
      ),
    );
    await notifyInvoice(tem, 'invoice.updated', id); // notifications (issue 12)
  });
  logger.info({ invoice_id: id, status }, 'invoice status recorded');
}

/** Records that a step failed (`status_details.failed`), with the status the invoice is in meanwhile. */
export async function recordInvoiceFailure(
  em: EntityManager,
  id: string,
  step: 'issuing' | 'payment',
  message: string,
  now: Date = new Date(),
): Promise<void> {
  await em.transactional(async (tem) => {
    const rows = await exec<{ before: InvoiceStatus; after: InvoiceStatus }>(
      tem,
      new Sql().add(
        `with prev as (select id, status from invoices where id = ? for update)
         update invoices i set failure = ?::jsonb,
           status = case when i.status = 'draft' then 'issuing' else i.status end, updated_at = ?
         from prev where i.id = prev.id and i.status in ('draft', 'issuing', 'issued')
         returning prev.status as before, i.status as after`,
        id,
        JSON.stringify({ step, message: message.slice(0, 1000), at: now.toISOString() }),
        now,
      ),
    );
    // notifications (issue 12): draft → issuing is a status change
    if (rows[0] && rows[0].before !== rows[0].after) await notifyInvoice(tem, 'invoice.updated', id);
  });
}

/**
 * Tally's edit: a line with an id must be a manual line of the invoice (400 naming the line otherwise).
 */
function checkManualLineIds(
  id: string,
  existing: { id: string; manual: boolean }[],
  lines: NonNullable<ManualLinesEdit['lines']>,
): void {
  const byId = new Map(existing.map((l) => [l.id, l]));
  lines.forEach((l, i) => {
    if (l.id === undefined) return;
    const found = byId.get(l.id);
    if (!found)
      throw invalid(`invoice ${id} has no line ${l.id}`, [
        { field: `body.lines[${i}].id`, rule: 'invalid', reason: 'no such line' },
      ]);
    if (!found.manual)
      throw invalid(`line ${l.id} is billed from the subscription: only manual lines can be edited`, [
        { field: `body.lines[${i}].id`, rule: 'invalid', reason: 'not a manual line' },
      ]);
  });
}

/**
 * Refuses (400 naming the fields) an edit the invoice's lines or the catalog cannot take, before it is sent
 * to the invoice's workflow (whose write checks it again, in its transaction).
 */
export async function validateDraftEdit(em: EntityManager, id: string, edit: DraftEdit): Promise<void> {
  if (edit.kind === 'replace') return validateReplace(em, edit);
  if (!edit.lines) return;
  const existing = await exec<{ id: string; manual: boolean }>(
    em,
    new Sql().add('select id, manual from invoice_lines where invoice_id = ?', id),
  );
  checkManualLineIds(id, existing, edit.lines);
}

/** Tally's edit: the description and/or the manual lines (inside the caller's transaction). */
async function editManualLines(
  tem: EntityManager,
  r: StoredRow,
  edit: ManualLinesEdit,
  now: Date,
): Promise<void> {
  const id = r.id;
  if (edit.description !== undefined)
    await exec(
      tem,
      new Sql().add(
        'update invoices set description = ?, updated_at = ? where id = ?',
        edit.description,
        now,
        id,
      ),
    );
  if (!edit.lines) return;
  const existing = await exec<{ id: string; manual: boolean; position: number }>(
    tem,
    new Sql().add('select id, manual, position from invoice_lines where invoice_id = ?', id),
  );
  checkManualLineIds(id, existing, edit.lines);
  const keep = new Set(edit.lines.map((l) => l.id).filter((x): x is string => !!x));
  const gone = existing.filter((l) => l.manual && !keep.has(l.id)).map((l) => l.id);
  if (gone.length) await exec(tem, new Sql().add('delete from invoice_lines where id in ').list(gone));
  let position = Math.max(0, ...existing.map((l) => l.position));
  const period = await exec<{ from: Date; to: Date }>(
    tem,
    new Sql().add(
      'select service_period_from as from, service_period_to as to from invoices where id = ?',
      id,
    ),
  );
  for (const l of edit.lines) {
    const amount = roundMoney(new Decimal(l.quantity).times(l.unit_price), r.currency);
    const from = l.service_period?.from ?? period[0].from;
    const to = l.service_period?.to ?? period[0].to;
    const price = { type: 'flat', amount: l.unit_price };
    const detailed: DetailedLine[] = [
      { name: l.name, quantity: new Decimal(l.quantity).toFixed(), unit_price: l.unit_price, amount },
    ];
    if (l.id)
      await exec(
        tem,
        new Sql().add(
          `update invoice_lines set name = ?, quantity = ?, unit_price = ?, price = ?::jsonb, rate_card = ?::jsonb,
             amount = ?, total = ?, service_period_from = ?, service_period_to = ?, detailed_lines = ?::jsonb,
             updated_at = ? where id = ?`,
          l.name,
          l.quantity,
          l.unit_price,
          JSON.stringify(price),
          JSON.stringify({ price }),
          amount,
          amount,
          from,
          to,
          JSON.stringify(detailed),
          now,
          l.id,
        ),
      );
    else
      await exec(
        tem,
        new Sql().add(
          `insert into invoice_lines (id, invoice_id, position, name, feature_key, rate_card_key, kind, quantity,
             unit_price, price, service_period_from, service_period_to, amount, total, detail, rate_card,
             detailed_lines, manual, created_at, updated_at)
           values (?, ?, ?, ?, null, 'manual', 'flat', ?, ?, ?::jsonb, ?, ?, ?, ?, '{}'::jsonb, ?::jsonb, ?::jsonb,
             true, ?, ?)`,
          newId(),
          id,
          ++position,
          l.name,
          l.quantity,
          l.unit_price,
          JSON.stringify(price),
          from,
          to,
          amount,
          amount,
          JSON.stringify({ price }),
          JSON.stringify(detailed),
          now,
          now,
        ),
      );
  }
  await retotal(tem, id, r.currency, now);
}

/**
 * OpenMeter's update (inside the caller's transaction): description, labels, supplier, customer and workflow
 * snapshots replaced, the lines matched, priced and written in the order given (`invoice-update.ts`).
 * Returns the new `draft_until` when the draft period changed.
 */
async function replaceDraft(
  tem: EntityManager,
  r: StoredRow,
  edit: DraftReplace,
  now: Date,
): Promise<string | undefined> {
  const [row] = await exec<{ supplier: Supplier | null; collection_at: Date | null; created_at: Date }>(
    tem,
    new Sql().add('select supplier, collection_at, created_at from invoices where id = ?', r.id),
  );
  const workflow = mergedWorkflow(r.workflow, edit.workflow);
  const draftUntil =
    r.workflow?.invoicing.draft_period !== workflow.invoicing.draft_period
      ? addDuration(new Date(row.collection_at ?? row.created_at), workflow.invoicing.draft_period)
      : undefined;
  await exec(
    tem,
    new Sql().add(
      `update invoices set description = ?, labels = ?::jsonb, supplier = ?::jsonb, customer = ?::jsonb,
         workflow = ?::jsonb, draft_until = coalesce(?, draft_until), updated_at = ? where id = ?`,
      edit.description,
      JSON.stringify(edit.labels),
      JSON.stringify(mergedSupplier(row.supplier, edit.supplier)),
      JSON.stringify(mergedCustomer(r.customer, edit.customer)),
      JSON.stringify(workflow),
      draftUntil ?? null,
      now,
      r.id,
    ),
  );
  if (edit.lines) {
    const plan = await planLines(
      tem,
      { customerId: r.customer.id, currency: r.currency },
      await storedLines(tem, r.id),
      edit.lines,
    );
    if (plan.remove.length)
      await exec(tem, new Sql().add('delete from invoice_lines where id in ').list(plan.remove));
    // positions are unique per invoice: out of the way first, then in the order given
    await exec(
      tem,
      new Sql().add('update invoice_lines set position = -position where invoice_id = ?', r.id),
    );
    for (const [i, w] of plan.write.entries()) await writeLine(tem, r.id, i + 1, w, now);
    await retotal(tem, r.id, r.currency, now);
  }
  return draftUntil && draftUntil.getTime() !== new Date(r.draft_until ?? 0).getTime()
    ? draftUntil.toISOString()
    : undefined;
}

/** Writes one line of an update: its own fields only (unchanged), all of it (changed: manual), or a new one. */
async function writeLine(tem: EntityManager, invoiceId: string, position: number, w: PlannedLine, now: Date) {
  const labels = JSON.stringify(w.labels);
  if (w.id && (w.unchanged || !w.priced)) {
    await exec(
      tem,
      new Sql().add(
        `update invoice_lines set position = ?, description = ?, labels = ?::jsonb, rate_card = ?::jsonb,
           updated_at = ? where id = ?`,
        position,
        w.description,
        labels,
        JSON.stringify(w.rateCard),
        now,
        w.id,
      ),
    );
    return;
  }
  const p = w.priced!;
  // a changed line and a new one are written with the same fields: [column, value, cast]
  const fields: [string, unknown, string?][] = [
    ['position', position],
    ['name', w.name],
    ['description', w.description],
    ['labels', labels, 'jsonb'],
    ['feature_key', w.featureKey],
    ['kind', p.kind],
    ['quantity', p.quantity],
    ['unit_price', p.unitPrice],
    ['price', JSON.stringify(w.price), 'jsonb'],
    ['service_period_from', w.from],
    ['service_period_to', w.to],
    ['amount', p.amount],
    ['total', p.amount],
    ['detail', JSON.stringify(p.detail), 'jsonb'],
    ['rate_card', JSON.stringify(w.rateCard), 'jsonb'],
    ['detailed_lines', JSON.stringify(p.detailed), 'jsonb'],
  ];
  const slot = ([, , cast]: [string, unknown, string?]) => (cast ? `?::${cast}` : '?');
  const values = fields.map(([, v]) => v);
  if (w.id) {
    await exec(
      tem,
      new Sql().add(
        `update invoice_lines set ${fields.map((f) => `${f[0]} = ${slot(f)}`).join(', ')}, manual = true,
           updated_at = ? where id = ?`,
        ...values,
        now,
        w.id,
      ),
    );
    return;
  }
  await exec(
    tem,
    new Sql().add(
      `insert into invoice_lines (id, invoice_id, rate_card_key, manual, created_at, updated_at,
         ${fields.map(([c]) => c).join(', ')})
       values (?, ?, 'manual', true, ?, ?, ${fields.map(slot).join(', ')})`,
      newId(),
      invoiceId,
      now,
      now,
      ...values,
    ),
  );
}

/**
 * Applies an edit to a draft (refused once it is not a draft), in one transaction: all of it or nothing.
 * Returns what the invoice's workflow runs by afterwards.
 */
export async function editDraftInvoice(
  em: EntityManager,
  id: string,
  edit: DraftEdit,
  now: Date = new Date(),
): Promise<DraftEditResult> {
  return em.transactional(async (tem) => {
    const r = await rowById(tem, id, true);
    if (r.status !== 'draft') throw conflict(`invoice ${id} is ${r.status}: only a draft can be edited`);
    let draftUntil: string | undefined;
    if (edit.kind === 'replace') draftUntil = await replaceDraft(tem, r, edit, now);
    else await editManualLines(tem, r, edit, now);
    await notifyInvoice(tem, 'invoice.updated', id); // notifications (issue 12)
    const state = lifecycleOf(await rowById(tem, id));
    return {
      autoAdvance: state.autoAdvance,
      collectionMethod: state.collectionMethod,
      ...(draftUntil ? { draftUntil } : {}),
    };
  });
}

/** The stored lifecycle of an invoice (the workflow resumes from it; the API pre-checks actions on it). */
export async function invoiceLifecycle(
  em: EntityManager,
  id: string,
): Promise<{ lifecycle: LifecycleState; customerKey: string; number: string | null; draftUntil: string }> {
  const r = await rowById(em, id);
  return {
    lifecycle: lifecycleOf(r),
    customerKey: r.customer.key,
    number: r.number,
    draftUntil: instant(r.draft_until ?? 0),
  };
}
