/**
 * Billing: reading invoices, previewing what an open period would bill, and the actions on an invoice (sent
 * to its workflow as Updates: the API never writes a status itself). The write side (drafts, issuing, the
 * payment hand-over) lives in `invoices.ts`, run by the invoice workflow's activities.
 */
import Decimal from 'decimal.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { conflict, DomainError, invalid, notFound, unavailable, UnavailableError } from '../lib/errors';
import { syncHooksOf } from '../apps/state';
import { getPlan } from '../catalog/service';
import { findCustomer, getCustomer } from '../customers/service';
import type { AppDeps } from '../deps';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { currentPeriodOf } from '../subscriptions/row-period';
import { activeSubscriptionPeriods } from '../subscriptions/service';
import { TEMPORAL_UPDATE_TIMEOUT_MS, withTemporalDeadline } from '../temporal/client';
import { SA_CUSTOMER_KEY, SA_INVOICE_NUMBER, SA_INVOICE_STATUS } from '../temporal/search-attributes';
import {
  INVOICE_REFUSAL_TYPE,
  invoiceActionUpdate,
  REJECTION_TYPES,
  type InvoiceWorkflow,
} from '../../workflows/definitions';
import { computeLines } from './calculator';
import type { DraftEdit, IssueInvoiceInput, IssuedInvoiceRef } from './contract';
import { Invoice, InvoiceLine } from './entities';
import { invoiceLifecycle, issueInvoice as issueNow, validateDraftEdit, type IssueOptions } from './invoices';
import { apply, type AvailableActions, type InvoiceAction } from './lifecycle';
import { customerInvoicingSnapshot } from './settings';
import {
  createCharge,
  deleteCharge,
  gatheredDrafts,
  gatherPendingLines,
  getCharge,
  listCharges,
  pendingLinesOf,
  type ChargeInput,
  type ChargeListQuery,
  type ChargeView,
} from './pending';
import { signalCollection, startInvoiceWorkflow } from './workflow-starts';
import { composedLineView, invoiceView, totalsView, type InvoiceLineView, type InvoiceView } from './views';

export type { InvoiceLineView, InvoiceView };

/**
 * Drafts and issues the invoice for `input` at once (programmatic issuing, by the customer's profile unless
 * `opts.snapshot` says otherwise); once per `invoiceKey`. No workflow: the invoice stays `issued`.
 */
export async function issueInvoice(
  em: EntityManager,
  input: IssueInvoiceInput,
  opts: IssueOptions & { snapshot?: Parameters<typeof issueNow>[2] } = {},
): Promise<IssuedInvoiceRef> {
  const snapshot = opts.snapshot ?? (await customerInvoicingSnapshot(em, input.customerId));
  return issueNow(em, input, snapshot, opts);
}

/** The invoice with its lines; 404 problem when unknown. */
export async function getInvoice(em: EntityManager, id: string): Promise<InvoiceView> {
  const inv = await em.findOne(Invoice, { id });
  if (!inv) throw notFound('invoice', id);
  const lines = await em.find(InvoiceLine, { invoiceId: id }, { orderBy: { position: 'asc' } });
  return invoiceView(inv, lines);
}

export type InvoiceSortField = 'created_at' | 'issued_at' | 'service_period_start';

/** `{gte, lt, …}` bounds of an instant */
export interface InstantRange {
  eq?: Date;
  gt?: Date;
  gte?: Date;
  lt?: Date;
  lte?: Date;
}

export interface InvoiceListQuery {
  /** customer id or key */
  customer?: string;
  /** any of these statuses (default: all but `deleted`) */
  status?: string[];
  /** none of these statuses */
  statusNot?: string[];
  issuedAt?: InstantRange;
  servicePeriodStart?: InstantRange;
  createdAt?: InstantRange;
  sort?: { field: InvoiceSortField; desc: boolean };
  page: PageParams;
}

const SORT_PROPS = {
  created_at: 'createdAt',
  issued_at: 'issuedAt',
  service_period_start: 'servicePeriodFrom',
} as const;

const rangeWhere = (r: InstantRange) =>
  Object.fromEntries(Object.entries(r).map(([op, v]) => [`$${op}`, v as Date]));

