/** REST: /v3/openmeter/subscriptions — create/list/get, and cancel/change/migrate sent to the workflow. */
import { Router } from 'express';
import { z } from 'zod';
import { dateTime, labels } from '../api/schemas';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { pageQuery } from '../lib/pagination';
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { customPlanBody, duration, entitlement, price, rateCard } from '../catalog/routes';
import { createSubscriptionsService, SUBSCRIPTION_SORT_FIELDS } from './service';
import { API_STATUSES } from './status';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

const customerRef = z
  .strictObject({
    id: z.string().regex(ULID, 'must be a ULID').optional(),
    key: z.string().min(1).optional(),
  })
  .refine((c) => c.id !== undefined || c.key !== undefined, {
    message: 'customer.id or customer.key is required',
  });

const planRef = z
  .strictObject({
    id: z.string().regex(ULID, 'must be a ULID').optional(),
    key: z.string().min(1).optional(),
    version: z.number().int().min(1).optional(),
  })
  .refine((p) => p.id !== undefined || p.key !== undefined, { message: 'plan.id or plan.key is required' })
  .refine((p) => p.id === undefined || p.version === undefined, {
    message: 'plan.version goes with plan.key',
  });

/** `immediate`, `next_billing_cycle` or an RFC 3339 timestamp (checked to be in the future by the workflow) */
const timing = z.union([z.literal('immediate'), z.literal('next_billing_cycle'), dateTime], {
  message: 'must be "immediate", "next_billing_cycle" or an RFC 3339 date-time',
});

const settlementMode = z.enum(['credit_then_invoice', 'credit_only']);
const costBasisMode = z.enum(['dynamic', 'pinned']);

const phaseKey = z.string().min(1);
/**
 * OpenMeter v1's SubscriptionEditOperation (snake_case), plus Tally's `update_item` (a new price and/or
 * entitlement for an item). `add_phase` / `remove_phase` are accepted by the schema and refused by name.
 */
const customization = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('add_item'), phase_key: phaseKey, rate_card: rateCard }),
  z.strictObject({ op: z.literal('remove_item'), phase_key: phaseKey, item_key: z.string().min(1) }),
  z
    .strictObject({
      op: z.literal('update_item'),
      phase_key: phaseKey,
      item_key: z.string().min(1),
      price: price.optional(),
      entitlement: entitlement.nullable().optional(),
    })
    .refine((c) => c.price !== undefined || c.entitlement !== undefined, {
      message: 'update_item needs a price or an entitlement',
    }),
  z.strictObject({
    op: z.literal('stretch_phase'),
    phase_key: phaseKey,
    extend_by: z
      .string()
      .refine(
        (d) => duration.safeParse(d.replace(/^-/, '')).success,
        'must be an ISO-8601 duration, negative to shorten (P10D, -P10D)',
      ),
  }),
  z.strictObject({ op: z.literal('unschedule_edit') }),
  z.looseObject({ op: z.literal('add_phase') }),
  z.looseObject({ op: z.literal('remove_phase') }),
]);
const customizations = z.array(customization).min(1).max(100);

// OpenMeter's BillingSubscriptionCreate: labels and the two modes are stored and shown (see the README);
// `custom_plan` (OpenMeter v1's customPlan) instead of `plan`, `customizations` with `plan`
const createBody = z
  .strictObject({
    customer: customerRef,
    plan: planRef.optional(),
    custom_plan: customPlanBody.optional(),
    customizations: customizations.optional(),
    billing_anchor: dateTime.optional(),
    active_from: dateTime.optional(),
    active_to: dateTime.optional(),
    labels: labels.optional(),
    settlement_mode: settlementMode.optional(),
    cost_basis_mode: costBasisMode.optional(),
  })
  .superRefine((b, ctx) => {
    if ((b.plan === undefined) === (b.custom_plan === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['plan'],
        message: 'exactly one of plan, custom_plan is required',
      });
    if (b.custom_plan && b.customizations)
      ctx.addIssue({
        code: 'custom',
        path: ['customizations'],
        message: 'customizations go with plan (a custom plan says what it contains)',
      });
  });
// OpenMeter v1's SubscriptionEdit (snake_case)
const editBody = z.strictObject({ customizations, timing: timing.default('immediate') });
const cancelBody = z.strictObject({ timing: timing.default('immediate') });
// OpenMeter's BillingSubscriptionChange: `customer` must name the subscription's customer; the other
// fields a new OpenMeter subscription would take are accepted and ignored (Tally changes in place)
const changeBody = z.strictObject({
  plan: planRef,
  timing,
  customer: customerRef.optional(),
  labels: labels.optional(),
  settlement_mode: settlementMode.optional(),
  billing_anchor: dateTime.optional(),
  cost_basis_mode: costBasisMode.optional(),
});
const migrateBody = z.strictObject({
  target_version: z.number().int().min(1).optional(),
  timing: timing.default('immediate'),
});

const listQuery = z.object({
  page: pageQuery,
  // OpenMeter's ListSubscriptionsParamsFilter (customer_id also takes the customer's key)
  filter: filterObject(
    {
      id: fieldFilter('ulid'),
      customer_id: fieldFilter('ulid'),
      plan_id: fieldFilter('ulid'),
      plan_key: fieldFilter('exact'),
      status: fieldFilter('exact', API_STATUSES),
    },
    { labels: true },
  ).optional(),
  sort: sortQuery(SUBSCRIPTION_SORT_FIELDS),
});

export function subscriptionRoutes(deps: AppDeps): Router {
  const r = Router();
  const svc = createSubscriptionsService(deps);
  const base = '/subscriptions';

  r.post(base, async (req, res) => {
    const body = parseBody(createBody, req.body);
    res.status(201).json(await svc.create(body));
  });
  r.get(base, async (req, res) => {
    res.json(await svc.list(parseQuery(listQuery, req.query)));
  });
  r.get(`${base}/:id`, async (req, res) => {
    res.json(await svc.get(req.params.id));
  });
  r.post(`${base}/:id/cancel`, async (req, res) => {
    const body = parseBody(cancelBody, req.body ?? {});
    res.json(await svc.cancel(req.params.id, body.timing));
  });
  r.post(`${base}/:id/unschedule-cancelation`, async (req, res) => {
    res.json(await svc.unscheduleCancelation(req.params.id));
  });
  r.post(`${base}/:id/change`, async (req, res) => {
    const body = parseBody(changeBody, req.body);
    const view = await svc.change(req.params.id, body.plan, body.timing, body.customer);
    // OpenMeter's BillingSubscriptionChangeResponse; Tally keeps one subscription across a change, so
    // `current` and `next` are the same subscription (its pending change says what happens when)
    res.json({ ...view, current: view, next: view });
  });
  r.patch(`${base}/:id`, async (req, res) => {
    const body = parseBody(editBody, req.body);
    res.json(await svc.edit(req.params.id, body.customizations, body.timing));
  });
  r.post(`${base}/:id/migrate`, async (req, res) => {
    const body = parseBody(migrateBody, req.body ?? {});
    res.json(await svc.migrate(req.params.id, body.target_version, body.timing));
  });
  return r;
}
