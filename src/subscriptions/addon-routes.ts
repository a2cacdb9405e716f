/**
 * REST: /v3/openmeter/subscriptions/{subscriptionId}/addons — buy an add-on (OpenMeter's
 * create-subscription-addon), list and get them; change the quantity or cancel (Tally's: OpenMeter v3 has no
 * update operation yet; its v1 PATCH takes the same quantity and timing).
 */
import { Router } from 'express';
import { z } from 'zod';
import { dateTime, labels } from '../api/schemas';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { sortQuery } from '../lib/list-query';
import { pageQuery } from '../lib/pagination';
import { createSubscriptionAddonsService, SUBSCRIPTION_ADDON_SORT_FIELDS } from './addons';

const timing = z.union([z.literal('immediate'), z.literal('next_billing_cycle'), dateTime], {
  message: 'must be "immediate", "next_billing_cycle" or an RFC 3339 date-time',
});

const purchaseBody = z.strictObject({
  labels: labels.optional(),
  addon: z.strictObject({ id: z.string().min(1).max(64) }),
  quantity: z.number().int().min(1),
  timing,
});
const updateBody = z.strictObject({ quantity: z.number().int().min(0), timing });
const cancelBody = z.strictObject({ timing: timing.default('immediate') });
const listQuery = z.object({ page: pageQuery, sort: sortQuery(SUBSCRIPTION_ADDON_SORT_FIELDS) });

export function subscriptionAddonRoutes(deps: AppDeps): Router {
  const r = Router();
  const svc = createSubscriptionAddonsService(deps);
  const base = '/subscriptions/:subscriptionId/addons';

  r.post(base, async (req, res) => {
    const body = parseBody(purchaseBody, req.body);
    res.status(201).json(await svc.purchase(req.params.subscriptionId, body));
  });
  r.get(base, async (req, res) => {
    res.json(await svc.list(req.params.subscriptionId, parseQuery(listQuery, req.query)));
  });
  r.get(`${base}/:subscriptionAddonId`, async (req, res) => {
    res.json(await svc.get(req.params.subscriptionId, req.params.subscriptionAddonId));
  });
  r.patch(`${base}/:subscriptionAddonId`, async (req, res) => {
    const body = parseBody(updateBody, req.body);
    res.json(
      await svc.changeQuantity(
        req.params.subscriptionId,
        req.params.subscriptionAddonId,
        body.quantity,
        body.timing,
      ),
    );
  });
  r.post(`${base}/:subscriptionAddonId/cancel`, async (req, res) => {
    const body = parseBody(cancelBody, req.body);
    res.json(
      await svc.changeQuantity(req.params.subscriptionId, req.params.subscriptionAddonId, 0, body.timing),
    );
  });
  return r;
}
