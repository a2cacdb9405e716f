/**
 * REST: invoices (`/billing/invoices`), their lifecycle actions (sent to the invoice's workflow) and the
 * customer's invoice preview.
 */
import { prorationProblem } from './charge-proration';
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../api/problem';
import Decimal from 'decimal.js';
import { dateTime, labels, postalAddress } from '../api/schemas';
import { addDuration, isValidDuration } from '../catalog/periods';
import { price } from '../catalog/routes';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { pageQuery } from '../lib/pagination';
import type { DraftEdit, DraftReplace } from './contract';
import { INVOICE_STATUSES, type InvoiceAction } from './lifecycle';
import { CHARGE_SORT_FIELDS, CHARGE_STATUSES, type ChargeInput } from './pending';
import {
  createBillingService,
  type InstantRange,
  type InvoiceListQuery,
  type InvoiceSortField,
} from './service';

const status = z.enum(INVOICE_STATUSES);
const csvStatuses = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()))
  .pipe(z.array(status).min(1));

/** `filter[status]=v`, `filter[status][eq]=v`, `filter[status][oeq]=a,b`, `filter[status][neq]=v` */
const statusFilter = z.union([
  status.transform((s) => ({ in: [s] })),
  z.strictObject({ eq: status }).transform((f) => ({ in: [f.eq] })),
  z.strictObject({ oeq: csvStatuses }).transform((f) => ({ in: f.oeq })),
  z.strictObject({ neq: status }).transform((f) => ({ nin: [f.neq] })),
]);

/** `filter[customer_id]=v` or `filter[customer_id][eq]=v` (id or key) */
const customerFilter = z.union([
  z.string().min(1),
  z.strictObject({ eq: z.string().min(1) }).transform((f) => f.eq),
]);

const instantParam = dateTime.transform((s) => new Date(s));
/** `filter[issued_at]=t` (equal) or `filter[issued_at][gte]=t&filter[issued_at][lt]=u` … */
const instantFilter = z.union([
  instantParam.transform((d): InstantRange => ({ eq: d })),
  z
    .strictObject({
      eq: instantParam.optional(),
      gt: instantParam.optional(),
      gte: instantParam.optional(),
      lt: instantParam.optional(),
      lte: instantParam.optional(),
    })
    .refine((o) => Object.keys(o).length > 0, { message: 'needs one of eq, gt, gte, lt, lte' }),
]);

const SORTS = ['created_at', 'issued_at', 'service_period_start'] as const;
/** `issued_at`, `issued_at desc` (OpenMeter's SortQuery) or `-issued_at` */
const sort = z
  .string()
  .regex(
    new RegExp(`^(-?(${SORTS.join('|')})|(${SORTS.join('|')}) (asc|desc))$`),
    `must be one of ${SORTS.join(', ')}, optionally followed by asc or desc (or prefixed with -)`,
  )
  .transform((s) => {
    if (s.startsWith('-')) return { field: s.slice(1) as InvoiceSortField, desc: true };
    const [field, dir] = s.split(' ');
    return { field: field as InvoiceSortField, desc: dir === 'desc' };
  });

const listQuery = z.object({
  page: pageQuery,
  filter: z
    .strictObject({
      customer_id: customerFilter.optional(),
      status: statusFilter.optional(),
      issued_at: instantFilter.optional(),
      service_period_start: instantFilter.optional(),
      created_at: instantFilter.optional(),
    })
    .optional(),
  sort: sort.optional(),
});

const decimal = (what: string) =>
  z.string().regex(/^-?\d{1,15}(\.\d{1,12})?$/, `${what} must be a decimal string such as "12.5"`);

const manualLine = z.strictObject({
  id: z.string().min(1).optional(),
  name: z.string().min(1).max(256),
  quantity: decimal('quantity').refine((q) => !q.startsWith('-'), { message: 'must not be negative' }),
  unit_price: decimal('unit_price'),
  service_period: z
    .strictObject({ from: dateTime, to: dateTime })
    .refine((p) => Date.parse(p.to) >= Date.parse(p.from), { message: 'ends before it starts' })
    .optional(),
});

/** Tally's own edit: the description and/or the manual lines (told apart from OpenMeter's by its `type`) */
const editBody = z
  .strictObject({
    description: z.string().max(1024).nullable().optional(),
    lines: z.array(manualLine).max(500).optional(),
  })
  .refine((b) => b.description !== undefined || b.lines !== undefined, {
    message: 'nothing to change: give description and/or lines',
  });

