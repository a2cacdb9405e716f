/** REST: a customer's entitlement access, and the batch access query for API gateways. */
import { Router } from 'express';
import { z } from 'zod';
import { parseBody } from '../api/validate';
import type { AppDeps } from '../deps';
import { createEntitlementsService } from './service';

const keys = z.array(z.string().min(1).max(256)).min(1).max(100);

// OpenMeter's EntitlementAccessQueryRequest; `include_credits` is accepted and ignored (Tally has no credits,
// so access is the same either way)
const queryBody = z
  .strictObject({
    customer: z.strictObject({ keys }),
    feature: z.strictObject({ keys }).optional(),
    include_credits: z.boolean().optional(),
  })
  .transform(({ include_credits: _ignored, ...q }) => q);

export function entitlementRoutes(deps: AppDeps): Router {
  const r = Router();
  const svc = createEntitlementsService(deps);

  r.get('/customers/:customerId/entitlement-access', async (req, res) => {
    res.json(await svc.customerAccess(req.params.customerId));
  });

  r.post('/entitlement-access/query', async (req, res) => {
    res.json(await svc.queryAccess(parseBody(queryBody, req.body)));
  });

  return r;
}
