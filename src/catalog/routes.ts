/** REST: /v3/openmeter/features and /v3/openmeter/plans. */
import { Router } from 'express';
import { z } from 'zod';
import { labels } from '../api/schemas';
import { gone } from '../lib/errors';
import type { AppDeps } from '../deps';
import { KEY_IS_ID_SHAPED, looksLikeId } from '../lib/ids';
import { pageQuery } from '../lib/pagination';
import { parseBody, parseQuery } from '../api/validate';
import { isValidDuration } from './periods';
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { createCatalogService, FEATURE_SORT_FIELDS, PLAN_SORT_FIELDS } from './service';

// ---------------------------------------------------------------------------------------------------
// body schemas (unknown properties are rejected everywhere)

/** ResourceKey; hyphens are allowed as well as underscores (e.g. `active-users`). */
export const resourceKey = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:[_-][a-z0-9]+)*$/, 'must be lowercase letters and digits separated by _ or -')
  .refine((k) => !looksLikeId(k), KEY_IS_ID_SHAPED);
export const name = z.string().min(1).max(256);
export const description = z.string().max(1024).optional();
export const duration = z
  .string()
  .refine(isValidDuration, 'must be an ISO-8601 duration such as P1M or PT1H');
/** non-negative decimal string */
const amount = z.string().regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string such as "10.50"');
const ulidOrKey = z.string().min(1).max(64);

// OpenMeter's QueryFilterStringMapItem; Tally bills and meters features by `eq` and `in` only so far: the
// other operators are refused by name rather than ignored (ignoring one would count usage it excludes)
const UNSUPPORTED_FILTER_OPS = ['neq', 'nin', 'contains', 'ncontains', 'exists', 'and', 'or'] as const;
const meterFilter = z
  .strictObject({
    eq: z.string().optional(),
    in: z.array(z.string()).min(1).max(100).optional(),
    ...Object.fromEntries(UNSUPPORTED_FILTER_OPS.map((op) => [op, z.json().optional()])),
  })
  .superRefine((f, ctx) => {
    const unsupported = UNSUPPORTED_FILTER_OPS.filter(
      (op) => (f as Record<string, unknown>)[op] !== undefined,
    );
    for (const op of unsupported)
      ctx.addIssue({
        code: 'custom',
        path: [op],
        message: `the ${op} operator is not supported in a feature's meter filters yet (eq and in are)`,
      });
    if (!unsupported.length && (f.eq !== undefined) === (f.in !== undefined))
      ctx.addIssue({ code: 'custom', message: 'exactly one of eq, in is required' });
  });

const createFeatureBody = z.strictObject({
  key: resourceKey,
  name,
  description,
  labels: labels.optional(),
  meter: z
    .strictObject({
      id: z.string().min(1),
      filters: z
        .record(z.string().min(1), meterFilter)
        .refine((o) => Object.keys(o).length <= 10, 'at most 10 filters are allowed')
        .optional(),
    })
    .optional(),
  // OpenMeter's BillingFeatureUnitCost: stored and shown, not used yet (see the README)
  unit_cost: z.json().optional(),
});

/** OpenMeter's UpdateFeatureRequest: only `unit_cost` (null clears it) */
const updateFeatureBody = z.strictObject({ unit_cost: z.json().optional() });

const flatPrice = z.strictObject({ type: z.literal('flat'), amount });
const unitPrice = z.strictObject({ type: z.literal('unit'), amount });
const tier = z.strictObject({
  up_to_amount: amount.optional(),
  flat_price: flatPrice.optional(),
  unit_price: unitPrice.optional(),
});
export const price = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('free') }),
  flatPrice,
  unitPrice,
  z.strictObject({ type: z.literal('graduated'), tiers: z.array(tier).min(1) }),
  z.strictObject({ type: z.literal('volume'), tiers: z.array(tier).min(1) }),
]);

export const entitlement = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('boolean') }),
  z.strictObject({
    type: z.literal('metered'),
    is_soft_limit: z.boolean().optional(),
    limit: z.number().min(0).optional(),
    usage_period: duration.optional(),
  }),
  z.strictObject({ type: z.literal('static'), config: z.json() }),
]);

export const rateCard = z.strictObject({
  key: resourceKey,
  name,
  description,
  labels: labels.optional(),
  feature: z.strictObject({ id: ulidOrKey }).optional(),
  billing_cadence: duration.nullish(),
  payment_term: z.enum(['in_advance', 'in_arrears']).optional(),
  price,
  entitlement: entitlement.optional(),
  // OpenMeter's fields that Tally stores with the plan and does not bill yet (see the README)
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as USD')
    .optional(),
  unit_config: z.json().optional(),
  commitments: z.json().optional(),
  discounts: z.json().optional(),
  tax_config: z.json().optional(),
});