/** An ISO-8601 duration of zero or more (`P0D`, `P30D`), whose end a date can hold */
const settingsDuration = z.string().superRefine((s, ctx) => {
  if (s.startsWith('-')) ctx.addIssue({ code: 'custom', message: 'must not be negative' });
  else if (!isValidDuration(s))
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 duration such as P1D or PT1H' });
  else {
    let end: Date | undefined;
    try {
      end = addDuration(new Date(), s);
    } catch {
      end = undefined;
    }
    if (!end || end.getUTCFullYear() > 9000)
      ctx.addIssue({ code: 'custom', message: 'is too long (at most a few thousand years)' });
  }
});

/** OpenMeter's price tiers: each with a flat or unit price, only the last one open, bounds ascending */
const linePrice = price.superRefine((p, ctx) => {
  if (p.type !== 'graduated' && p.type !== 'volume') return;
  let prev: Decimal | undefined;
  p.tiers.forEach((t, i) => {
    if (!t.flat_price && !t.unit_price)
      ctx.addIssue({
        code: 'custom',
        path: ['tiers', i],
        message: 'a tier needs a flat_price or a unit_price',
      });
    if (t.up_to_amount === undefined) {
      if (i < p.tiers.length - 1)
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'up_to_amount'],
          message: 'only the last tier may be open',
        });
      return;
    }
    const bound = new Decimal(t.up_to_amount);
    if (bound.lte(0) || (prev && bound.lte(prev)))
      ctx.addIssue({
        code: 'custom',
        path: ['tiers', i, 'up_to_amount'],
        message: prev
          ? `must be greater than the previous tier's ${prev.toFixed()}`
          : 'must be greater than 0',
      });
    prev = bound;
  });
});

/** OpenMeter's `UpdateInvoiceStandardLine` */
const replaceLine = z.strictObject({
  type: z.literal('standard_line'),
  id: z.string().min(1).max(64).optional(),
  name: z.string().min(1).max(256),
  description: z.string().max(1024).optional(),
  labels: labels.optional(),
  service_period: z
    .strictObject({ from: dateTime, to: dateTime })
    .refine((p) => Date.parse(p.to) >= Date.parse(p.from), { message: 'ends before it starts' }),
  rate_card: z.strictObject({
    price: linePrice,
    feature_key: z.string().min(1).max(64).optional(),
    // stored and shown, not acted on (no tax, no discounts on invoices yet)
    tax_config: z
      .strictObject({
        behavior: z.enum(['inclusive', 'exclusive']).optional(),
        code: z.strictObject({ id: z.string().min(1) }),
      })
      .optional(),
    discounts: z
      .strictObject({
        percentage: z.number().min(0).max(100).optional(),
        usage: z
          .string()
          .regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string')
          .optional(),
      })
      .optional(),
  }),
});

/**
 * OpenMeter's `UpdateInvoiceRequest` (`type: standard`): a full replace of what a draft may change. The
 * customer's `id`, `key` and `usage_attribution` and the supplier's `id` (and Tally's `key`) are taken and
 * ignored (the invoice's own stay); the supplier's `email` and the customer's `primary_email` are Tally's.
 */
const replaceBody = z
  .strictObject({
    type: z.literal('standard'),
    description: z.string().max(1024).optional(),
    labels: labels.optional(),
    supplier: z.strictObject({
      id: z.string().optional(),
      key: z.string().optional(),
      name: z.string().max(256).optional(),
      email: z.email().optional(),
      tax_id: z.strictObject({ code: z.string().min(1).max(32).optional() }).optional(),
      addresses: z.strictObject({ billing_address: postalAddress }).optional(),
    }),
    customer: z.strictObject({
      id: z.string().min(1),
      key: z.string().min(1).max(256).optional(),
      name: z.string().min(1).max(256),
      usage_attribution: z.strictObject({ subject_keys: z.array(z.string().min(1)) }).optional(),
      billing_address: postalAddress.optional(),
      primary_email: z.email().nullable().optional(),
    }),
    workflow: z.strictObject({
      workflow: z.strictObject({
        invoicing: z
          .strictObject({
            auto_advance: z.boolean().default(true),
            draft_period: settingsDuration.default('P0D'),
          })
          .optional(),
        payment: z
          .discriminatedUnion('collection_method', [
            z.strictObject({ collection_method: z.literal('charge_automatically') }),
            z.strictObject({
              collection_method: z.literal('send_invoice'),
              due_after: settingsDuration.default('P30D'),
            }),
          ])
          .optional(),
      }),
    }),
    lines: z.array(replaceLine).max(500).optional(),
  })
  .transform((b): DraftReplace => ({
    kind: 'replace',
    description: b.description ?? null,
    labels: b.labels ?? {},
    supplier: {
      ...(b.supplier.name !== undefined ? { name: b.supplier.name } : {}),
      ...(b.supplier.email !== undefined ? { email: b.supplier.email } : {}),
      ...(b.supplier.tax_id ? { tax_id: b.supplier.tax_id } : {}),
      ...(b.supplier.addresses ? { addresses: b.supplier.addresses } : {}),
    },
    customer: {
      name: b.customer.name,
      ...(b.customer.billing_address ? { billing_address: b.customer.billing_address } : {}),
      ...(b.customer.primary_email !== undefined ? { primary_email: b.customer.primary_email } : {}),
    },
    workflow: b.workflow.workflow,
    ...(b.lines
      ? {
          lines: b.lines.map((l) => ({
            ...(l.id !== undefined ? { id: l.id } : {}),
            name: l.name,
            ...(l.description !== undefined ? { description: l.description } : {}),
            ...(l.labels ? { labels: l.labels } : {}),
            service_period: l.service_period,
            rate_card: l.rate_card,
          })),
        }
      : {}),
  }));

