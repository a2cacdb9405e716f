/** REST: invoices (`/billing/invoices`) and the customer's invoice preview. */
import { Router } from 'express';
import { z } from 'zod';
import { parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { pageQuery } from '../lib/pagination';
import { createBillingService, type InvoiceListQuery, type InvoiceSortField } from './service';

const STATUSES = ['draft', 'issued', 'paid', 'voided'] as const;
const status = z.enum(STATUSES);
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

const SORTS = ['created_at', 'issued_at', 'service_period_start'] as const;
const sort = z
  .string()
  .regex(
    new RegExp(`^(${SORTS.join('|')})( (asc|desc))?$`),
    `must be one of ${SORTS.join(', ')}, optionally followed by asc or desc`,
  )
  .transform((s) => {
    const [field, dir] = s.split(' ');
    return { field: field as InvoiceSortField, desc: dir === 'desc' };
  });

const listQuery = z.object({
  page: pageQuery,
  filter: z
    .strictObject({ customer_id: customerFilter.optional(), status: statusFilter.optional() })
    .optional(),
  sort: sort.optional(),
});

export function billingRoutes(deps: AppDeps): Router {
  const svc = createBillingService(deps);
  const r = Router();

  r.get('/billing/invoices', async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    const list: InvoiceListQuery = {
      page: q.page,
      customer: q.filter?.customer_id,
      status: q.filter?.status && 'in' in q.filter.status ? q.filter.status.in : undefined,
      statusNot: q.filter?.status && 'nin' in q.filter.status ? q.filter.status.nin : undefined,
      sort: q.sort,
    };
    res.json(await svc.listInvoices(list));
  });

  r.get('/billing/invoices/:invoiceId', async (req, res) => {
    res.json(await svc.getInvoice(req.params.invoiceId));
  });

  r.get('/customers/:customerId/invoices/preview', async (req, res) => {
    res.json(await svc.previewInvoice(req.params.customerId, new Date()));
  });

  return r;
}
