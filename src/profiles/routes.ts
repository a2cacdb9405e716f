/**
 * REST: /v3/openmeter/profiles (billing profiles) and /v3/openmeter/customers/{customerId}/billing (a
 * customer's profile and workflow overrides). Every field is validated here; errors name the field.
 */
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../api/problem';
import { dateTime, labels, postalAddress } from '../api/schemas';
import { parseBody, parseQuery } from '../api/validate';
import { isValidDuration, minDurationMs, nominalDurationMs } from '../catalog/periods';
import type { AppDeps } from '../deps';
import { looksLikeId } from '../lib/ids';
import { pageQuery } from '../lib/pagination';
import { createProfilesService } from './service';

// ---------------------------------------------------------------------------------------------------
// field schemas (additionalProperties: false everywhere)

/** The longest duration a profile takes: a draft period or due date past it is no date an invoice can carry. */
const MAX_PROFILE_DURATION = 'P100Y';
const MAX_PROFILE_DURATION_MS = nominalDurationMs(MAX_PROFILE_DURATION);

/** An ISO-8601 duration of zero or more (`P0D`, `PT1H`, `P30D`), at most 100 years. */
const duration = z.string().superRefine((s, ctx) => {
  if (s.startsWith('-')) ctx.addIssue({ code: 'custom', message: 'must not be negative' });
  else if (!isValidDuration(s))
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 duration such as P30D or PT1H' });
  else if (!(nominalDurationMs(s) <= MAX_PROFILE_DURATION_MS))
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PROFILE_DURATION} (100 years)` });
});

/** A duration longer than zero (a recurring period). */
const positiveDuration = duration.refine((s) => !isValidDuration(s) || minDurationMs(s) > 0, {
  message: 'must be longer than zero',
});

const ulid = z.string().refine(looksLikeId, 'must be a ULID');

const supplier = z.strictObject({
  key: z.string().min(1).max(256).optional(),
  name: z.string().min(1).max(256).optional(),
  email: z.email('must be an email address').optional(),
  tax_id: z.strictObject({ code: z.string().min(1).max(32).optional() }).optional(),
  addresses: z.strictObject({ billing_address: postalAddress }).optional(),
});

const alignment = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('subscription') }),
    z.strictObject({
      type: z.literal('anchored'),
      recurring_period: z.strictObject({
        anchor: dateTime,
        interval: positiveDuration,
      }),
    }),
  ],
  { error: 'type must be subscription or anchored' },
);

const payment = z.discriminatedUnion(
  'collection_method',
  [
    z
      .strictObject({
        collection_method: z.literal('charge_automatically'),
        due_after: z.unknown().optional(),
      })
      .superRefine((v, ctx) => {
        if (v.due_after !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['due_after'],
            message: 'applies to send_invoice only (a charge_automatically invoice is charged when issued)',
          });
      })
      .transform(({ collection_method }) => ({ collection_method })),
    z.strictObject({ collection_method: z.literal('send_invoice'), due_after: duration.optional() }),
  ],
  { error: 'collection_method must be charge_automatically or send_invoice' },
);

/**
 * A profile's workflow, or a customer's overrides of it: every part optional. OpenMeter's
 * `invoicing.progressive_billing`, `invoicing.subscription_end_proration_mode` and `tax` are accepted and
 * ignored (dropped here): Tally never bills progressively, prorates a subscription's last period by the time
 * used, and computes no tax (see the README).
 */
const workflow = z
  .strictObject({
    collection: z.strictObject({ alignment: alignment.optional(), interval: duration.optional() }).optional(),
    invoicing: z
      .strictObject({
        auto_advance: z.boolean().optional(),
        draft_period: duration.optional(),
        progressive_billing: z.boolean().optional(),
        subscription_end_proration_mode: z.enum(['bill_full_period', 'bill_actual_period']).optional(),
      })
      .transform(({ auto_advance, draft_period }) => ({
        ...(auto_advance !== undefined ? { auto_advance } : {}),
        ...(draft_period !== undefined ? { draft_period } : {}),
      }))
      .optional(),
    payment: payment.optional(),
    tax: z
      .strictObject({
        enabled: z.boolean().optional(),
        enforced: z.boolean().optional(),
        default_tax_config: z.json().optional(),
      })
      .optional(),
  })
  .transform(({ tax: _tax, ...w }) => w);

// whether the app is installed (with the role's capability) is checked by the service
const appRef = z.strictObject({ id: ulid });
const apps = z.strictObject({ invoicing: appRef, payment: appRef, tax: appRef });

const profileFields = {
  name: z.string().min(1).max(256),
  description: z.string().max(1024).nullish(),
  labels: labels.nullish(),
  supplier,
  workflow: workflow.optional(),
  apps: apps.optional(),
  default: z.boolean(),
};

const createBody = z.strictObject(profileFields);
const replaceBody = z.strictObject(profileFields);

// OpenMeter's UpsertCustomerBillingDataRequest (`app_data` is accepted and ignored: Tally has no Stripe or
// external invoicing app yet) plus Tally's workflow overrides
const customerBillingBody = z
  .strictObject({
    billing_profile: z.strictObject({ id: ulid }).nullish(),
    workflow: workflow.nullish(),
    app_data: z.json().optional(),
  })
  .transform(({ app_data: _appData, ...b }) => b);

const listQuery = z.object({ page: pageQuery });

/** The `{id}` path segment: a ULID (any case). */
function profileId(id: string): string {
  if (!looksLikeId(id))
    throw badRequest('the billing profile id is invalid', [{ field: 'path.id', reason: 'must be a ULID' }]);
  return id;
}

// ---------------------------------------------------------------------------------------------------

export function profileRoutes(deps: AppDeps): Router {
  const svc = createProfilesService(deps);
  const r = Router();

  r.post('/profiles', async (req, res) => {
    res.status(201).json(await svc.create(parseBody(createBody, req.body)));
  });

  r.get('/profiles', async (req, res) => {
    res.json(await svc.list(parseQuery(listQuery, req.query).page));
  });

  r.get('/profiles/:id', async (req, res) => {
    res.json(await svc.get(profileId(req.params.id)));
  });

  r.put('/profiles/:id', async (req, res) => {
    const id = profileId(req.params.id);
    res.json(await svc.replace(id, parseBody(replaceBody, req.body)));
  });

  r.delete('/profiles/:id', async (req, res) => {
    await svc.delete(profileId(req.params.id));
    res.status(204).end();
  });

  r.get('/customers/:customerId/billing', async (req, res) => {
    res.json(await svc.getCustomerBilling(req.params.customerId));
  });

  r.put('/customers/:customerId/billing', async (req, res) => {
    const body = parseBody(customerBillingBody, req.body);
    res.json(await svc.replaceCustomerBilling(req.params.customerId, body));
  });

  return r;
}