/** OpenMeter's body (it has the discriminator `type`, Tally's edit has none), else Tally's */
const updateBody = (body: unknown): DraftEdit =>
  body !== null && typeof body === 'object' && 'type' in body
    ? parseBody(replaceBody, body)
    : parseBody(editBody, body);

const instantBody = z.iso
  .datetime({ offset: true, message: 'must be an RFC 3339 date-time' })
  .transform((s) => new Date(s));

const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "USD"');
const positiveAmount = decimal('the amount').refine((a) => !a.startsWith('-') && !/^0+(\.0+)?$/.test(a), {
  message: 'must be greater than 0',
});
/** OpenMeter's `CurrencyAmount` (`{amount, currency}`), or Tally's earlier bare decimal string */
const amountObject = z.strictObject({ amount: positiveAmount, currency: currencyCode });
const chargeAmount = z.unknown().transform((v, ctx): { amount: string; currency?: string } => {
  const r = typeof v === 'string' ? positiveAmount.safeParse(v) : amountObject.safeParse(v);
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({ ...i, input: v } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }
  return typeof r.data === 'string' ? { amount: r.data } : r.data;
});
const closedPeriod = z
  .strictObject({ from: instantBody, to: instantBody })
  .refine((p) => p.to >= p.from, { message: 'ends before it starts' });
const isoPeriod = closedPeriod.transform((p) => ({ from: p.from.toISOString(), to: p.to.toISOString() }));

/**
 * A one-off flat charge: OpenMeter's `CreateChargeFlatFeeRequest`. Tally bills `name`, `amount_before_proration`,
 * `currency`, `service_period`, `invoice_at` (all but the first two optional); it stores `labels`, and stores
 * and shows without acting on them the other fields (see `ChargeTerms`).
 */
const chargeBody = z
  .strictObject({
    type: z.literal('flat_fee').default('flat_fee'),
    name: z.string().min(1).max(256),
    description: z.string().max(1024).optional(),
    labels: labels.optional(),
    currency: currencyCode.optional(),
    amount_before_proration: chargeAmount,
    service_period: closedPeriod.optional(),
    invoice_at: instantBody.optional(),
    // stored and shown, not acted on (but proration_configuration with full_service_period: see below)
    settlement_mode: z.enum(['credit_then_invoice', 'credit_only']).optional(),
    payment_term: z.enum(['in_advance', 'in_arrears']).optional(),
    proration_configuration: z.strictObject({ mode: z.enum(['no_proration', 'prorate_prices']) }).optional(),
    tax_config: z.record(z.string(), z.json()).optional(),
    discounts: z.strictObject({ percentage: z.number().min(0).max(100).optional() }).optional(),
    unique_reference_id: z.string().min(1).max(256).optional(),
    feature_id: z.string().min(1).max(256).optional(),
    full_service_period: isoPeriod.optional(),
    billing_period: isoPeriod.optional(),
  })
  .superRefine((b, ctx) => {
    const c = b.amount_before_proration.currency;
    if (c && b.currency && c !== b.currency)
      ctx.addIssue({
        code: 'custom',
        path: ['amount_before_proration', 'currency'],
        message: `must be the charge's currency (${b.currency})`,
      });
    // prorate_prices bills the service period's share of the full one: both must be given and fit
    if (b.proration_configuration?.mode === 'prorate_prices' && b.full_service_period) {
      if (!b.service_period)
        ctx.addIssue({
          code: 'custom',
          path: ['service_period'],
          message: 'is required to prorate over full_service_period',
        });
      else {
        const problem = prorationProblem({
          service: { from: b.service_period.from.toISOString(), to: b.service_period.to.toISOString() },
          full: b.full_service_period,
        });
        if (problem) ctx.addIssue({ code: 'custom', path: ['service_period'], message: problem });
      }
    }
  })
  .transform((b): ChargeInput => ({
    name: b.name,
    description: b.description,
    labels: b.labels,
    currency: b.currency ?? b.amount_before_proration.currency,
    amount: b.amount_before_proration.amount,
    service_period: b.service_period,
    invoice_at: b.invoice_at,
    terms: Object.fromEntries(
      (
        [
          'settlement_mode',
          'payment_term',
          'proration_configuration',
          'tax_config',
          'discounts',
          'unique_reference_id',
          'feature_id',
          'full_service_period',
          'billing_period',
        ] as const
      )
        .filter((k) => b[k] !== undefined)
        .map((k) => [k, b[k]]),
    ),
  }));

