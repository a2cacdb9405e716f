/**
 * REST: /v3/openmeter/customers (paths accept the customer's ULID id — any case — or its key; a segment
 * shaped like an id is looked up as an id only).
 */
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../api/problem';
import type { AppDeps } from '../deps';
import { KEY_IS_ID_SHAPED, looksLikeId } from '../lib/ids';
import { pageQuery } from '../lib/pagination';
import { labels, postalAddress } from '../api/schemas';
import { parseBody, parseQuery } from '../api/validate';
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { createCustomersService } from './service';

// ---------------------------------------------------------------------------------------------------
// body schemas (additionalProperties: false everywhere)

const subjectKey = z.string().min(1).max(256);

const replaceFields = {
  name: z.string().min(1).max(256),
  description: z.string().max(1024).nullish(),
  labels: labels.nullish(),
  usage_attribution: z.strictObject({ subject_keys: z.array(subjectKey).max(1000) }).nullish(),
  primary_email: z.email('must be an email address').nullish(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as USD')
    .nullish(),
  billing_address: postalAddress.nullish(),
};

/** A customer key: 1-256 characters, never shaped like an id (a ULID in any case), so keys and ids never mix. */
const customerKey = z
  .string()
  .min(1)
  .max(256)
  .refine((k) => !looksLikeId(k), KEY_IS_ID_SHAPED);

const createBody = z.strictObject({ key: customerKey, ...replaceFields });
// `key` is immutable: tolerated only when it repeats the current key (e.g. a GET body sent back)
const replaceBody = z.strictObject({ key: z.string().optional(), ...replaceFields });

// ---------------------------------------------------------------------------------------------------
// list query: page[...], filter[field]=v | filter[field][op]=v, sort=field [asc|desc],...

const SORT_FIELDS = ['id', 'name', 'created_at'] as const;

const listQuery = z.object({
  page: pageQuery,
  // OpenMeter's ListCustomersParamsFilter (billing_profile_id: not yet, see the README)
  filter: filterObject(
    {
      key: fieldFilter('string'),
      name: fieldFilter('string'),
      primary_email: fieldFilter('string'),
      usage_attribution_subject_key: fieldFilter('string'),
      plan_key: fieldFilter('string'),
    },
    { labels: true },
  ).optional(),
  sort: sortQuery(SORT_FIELDS),
});

// ---------------------------------------------------------------------------------------------------

export function customerRoutes(deps: AppDeps): Router {
  const svc = createCustomersService(deps);
  const r = Router();

  r.post('/customers', async (req, res) => {
    const body = parseBody(createBody, req.body);
    res.status(201).json(await svc.create(body));
  });

  r.get('/customers', async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    res.json(await svc.list(q));
  });

  r.get('/customers/:customerId', async (req, res) => {
    res.json(await svc.get(req.params.customerId));
  });

  r.put('/customers/:customerId', async (req, res) => {
    const { key, ...body } = parseBody(replaceBody, req.body);
    if (key !== undefined) {
      const current = await svc.get(req.params.customerId);
      if (key !== current.key)
        throw badRequest('the customer key is immutable', [
          { field: 'body.key', reason: `key is immutable (current key [${current.key}])` },
        ]);
    }
    res.json(await svc.replace(req.params.customerId, body));
  });

  r.delete('/customers/:customerId', async (req, res) => {
    await svc.delete(req.params.customerId);
    res.status(204).end();
  });

  return r;
}
