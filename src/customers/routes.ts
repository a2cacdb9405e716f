/**
 * REST: /v3/openmeter/customers (paths accept the customer's ULID id — any case — or its key; a segment
 * shaped like an id is looked up as an id only).
 */
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../api/problem';
import { SANDBOX_TARGET_STATUS_LABEL } from '../apps/types';
import type { AppDeps } from '../deps';
import { KEY_IS_ID_SHAPED, looksLikeId } from '../lib/ids';
import { pageQuery } from '../lib/pagination';
import { parseBody, parseQuery } from '../api/validate';
import { fieldFilter, filterObject, sortQuery } from '../lib/list-query';
import { createCustomersService } from './service';

// ---------------------------------------------------------------------------------------------------
// body schemas (additionalProperties: false everywhere)

const LABEL_KEY = /^[a-z0-9A-Z]([a-z0-9A-Z\-._]*[a-z0-9A-Z]+)?$/;
const RESERVED_LABEL_PREFIXES = ['kong', 'konnect', 'mesh', 'kic', '_'];

const labels = z
  .record(z.string(), z.string())
  .superRefine((obj, ctx) => {
    const keys = Object.keys(obj);
    if (keys.length > 50) ctx.addIssue({ code: 'custom', message: 'at most 50 labels are allowed' });
    for (const k of keys) {
      // the one label key with slashes: the sandbox app's payment outcome (OpenMeter's key, src/apps)
      if (k === SANDBOX_TARGET_STATUS_LABEL) continue;
      if (k.length < 1 || k.length > 63 || !LABEL_KEY.test(k))
        ctx.addIssue({ code: 'custom', path: [k], message: 'invalid label key' });
      else if (RESERVED_LABEL_PREFIXES.some((p) => k.toLowerCase().startsWith(p)))
        ctx.addIssue({ code: 'custom', path: [k], message: 'label keys may not use a reserved prefix' });
    }
  })
  .nullish();

const address = z.strictObject({
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code')
    .optional(),
  postal_code: z.string().max(256).optional(),
  state: z.string().max(256).optional(),
  city: z.string().max(256).optional(),
  line1: z.string().max(256).optional(),
  line2: z.string().max(256).optional(),
  phone_number: z.string().max(256).optional(),
});

const subjectKey = z.string().min(1).max(256);

const replaceFields = {
  name: z.string().min(1).max(256),
  description: z.string().max(1024).nullish(),
  labels,
  usage_attribution: z.strictObject({ subject_keys: z.array(subjectKey).max(1000) }).nullish(),
  primary_email: z.email('must be an email address').nullish(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as USD')
    .nullish(),
  billing_address: address.nullish(),
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