/** `GET /customers/{id}/charges`: OpenMeter's page, sort and `filter[status]` */
const chargeListQuery = z.object({
  page: pageQuery,
  filter: filterObject({ status: fieldFilter('exact', CHARGE_STATUSES) }).optional(),
  sort: sortQuery(CHARGE_SORT_FIELDS),
});

/** OpenMeter's `InvoicePendingLinesActionInput`: the customer, optionally "as of". */
const invoiceNowBody = z.strictObject({
  customer_id: z.string().min(1),
  as_of: instantBody.optional(),
});

const previewQuery = z.object({
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "USD"')
    .optional(),
});

/** The POST actions: `/billing/invoices/{id}/<path>` */
const ACTIONS: [string, InvoiceAction][] = [
  ['advance', 'advance'],
  ['approve', 'approve'],
  ['retry', 'retry'],
  ['snapshot-quantities', 'snapshot_quantities'],
  ['void', 'void'],
  ['mark-paid', 'mark_paid'],
  ['mark-uncollectible', 'mark_uncollectible'],
];

export function billingRoutes(deps: AppDeps): Router {
  const svc = createBillingService(deps);
  const r = Router();

  r.get('/billing/invoices', async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    const f = q.filter;
    const list: InvoiceListQuery = {
      page: q.page,
      customer: f?.customer_id,
      status: f?.status && 'in' in f.status ? f.status.in : undefined,
      statusNot: f?.status && 'nin' in f.status ? f.status.nin : undefined,
      issuedAt: f?.issued_at,
      servicePeriodStart: f?.service_period_start,
      createdAt: f?.created_at,
      sort: q.sort,
    };
    res.json(await svc.listInvoices(list));
  });

  r.post('/billing/invoices/invoice', async (req, res) => {
    const b = parseBody(invoiceNowBody, req.body);
    res.status(201).json(await svc.invoiceNow(b.customer_id, b.as_of));
  });

  r.post('/customers/:customerId/charges', async (req, res) => {
    const type = (req.body as { type?: unknown } | undefined)?.type;
    if (type === 'usage_based')
      throw badRequest(
        'usage-based charges are not supported: bill usage through a plan or add-on rate card',
        [
          {
            field: 'body.type',
            rule: 'invalid',
            reason: 'usage_based charges are not supported (only flat_fee)',
          },
        ],
      );
    const b = parseBody(chargeBody, req.body);
    res.status(201).json(await svc.addCharge(req.params.customerId, b));
  });

  r.get('/customers/:customerId/charges', async (req, res) => {
    const q = parseQuery(chargeListQuery, req.query);
    res.json(
      await svc.listCharges(req.params.customerId, { page: q.page, status: q.filter?.status, sort: q.sort }),
    );
  });

  r.get('/customers/:customerId/charges/:chargeId', async (req, res) => {
    res.json(await svc.getCharge(req.params.customerId, req.params.chargeId));
  });

  r.delete('/customers/:customerId/charges/:chargeId', async (req, res) => {
    await svc.deleteCharge(req.params.customerId, req.params.chargeId);
    res.status(204).end();
  });

  r.get('/billing/invoices/:invoiceId', async (req, res) => {
    res.json(await svc.getInvoice(req.params.invoiceId));
  });

  r.put('/billing/invoices/:invoiceId', async (req, res) => {
    res.json(await svc.act(req.params.invoiceId, 'edit', updateBody(req.body)));
  });

  r.delete('/billing/invoices/:invoiceId', async (req, res) => {
    await svc.act(req.params.invoiceId, 'delete');
    res.status(204).end();
  });

  for (const [path, action] of ACTIONS) {
    r.post(`/billing/invoices/:invoiceId/${path}`, async (req, res) => {
      res.json(await svc.act(req.params.invoiceId, action));
    });
  }

  r.get('/customers/:customerId/invoices/preview', async (req, res) => {
    const q = parseQuery(previewQuery, req.query);
    res.json(await svc.previewInvoice(req.params.customerId, new Date(), q.currency));
  });

  return r;
}
