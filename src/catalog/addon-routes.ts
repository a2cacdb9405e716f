/** REST: /v3/openmeter/addons and /v3/openmeter/plans/{planId}/addons. */
import { Router } from 'express';
import { z } from 'zod';
import { labels } from '../api/schemas';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { pageQuery } from '../lib/pagination';
import { ADDON_SORT_FIELDS, createAddonService, PLAN_ADDON_SORT_FIELDS } from './addons';
import { description, name, rateCard, resourceKey } from './routes';

const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as USD');
const instanceType = z.enum(['single', 'multiple']);

const createAddonBody = z.strictObject({
  key: resourceKey,
  name,
  description,
  labels: labels.optional(),
  instance_type: instanceType,
  currency,
  rate_cards: z.array(rateCard),
});

const updateAddonBody = z.strictObject({
  name,
  description,
  labels: labels.optional(),
  instance_type: instanceType,
  rate_cards: z.array(rateCard),
});

const ADDON_STATUSES = ['draft', 'active', 'archived'] as const;
const addonListQuery = z.object({
  page: pageQuery,
  filter: filterObject(
    {
      id: fieldFilter('ulid'),
      key: fieldFilter('string'),
      name: fieldFilter('string'),
      status: fieldFilter('exact', ADDON_STATUSES),
      currency: fieldFilter('exact'),
    },
    { labels: true },
  ).optional(),
  sort: sortQuery(ADDON_SORT_FIELDS),
});

const planAddonFields = {
  name,
  description,
  labels: labels.optional(),
  from_plan_phase: resourceKey,
  max_quantity: z.number().int().min(1).optional(),
};
const createPlanAddonBody = z.strictObject({
  ...planAddonFields,
  addon: z.strictObject({ id: z.string().min(1).max(64) }),
});
const updatePlanAddonBody = z.strictObject(planAddonFields);

const planAddonListQuery = z.object({ page: pageQuery, sort: sortQuery(PLAN_ADDON_SORT_FIELDS) });

export function addonRoutes(deps: AppDeps): Router {
  const svc = createAddonService(deps);
  const r = Router();

  r.post('/addons', async (req, res) => {
    res.status(201).json(await svc.createAddon(parseBody(createAddonBody, req.body)));
  });
  r.get('/addons', async (req, res) => {
    const q = parseQuery(addonListQuery, req.query);
    res.json(await svc.listAddons({ page: q.page, sort: q.sort, ...q.filter }));
  });
  r.get('/addons/:addonId', async (req, res) => {
    res.json(await svc.getAddon(req.params.addonId));
  });
  r.put('/addons/:addonId', async (req, res) => {
    res.json(await svc.updateAddon(req.params.addonId, parseBody(updateAddonBody, req.body)));
  });
  r.delete('/addons/:addonId', async (req, res) => {
    await svc.deleteAddon(req.params.addonId);
    res.status(204).end();
  });
  r.post('/addons/:addonId/publish', async (req, res) => {
    res.json(await svc.publishAddon(req.params.addonId));
  });
  r.post('/addons/:addonId/archive', async (req, res) => {
    res.json(await svc.archiveAddon(req.params.addonId));
  });

  r.get('/plans/:planId/addons', async (req, res) => {
    const q = parseQuery(planAddonListQuery, req.query);
    res.json(await svc.listPlanAddons(req.params.planId, q));
  });
  r.post('/plans/:planId/addons', async (req, res) => {
    const body = parseBody(createPlanAddonBody, req.body);
    res.status(201).json(await svc.createPlanAddon(req.params.planId, body));
  });
  r.get('/plans/:planId/addons/:planAddonId', async (req, res) => {
    res.json(await svc.getPlanAddon(req.params.planId, req.params.planAddonId));
  });
  r.put('/plans/:planId/addons/:planAddonId', async (req, res) => {
    const body = parseBody(updatePlanAddonBody, req.body);
    res.json(await svc.updatePlanAddon(req.params.planId, req.params.planAddonId, body));
  });
  r.delete('/plans/:planId/addons/:planAddonId', async (req, res) => {
    await svc.deletePlanAddon(req.params.planId, req.params.planAddonId);
    res.status(204).end();
  });
  return r;
}
