/**
 * REST: /v3/openmeter/app-catalog, /apps, /customers/{customerId}/billing/app-data and the Stripe sessions.
 * The Stripe webhook (`stripeWebhookRouter`) is mounted by src/api/app.ts BEFORE the bearer-token
 * middleware: Stripe authenticates it by its signature.
 */
import express, { Router } from 'express';
import { z } from 'zod';
import { parseBody, parseQuery } from '../api/validate';
import type { AppDeps } from '../deps';
import { pageQuery } from '../lib/pagination';
import {
  authenticateCallback,
  CUSTOM_PAYMENT_TRIGGERS,
  reportPaymentStatus,
  reportSync,
} from './custominvoicing';
import { createAppsService } from './service';
import { getCustomerAppData, putCustomerAppData } from './stripe/customers';
import { createCheckoutSession, createPortalSession } from './stripe/sessions';
import { handleStripeWebhook } from './stripe/webhook';
import { RequestContext } from '@mikro-orm/core';

const labels = z.record(z.string(), z.string()).nullish();
const installBody = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('sandbox'),
      name: z.string().min(1).max(256),
      create_billing_profile: z.boolean().optional(),
    }),
    z.strictObject({
      type: z.literal('stripe'),
      name: z.string().min(1).max(256),
      create_billing_profile: z.boolean().optional(),
      api_key: z.string().min(1).max(512),
      webhook_secret: z.string().min(1).max(512).optional(),
    }),
    z.strictObject({
      type: z.literal('custom_invoicing'),
      name: z.string().min(1).max(256),
      create_billing_profile: z.boolean().optional(),
      enable_draft_sync_hook: z.boolean().optional(),
      enable_issuing_sync_hook: z.boolean().optional(),
      callback_token: z
        .string()
        .regex(/^[\x21-\x7e]{32,256}$/, 'must be 32 to 256 printable characters, no spaces')
        .optional(),
    }),
  ],
  { error: 'type must be sandbox, stripe or custom_invoicing' },
);
const updateBody = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('sandbox'),
      name: z.string().min(1).max(256),
      description: z.string().max(1024).nullish(),
      labels,
    }),
    z.strictObject({
      type: z.literal('stripe'),
      name: z.string().min(1).max(256),
      description: z.string().max(1024).nullish(),
      labels,
      secret_api_key: z.string().min(1).max(512).optional(),
    }),
    z.strictObject({
      type: z.literal('custom_invoicing'),
      name: z.string().min(1).max(256),
      description: z.string().max(1024).nullish(),
      labels,
      enable_draft_sync_hook: z.boolean().optional(),
      enable_issuing_sync_hook: z.boolean().optional(),
      callback_token: z
        .string()
        .regex(/^[\x21-\x7e]{32,256}$/, 'must be 32 to 256 printable characters, no spaces')
        .optional(),
      rotate_callback_token: z.boolean().optional(),
    }),
  ],
  { error: 'type must be sandbox, stripe or custom_invoicing' },
);
const appDataBody = z.strictObject({
  stripe: z
    .strictObject({
      customer_id: z.string().min(1).max(255).optional(),
      default_payment_method_id: z.string().min(1).max(255).optional(),
      labels: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  external_invoicing: z.unknown().optional(),
});
const customText = z.strictObject({ message: z.string().max(1200).optional() }).optional();
/** metadata keys Tally sets on every session (and its setup intent) */
export const CHECKOUT_RESERVED_METADATA = ['tally_customer_id', 'tally_app_id'];
/**
 * OpenMeter's BillingAppStripeCreateCheckoutSessionRequestOptions, every field. All are passed to Stripe's
 * checkout.sessions.create (src/apps/stripe/sessions.ts) except `payment_method_types`, accepted and ignored:
 * the Stripe API version Tally's SDK pins has no such parameter (see the README).
 */
const checkoutOptions = z
  .strictObject({
    billing_address_collection: z.enum(['auto', 'required']).optional(),
    cancel_url: z.url().optional(),
    client_reference_id: z.string().min(1).max(200).optional(),
    customer_update: z
      .strictObject({
        address: z.enum(['auto', 'never']).optional(),
        name: z.enum(['auto', 'never']).optional(),
        shipping: z.enum(['auto', 'never']).optional(),
      })
      .optional(),
    consent_collection: z
      .strictObject({
        payment_method_reuse_agreement: z
          .strictObject({ position: z.enum(['auto', 'hidden']).optional() })
          .optional(),
        promotions: z.enum(['auto', 'none']).optional(),
        terms_of_service: z.enum(['none', 'required']).optional(),
      })
      .optional(),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/, { message: 'must be a three-letter ISO 4217 code' })
      .optional(),
    custom_text: z
      .strictObject({
        after_submit: customText,
        shipping_address: customText,
        submit: customText,
        terms_of_service_acceptance: customText,
      })
      .optional(),
    expires_at: z.number().int().positive().optional(),
    locale: z.string().min(1).max(20).optional(),
    metadata: z
      .record(
        z
          .string()
          .min(1)
          .max(40)
          .refine((k) => !CHECKOUT_RESERVED_METADATA.includes(k), { message: 'is reserved by Tally' }),
        z.string().max(500),
      )
      .refine((m) => Object.keys(m).length <= 50 - CHECKOUT_RESERVED_METADATA.length, {
        message: `at most ${50 - CHECKOUT_RESERVED_METADATA.length} keys (Stripe allows 50; Tally sets ${CHECKOUT_RESERVED_METADATA.length})`,
      })
      .optional(),
    return_url: z.url().optional(),
    success_url: z.url().optional(),
    ui_mode: z.enum(['hosted', 'embedded']).optional(),
    payment_method_types: z.array(z.string().min(1).max(100)).max(50).optional(),
    redirect_on_completion: z.enum(['always', 'if_required', 'never']).optional(),
    tax_id_collection: z
      .strictObject({
        enabled: z.boolean().default(false),
        required: z.enum(['if_supported', 'never']).optional(),
      })
      .optional(),
  })
  .superRefine((o, ctx) => {
    // as OpenMeter's document: an embedded session returns in place, it has no success or cancel page
    if (o.ui_mode === 'embedded')
      for (const f of ['success_url', 'cancel_url'] as const)
        if (o[f] !== undefined)
          ctx.addIssue({ code: 'custom', path: [f], message: 'is not allowed when ui_mode is embedded' });
  });
const checkoutBody = z.strictObject({ stripe_options: checkoutOptions.default({}) });
const portalBody = z.strictObject({
  stripe_options: z
    .strictObject({
      return_url: z.url().optional(),
      configuration_id: z.string().optional(),
      locale: z.string().optional(),
    })
    .optional(),
});
const listQuery = z.object({ page: pageQuery });
const draftSyncBody = z.strictObject({
  invoicing: z
    .strictObject({
      invoice_number: z.string().min(1).max(256).optional(),
      external_id: z.string().min(1).max(256).optional(),
      line_external_ids: z
        .array(
          z.strictObject({ line_id: z.string().min(1).max(64), external_id: z.string().min(1).max(256) }),
        )
        .max(1000)
        .optional(),
    })
    .optional(),
});
const issuingSyncBody = z.strictObject({
  invoicing: z
    .strictObject({
      invoice_number: z.string().min(1).max(256).optional(),
      sent_to_customer_at: z.iso.datetime({ offset: true }).optional(),
    })
    .optional(),
  payment: z.strictObject({ external_id: z.string().min(1).max(256).optional() }).optional(),
});
const paymentStatusBody = z.strictObject({ trigger: z.enum(CUSTOM_PAYMENT_TRIGGERS) });

export function appRoutes(deps: AppDeps): Router {
  const svc = createAppsService(deps);
  const em = () => deps.orm.em;
  const r = Router();

  r.get('/app-catalog', (req, res) => {
    res.json(svc.catalog(parseQuery(listQuery, req.query).page));
  });
  r.get('/app-catalog/:appType', (req, res) => {
    res.json(svc.catalogItem(req.params.appType));
  });
  r.post('/app-catalog/install', async (req, res) => {
    res.status(201).json(await svc.install(parseBody(installBody, req.body)));
  });
  r.get('/apps', async (req, res) => {
    res.json(await svc.list(parseQuery(listQuery, req.query).page));
  });
  r.get('/apps/:appId', async (req, res) => {
    res.json(await svc.get(req.params.appId));
  });
  r.put('/apps/:appId', async (req, res) => {
    res.json(await svc.update(req.params.appId, parseBody(updateBody, req.body)));
  });
  r.delete('/apps/:appId', async (req, res) => {
    await svc.uninstall(req.params.appId);
    res.status(204).end();
  });

  r.get('/customers/:customerId/billing/app-data', async (req, res) => {
    res.json(await getCustomerAppData(em(), req.params.customerId));
  });
  r.put('/customers/:customerId/billing/app-data', async (req, res) => {
    const body = parseBody(appDataBody, req.body);
    res.json(await putCustomerAppData(deps, em(), req.params.customerId, { stripe: body.stripe }));
  });
  r.post('/customers/:customerId/billing/stripe/checkout-sessions', async (req, res) => {
    const body = parseBody(checkoutBody, req.body);
    res.status(201).json(await createCheckoutSession(deps, em(), req.params.customerId, body.stripe_options));
  });
  r.post('/customers/:customerId/billing/stripe/portal-sessions', async (req, res) => {
    const body = parseBody(portalBody, req.body);
    res
      .status(201)
      .json(await createPortalSession(deps, em(), req.params.customerId, body.stripe_options ?? {}));
  });

  // the callbacks: authenticated by the app's callback token (x-tally-auth: signature), not an API token,
  // before anything else is looked at
  const caller = (req: express.Request) => authenticateCallback(deps.orm.em.fork(), req.get('authorization'));
  r.post('/apps/custom-invoicing/:invoiceId/draft/synchronized', async (req, res) => {
    const appId = await caller(req);
    const body = parseBody(draftSyncBody, req.body ?? {});
    res.json(await reportSync(deps, req.params.invoiceId, 'draft', body, appId));
  });
  r.post('/apps/custom-invoicing/:invoiceId/issuing/synchronized', async (req, res) => {
    const appId = await caller(req);
    const body = parseBody(issuingSyncBody, req.body ?? {});
    res.json(await reportSync(deps, req.params.invoiceId, 'issuing', body, appId));
  });
  r.post('/apps/custom-invoicing/:invoiceId/payment/status', async (req, res) => {
    const appId = await caller(req);
    const body = parseBody(paymentStatusBody, req.body);
    res.json(await reportPaymentStatus(deps, req.params.invoiceId, body.trigger, appId));
  });
  return r;
}

/**
 * POST /v3/openmeter/apps/{appId}/stripe/webhook, to be mounted outside the bearer-token middleware: the
 * raw body is verified against the app's signing secret (400 when the signature is wrong).
 */
export function stripeWebhookRouter(deps: AppDeps): Router {
  const r = Router();
  r.post(
    '/apps/:appId/stripe/webhook',
    express.raw({ type: () => true, limit: '1mb' }),
    (_req, _res, next) => RequestContext.create(deps.orm.em, next),
    async (req, res) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      res.json(await handleStripeWebhook(deps, req.params.appId, body, req.get('stripe-signature') ?? ''));
    },
  );
  return r;
}