const phase = z.strictObject({
  key: resourceKey,
  name,
  description,
  labels: labels.optional(),
  duration: duration.optional(),
  rate_cards: z.array(rateCard),
});

const planFields = {
  key: resourceKey,
  name,
  description,
  labels: labels.optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as USD'),
  billing_cadence: duration,
  pro_rating_enabled: z.boolean().optional(),
  phases: z.array(phase).min(1),
};
/** A rate card's `currency` must be its plan's. */
const rateCardCurrencies = (
  p: { currency: string; phases: { rate_cards: { currency?: string }[] }[] },
  ctx: z.RefinementCtx,
) =>
  p.phases.forEach((ph, i) =>
    ph.rate_cards.forEach((rc, j) => {
      if (rc.currency !== undefined && rc.currency !== p.currency)
        ctx.addIssue({
          code: 'custom',
          path: ['phases', i, 'rate_cards', j, 'currency'],
          message: `must be the plan's currency ${p.currency}`,
        });
    }),
  );
/**
 * A subscription's custom plan (OpenMeter v1's customPlan, snake_case): a plan body whose key is optional
 * (it is never a catalog key's version).
 */
export const customPlanBody = z
  .strictObject({ ...planFields, key: resourceKey.optional() })
  .superRefine(rateCardCurrencies);

const createPlanBody = z.strictObject(planFields).superRefine(rateCardCurrencies);

const updatePlanBody = z.strictObject({
  name,
  description,
  labels: labels.optional(),
  pro_rating_enabled: z.boolean().optional(),
  phases: z.array(phase).min(1),
});

// ---------------------------------------------------------------------------------------------------
// list queries: OpenMeter's page[...], filter[...] (src/lib/list-query.ts) and sort

const featureListQuery = z.object({
  page: pageQuery,
  filter: filterObject(
    { key: fieldFilter('string'), meter_id: fieldFilter('ulid'), name: fieldFilter('string') },
    { labels: true },
  ).optional(),
  sort: sortQuery(FEATURE_SORT_FIELDS),
});

const PLAN_STATUSES = ['draft', 'active', 'archived', 'scheduled'] as const;
const planListQuery = z.object({
  page: pageQuery,
  filter: filterObject(
    {
      key: fieldFilter('string'),
      name: fieldFilter('string'),
      status: fieldFilter('exact', PLAN_STATUSES),
      currency: fieldFilter('exact'),
    },
    { labels: true },
  ).optional(),
  sort: sortQuery(PLAN_SORT_FIELDS),
});

// ---------------------------------------------------------------------------------------------------

export function catalogRoutes(deps: AppDeps): Router {
  const svc = createCatalogService(deps);
  const r = Router();

  r.post('/features', async (req, res) => {
    const body = parseBody(createFeatureBody, req.body);
    res.status(201).json(await svc.createFeature(body));
  });

  r.get('/features', async (req, res) => {
    const q = parseQuery(featureListQuery, req.query);
    res.json(await svc.listFeatures({ page: q.page, sort: q.sort, ...q.filter }));
  });

  r.get('/features/:featureId', async (req, res) => {
    const f = await svc.getFeature(req.params.featureId);
    if (f.deleted_at) throw gone('feature', f.id);
    res.json(f);
  });

  r.patch('/features/:featureId', async (req, res) => {
    const body = parseBody(updateFeatureBody, req.body);
    res.json(await svc.updateFeature(req.params.featureId, body));
  });

  r.delete('/features/:featureId', async (req, res) => {
    await svc.archiveFeature(req.params.featureId);
    res.status(204).end();
  });

  r.post('/plans', async (req, res) => {
    const body = parseBody(createPlanBody, req.body);
    res.status(201).json(await svc.createPlan(body));
  });

  r.get('/plans', async (req, res) => {
    const q = parseQuery(planListQuery, req.query);
    res.json(await svc.listPlans({ page: q.page, sort: q.sort, ...q.filter }));
  });

  r.get('/plans/:planId', async (req, res) => {
    res.json(await svc.getPlan(req.params.planId));
  });

  r.put('/plans/:planId', async (req, res) => {
    const body = parseBody(updatePlanBody, req.body);
    res.json(await svc.updatePlan(req.params.planId, body));
  });

  r.delete('/plans/:planId', async (req, res) => {
    await svc.deletePlan(req.params.planId);
    res.status(204).end();
  });

  r.post('/plans/:planId/publish', async (req, res) => {
    res.json(await svc.publishPlan(req.params.planId));
  });

  r.post('/plans/:planId/archive', async (req, res) => {
    res.json(await svc.archivePlan(req.params.planId));
  });

  return r;
}