/** Invoices without lines, oldest first by default (`created_at`, then id); deleted drafts only on request. */
export async function listInvoices(em: EntityManager, q: InvoiceListQuery): Promise<Page<InvoiceView>> {
  const where: Record<string, unknown> = {};
  if (q.customer !== undefined) {
    // a live customer's id or key; else the value is taken as the id of a (possibly deleted) customer
    const c = await findCustomer(em, q.customer);
    where.customerId = c ? c.id : q.customer;
  }
  const statusNot = q.status ? q.statusNot : [...(q.statusNot ?? []), 'deleted'];
  where.status = { ...(q.status ? { $in: q.status } : {}), ...(statusNot ? { $nin: statusNot } : {}) };
  if (q.issuedAt) where.issuedAt = rangeWhere(q.issuedAt);
  if (q.servicePeriodStart) where.servicePeriodFrom = rangeWhere(q.servicePeriodStart);
  if (q.createdAt) where.createdAt = rangeWhere(q.createdAt);
  const sort = q.sort ?? { field: 'created_at', desc: false };
  const dir = sort.desc ? 'desc' : 'asc';
  const { limit, offset } = pageOffset(q.page);
  const [rows, total] = await em.findAndCount(Invoice, where, {
    orderBy: [
      { [SORT_PROPS[sort.field]]: sort.field === 'issued_at' ? `${dir} nulls last` : dir },
      { id: dir },
    ],
    limit,
    offset,
  });
  return toPage(
    rows.map((r) => invoiceView(r)),
    total,
    q.page,
  );
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
  only?: string,
): Promise<InvoiceView> {
  const customer = await getCustomer(em, customerIdOrKey);
  const all = await activeSubscriptionPeriods(em, customer.id, now);
  const pending = await pendingLinesOf(em, customer.id, customer);
  const currencies = new Set(pending.map((p) => p.currency));
  const planCurrency = new Map<string, string>();
  for (const s of all) {
    const c = (await getPlan(em, s.plan_id)).currency;
    planCurrency.set(s.id, c);
    currencies.add(c);
  }
  if (!only && currencies.size > 1)
    throw conflict(
      `the customer's next invoices bill in several currencies (${[...currencies].sort().join(', ')}): ` +
        'preview one with ?currency=',
    );
  const wanted = only ?? [...currencies][0];
  const subs = all.filter((s) => planCurrency.get(s.id) === wanted);
  const lines: InvoiceLineView[] = [];
  let currency: string | undefined = only;
  let amount = new Decimal(0);
  let from: Date | undefined;
  // the lines handed over and not invoiced yet (closed periods in their late-usage window, charges)
  for (const p of pending.filter((x) => x.currency === wanted)) {
    currency = p.currency;
    for (const l of p.lines) {
      amount = amount.plus(l.amount);
      if (!from || new Date(l.periodFrom) < from) from = new Date(l.periodFrom);
      lines.push(composedLineView(l, l.subscriptionId ?? null));
    }
  }
  for (const s of subs) {
    // the row may lag the boundary by a moment (the rollover is written at the period end): roll forward
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
    subscription:
      subs.length === 1 && lines.every((l) => !l.subscription || l.subscription.id === subs[0].id)
        ? { id: subs[0].id }
        : null,
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

/** A refused action: 409 with the actions the invoice does allow. */
const refusedAction = (message: string, available: AvailableActions) =>
  conflict(message, { available_actions: available });

/** Maps a failed Update onto the domain errors; anything else is unavailable. */
function actionError(e: unknown): DomainError | undefined {
  if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure) {
    if (e.cause.type === INVOICE_REFUSAL_TYPE)
      return refusedAction(e.cause.message, e.cause.details?.[0] ?? {});
    if (e.cause.type === REJECTION_TYPES.bad_request) return invalid(e.cause.message);
    return conflict(e.cause.message);
  }
  if (e instanceof Error && e.name === 'WorkflowNotFoundError') return undefined;
  if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
    return unavailable(
      `the invoice workflow did not answer within ${TEMPORAL_UPDATE_TIMEOUT_MS / 1000} s; ` +
        'the action may still be applied (see the invoice), or retry',
    );
  return unavailable('the invoice workflow did not answer (Temporal unavailable); retry');
}

/** Service bound to the app's ORM (each call on its own EntityManager fork) and Temporal client. */
export function createBillingService(deps: Pick<AppDeps, 'orm' | 'config' | 'temporal' | 'logger'>) {
  const em = () => deps.orm.em.fork();
  const temporal = (): Client => {
    if (!deps.temporal) throw unavailable('Temporal is not configured');
    return deps.temporal;
  };

  /**
   * Starts the workflow of an invoice that has none (issued before invoices had workflows), from its stored
   * state; a workflow that ran once is never started again.
   */
  async function startWorkflow(client: Client, id: string): Promise<boolean> {
    const stored = await invoiceLifecycle(em(), id);
    const row = await em().findOne(Invoice, { id });
    try {
      await client.workflow.start<InvoiceWorkflow>('invoiceWorkflow', {
        taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
        workflowId: `invoice-${id}`,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [
          {
            invoiceId: id,
            customerKey: stored.customerKey,
            lifecycle: stored.lifecycle,
            draftUntil: stored.draftUntil,
            number: stored.number,
            dueAt: row?.dueAt ? row.dueAt.toISOString() : null,
            handedOver: !!row?.paymentHandedOverAt,
          },
        ],
        typedSearchAttributes: [
          { key: SA_CUSTOMER_KEY, value: stored.customerKey },
          { key: SA_INVOICE_STATUS, value: stored.lifecycle.status },
          ...(stored.number ? [{ key: SA_INVOICE_NUMBER, value: stored.number }] : []),
        ],
      });
      return true;
    } catch (e) {
      if (e instanceof Error && e.name === 'WorkflowExecutionAlreadyStartedError') return false;
      throw e;
    }
  }

  /**
   * Runs a user action through the invoice's workflow. Refused at once (409 with the available actions)
   * when the stored status does not allow it; the workflow's validator has the last word.
   */
  async function act(id: string, action: InvoiceAction, edit?: DraftEdit): Promise<InvoiceView> {
    const stored = await invoiceLifecycle(em(), id);
    const pre = apply(stored.lifecycle, action);
    if (!pre.ok) throw refusedAction(pre.refusal.message, pre.refusal.available_actions);
    // an edit the lines or the catalog refuse: 400 naming the fields, before the workflow is asked
    if (edit) await validateDraftEdit(em(), id, edit);
    const client = temporal();
    const send = () =>
      withTemporalDeadline(client, TEMPORAL_UPDATE_TIMEOUT_MS, () =>
        client.workflow
          .getHandle(`invoice-${id}`)
          .executeUpdate(invoiceActionUpdate, { args: [{ action, ...(edit ? { edit } : {}) }] }),
      );
    try {
      try {
        await send();
      } catch (e) {
        if (actionError(e) !== undefined) throw e;
        // no workflow (an invoice from before the lifecycle): start it from the row, then ask again
        if (!(await startWorkflow(client, id))) {
          const now = await invoiceLifecycle(em(), id);
          const r = apply(now.lifecycle, action);
          throw r.ok
            ? conflict(`the workflow of invoice ${id} has ended`)
            : refusedAction(r.refusal.message, r.refusal.available_actions);
        }
        await send();
      }
    } catch (e) {
      if (e instanceof DomainError) throw e;
      const problem = actionError(e) ?? conflict(`the workflow of invoice ${id} has ended`);
      if (problem instanceof UnavailableError)
        deps.logger.warn({ err: e, invoice_id: id, action }, 'invoice action failed');
      throw problem;
    }
    return getInvoice(em(), id);
  }

  /** Creates a one-off charge and tells the customer's collection when it is due (in one transaction). */
  async function addCharge(customer: string, input: ChargeInput): Promise<ChargeView> {
    return createCharge(em(), customer, input, customerInvoicingSnapshot, new Date(), async (c) => {
      // asked for here: an unknown customer answers 404 first (without Temporal, the insert rolls back)
      const client = temporal();
      try {
        await signalCollection(client, deps.config.TEMPORAL_TASK_QUEUE, c.customer.id, c.collect_at);
      } catch (e) {
        deps.logger.warn({ err: e, charge_id: c.id }, 'collection signal failed');
        throw unavailable('the charge could not be scheduled (Temporal unavailable); retry');
      }
    });
  }

  /**
   * Invoices the customer's pending lines now (those due by `asOf`, default now, by their `invoice_at`):
   * one draft per currency, each with its workflow. Nothing pending: 400.
   */
  async function invoiceNow(customerRef: string, asOf?: Date): Promise<InvoiceView[]> {
    const client = temporal();
    const customer = await getCustomer(em(), customerRef);
    const now = new Date();
    const res = await gatherPendingLines(em(), customer.id, asOf ?? now, customerInvoicingSnapshot, now, {
      invoiceNow: true,
    });
    if (!res.drafts.length)
      throw invalid(`customer ${customer.id} has no pending lines to invoice`, [
        { field: 'body.customer_id', reason: 'nothing to invoice' },
      ]);
    for (const d of await gatheredDrafts(em(), customer.id))
      await startInvoiceWorkflow(
        client,
        deps.config.TEMPORAL_TASK_QUEUE,
        d,
        await syncHooksOf(em(), d.paymentAppId),
      );
    return Promise.all(res.drafts.map((d) => getInvoice(em(), d.invoiceId)));
  }

  return {
    issueInvoice: (input: IssueInvoiceInput) => issueInvoice(em(), input),
    addCharge,
    listCharges: (customer: string, q: ChargeListQuery) => listCharges(em(), customer, q),
    getCharge: (customer: string, id: string) => getCharge(em(), customer, id),
    deleteCharge: (customer: string, id: string) => deleteCharge(em(), customer, id, new Date()),
    invoiceNow,
    getInvoice: (id: string) => getInvoice(em(), id),
    listInvoices: (q: InvoiceListQuery) => listInvoices(em(), q),
    previewInvoice: (customerIdOrKey: string, now: Date = new Date(), currency?: string) =>
      previewInvoice(em(), customerIdOrKey, now, currency),
    act,
  };
}

export type BillingService = ReturnType<typeof createBillingService>;
