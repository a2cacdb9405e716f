/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 12, apps: the catalog and installed apps, the sandbox's payment paths, and the Stripe app against
 * stripe-mock (started by scripts/test.ts): install, customer data, issue → Stripe invoice with exact lines,
 * webhooks (signed with the SDK's test helper) → paid, replayed and reordered webhooks, and a worker
 * killed between creating and finalizing the Stripe invoice.
 */
import { SANDBOX_APP_ID, SANDBOX_TARGET_STATUS_LABEL } from '../../src/apps/types';
import { toMinorUnits } from '../../src/apps/stripe/amounts';
import { logger } from '../../src/lib/logger';
import { ok, P } from '../support/api';
import { createTestApp, type TestApp } from '../support/app';
import { advanceTo, createHarness, DAY, month, waitFor, type Harness } from '../support/harness';
import { fixtures } from '../support/api';
import { hasStripeMock, recordingStripeHttpClient, signedStripeEvent } from '../support/stripe';

jest.setTimeout(180_000);

const STRIPE_KEY = 'sk_test_tally0123456789abcdefSECRETKEY';
const WEBHOOK_SECRET = 'whsec_tally_test_signing_secret_0123456789';
const stripeIt = hasStripeMock() ? it : it.skip;

const SANDBOX_ROLES = {
  invoicing: { id: SANDBOX_APP_ID },
  payment: { id: SANDBOX_APP_ID },
  tax: { id: SANDBOX_APP_ID },
};
const roles = (id: string) => ({ invoicing: { id }, payment: { id }, tax: { id } });

async function installStripe(app: TestApp, name = 'Stripe'): Promise<any> {
  const res = await ok(
    app.api
      .post(`${P}/app-catalog/install`)
      .send({ type: 'stripe', name, api_key: STRIPE_KEY, webhook_secret: WEBHOOK_SECRET }),
    201,
  );
  return res.app;
}

const profileBody = (name: string, apps: unknown, extra: Record<string, unknown> = {}) => ({
  name,
  supplier: { name: 'Tally Test Ltd' },
  apps,
  default: false,
  ...extra,
});

describe('catalog and installed apps', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(() => app.close());

  it('lists the catalog with capabilities; 404 for an unknown type', async () => {
    const cat = await ok(app.api.get(`${P}/app-catalog`), 200);
    expect(cat.data.map((c: any) => c.type)).toEqual(['sandbox', 'stripe', 'custom_invoicing']);
    for (const c of cat.data.filter((x: any) => x.type !== 'custom_invoicing'))
      expect(c.capabilities.map((x: any) => x.type).sort()).toEqual([
        'calculate_tax',
        'collect_payments',
        'invoice_customers',
      ]);
    expect((await ok(app.api.get(`${P}/app-catalog/stripe`), 200)).install_methods).toEqual(['with_api_key']);
    expect((await app.api.get(`${P}/app-catalog/paypal`)).status).toBe(404);
  });

  it('has the sandbox installed by default, with its fixed id', async () => {
    const apps = await ok(app.api.get(`${P}/apps`), 200);
    expect(apps.data).toHaveLength(1);
    expect(apps.data[0]).toMatchObject({ id: SANDBOX_APP_ID, type: 'sandbox', status: 'ready' });
    expect(apps.data[0].definition.type).toBe('sandbox');
  });

  it('profiles name installed apps only', async () => {
    const res = await app.api
      .post(`${P}/profiles`)
      .send(profileBody('p', { ...SANDBOX_ROLES, payment: { id: '01JZZZZZZZZZZZZZZZZZZZZZZZ' } }));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('body.apps.payment.id');
    expect(JSON.stringify(res.body)).toContain('no installed app has this id');
    await ok(app.api.post(`${P}/profiles`).send(profileBody('sandbox profile', SANDBOX_ROLES)), 201);
  });

  it('refuses to uninstall an app a profile uses (409)', async () => {
    const res = await app.api.delete(`${P}/apps/${SANDBOX_APP_ID}`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain('used by billing profile');
    expect((await ok(app.api.get(`${P}/apps/${SANDBOX_APP_ID}`), 200)).id).toBe(SANDBOX_APP_ID);
  });

  it('installs a second sandbox, updates and uninstalls it', async () => {
    const { app: sb } = await ok(
      app.api.post(`${P}/app-catalog/install`).send({ type: 'sandbox', name: 'Rehearsal' }),
      201,
    );
    expect(sb).toMatchObject({ type: 'sandbox', name: 'Rehearsal' });
    const upd = await ok(
      app.api
        .put(`${P}/apps/${sb.id}`)
        .send({ type: 'sandbox', name: 'Rehearsal 2', labels: { env: 'test' } }),
      200,
    );
    expect(upd).toMatchObject({ name: 'Rehearsal 2', labels: { env: 'test' } });
    expect((await app.api.put(`${P}/apps/${sb.id}`).send({ type: 'stripe', name: 'x' })).status).toBe(409);
    expect((await app.api.delete(`${P}/apps/${sb.id}`)).status).toBe(204);
    expect((await app.api.get(`${P}/apps/${sb.id}`)).status).toBe(410);
    // an uninstalled app cannot be named any more
    const res = await app.api.post(`${P}/profiles`).send(profileBody('gone', roles(sb.id)));
    expect(res.status).toBe(400);
  });

  it('refuses an install without the type settings', async () => {
    const res = await app.api.post(`${P}/app-catalog/install`).send({ type: 'stripe', name: 'S' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('api_key');
    const bad = await app.api
      .post(`${P}/app-catalog/install`)
      .send({ type: 'stripe', name: 'S', api_key: 'not-a-key' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('body.api_key');
  });
});

describe('the Stripe app (stripe-mock)', () => {
  let app: TestApp;
  const rec = recordingStripeHttpClient();
  beforeAll(async () => {
    app = await createTestApp({ stripeHttpClient: rec.client });
  });
  afterAll(() => app.close());

  stripeIt('installs with a checked key, registers its webhook, keeps the secrets write-only', async () => {
    rec.requests.length = 0;
    // every log line written meanwhile (the logger is silent in tests: its methods are observed instead)
    const logged: unknown[] = [];
    const spies = (['info', 'warn', 'error', 'debug'] as const).map((m) =>
      jest.spyOn(logger, m).mockImplementation((...args: unknown[]) => {
        logged.push(args);
      }),
    );
    const s = await installStripe(app).finally(() => spies.forEach((sp) => sp.mockRestore()));
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.stringify(logged)).not.toContain(STRIPE_KEY);
    expect(JSON.stringify(logged)).not.toContain(WEBHOOK_SECRET);
    expect(s).toMatchObject({ type: 'stripe', status: 'ready', livemode: false });
    expect(s.account_id).toMatch(/^acct_/);
    expect(s.masked_api_key).toBe('sk_test_***tKEY'.replace('tKEY', STRIPE_KEY.slice(-4)));
    // the key was checked by a call, the webhook endpoint registered for this app's URL
    expect(rec.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v1/account',
      'POST /v1/webhook_endpoints',
    ]);
    const hook = rec.requests[1].body;
    expect(hook.get('url')).toBe(`http://localhost:8080/v3/openmeter/apps/${s.id}/stripe/webhook`);
    const events = [...hook.entries()].filter(([k]) => k.startsWith('enabled_events[')).map(([, v]) => v);
    expect(events.sort()).toEqual([
      'invoice.marked_uncollectible',
      'invoice.paid',
      'invoice.payment_failed',
      'invoice.voided',
    ]);
    // never in a response
    const all = JSON.stringify([
      s,
      await ok(app.api.get(`${P}/apps`), 200),
      await ok(app.api.get(`${P}/apps/${s.id}`), 200),
    ]);
    expect(all).not.toContain(STRIPE_KEY);
    expect(all).not.toContain(WEBHOOK_SECRET);
    // kept for the app's own calls
    const [row] = await app.deps.orm.em
      .fork()
      .execute<{ secrets: any }[]>('select secrets from apps where id = ?', [s.id]);
    expect(row.secrets).toEqual({ api_key: STRIPE_KEY, webhook_secret: WEBHOOK_SECRET });
    // a key rotation is checked too
    const rotated = await ok(
      app.api
        .put(`${P}/apps/${s.id}`)
        .send({ type: 'stripe', name: 'Stripe EU', secret_api_key: 'sk_test_NEWKEY9876' }),
      200,
    );
    expect(rotated).toMatchObject({ name: 'Stripe EU', masked_api_key: 'sk_test_***9876' });
    expect(JSON.stringify(rotated)).not.toContain('NEWKEY');
  });

  stripeIt('keeps the customer’s Stripe data, creating the Stripe customer when missing', async () => {
    const s = await installStripe(app, 'Stripe customers');
    const profile = await ok(app.api.post(`${P}/profiles`).send(profileBody('stripe', roles(s.id))), 201);
    const f = fixtures(app);
    const c = await f.customer('stripe-customer', { primary_email: 'ap@stripe-customer.test' });
    // not billed through Stripe yet: no data, and none can be set
    expect(await ok(app.api.get(`${P}/customers/${c.id}/billing/app-data`), 200)).toEqual({});
    expect((await app.api.put(`${P}/customers/${c.id}/billing/app-data`).send({ stripe: {} })).status).toBe(
      400,
    );
    await ok(
      app.api.put(`${P}/customers/${c.id}/billing`).send({ billing_profile: { id: profile.id } }),
      200,
    );

    rec.requests.length = 0;
    const put = await ok(app.api.put(`${P}/customers/${c.id}/billing/app-data`).send({ stripe: {} }), 200);
    expect(put.stripe.customer_id).toMatch(/^cus_/);
    const created = rec.requests.filter((r) => r.method === 'POST' && r.path === '/v1/customers');
    expect(created).toHaveLength(1);
    expect(created[0].idempotencyKey).toBe(`tally-${s.id}-customer-${c.id}`);
    expect(created[0].body.get('email')).toBe('ap@stripe-customer.test');
    expect(created[0].body.get('metadata[tally_customer_id]')).toBe(c.id);

    // a second PUT keeps the Stripe customer and stores the payment method; nothing is created again
    rec.requests.length = 0;
    const again = await ok(
      app.api
        .put(`${P}/customers/${c.id}/billing/app-data`)
        .send({ stripe: { default_payment_method_id: 'pm_card_visa' } }),
      200,
    );
    expect(again.stripe).toEqual({
      customer_id: put.stripe.customer_id,
      default_payment_method_id: 'pm_card_visa',
    });
    expect(rec.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(0);
    expect(await ok(app.api.get(`${P}/customers/${c.id}/billing/app-data`), 200)).toEqual(again);

    const checkout = await ok(
      app.api
        .post(`${P}/customers/${c.id}/billing/stripe/checkout-sessions`)
        .send({ stripe_options: { success_url: 'https://example.com/ok' } }),
      201,
    );
    expect(checkout).toMatchObject({
      customer_id: c.id,
      stripe_customer_id: put.stripe.customer_id,
      mode: 'setup',
    });
    expect(checkout.session_id).toMatch(/^cs_/);
    const portal = await ok(
      app.api
        .post(`${P}/customers/${c.id}/billing/stripe/portal-sessions`)
        .send({ stripe_options: { return_url: 'https://example.com/back' } }),
      201,
    );
    expect(portal.stripe_customer_id).toBe(put.stripe.customer_id);
    expect(portal.id).toMatch(/^bps_/);

    // the app is used by a profile: not uninstalled
    expect((await app.api.delete(`${P}/apps/${s.id}`)).status).toBe(409);
  });

  stripeIt(
    "passes OpenMeter's checkout stripe_options to Stripe, refusing contradictions by name",
    async () => {
      const s = await installStripe(app, 'Stripe checkout');
      const profile = await ok(app.api.post(`${P}/profiles`).send(profileBody('stripe', roles(s.id))), 201);
      const c = await fixtures(app).customer('checkout-customer');
      await ok(
        app.api.put(`${P}/customers/${c.id}/billing`).send({ billing_profile: { id: profile.id } }),
        200,
      );
      const url = `${P}/customers/${c.id}/billing/stripe/checkout-sessions`;
      const expiresAt = Math.floor(Date.now() / 1000) + 3600;
      rec.requests.length = 0;
      const embedded = await ok(
        app.api.post(url).send({
          stripe_options: {
            ui_mode: 'embedded',
            return_url: 'https://example.com/return',
            redirect_on_completion: 'if_required',
            billing_address_collection: 'required',
            client_reference_id: 'cart-7',
            customer_update: { address: 'auto', name: 'never', shipping: 'auto' },
            consent_collection: {
              payment_method_reuse_agreement: { position: 'hidden' },
              promotions: 'auto',
              terms_of_service: 'required',
            },
            currency: 'EUR',
            custom_text: {
              after_submit: { message: 'Thanks' },
              shipping_address: { message: 'Ship' },
              submit: { message: 'Save card' },
              terms_of_service_acceptance: { message: 'I agree' },
            },
            expires_at: expiresAt,
            locale: 'fr',
            metadata: { order: 'o-1' },
            payment_method_types: ['card'],
            tax_id_collection: { enabled: true, required: 'if_supported' },
          },
        }),
        201,
      );
      expect(embedded).toMatchObject({ customer_id: c.id, mode: 'setup' });
      const sent = rec.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');
      expect(sent).toHaveLength(1);
      expect(Object.fromEntries(sent[0].body.entries())).toEqual({
        mode: 'setup',
        customer: embedded.stripe_customer_id,
        currency: 'eur',
        ui_mode: 'embedded_page',
        return_url: 'https://example.com/return',
        redirect_on_completion: 'if_required',
        billing_address_collection: 'required',
        client_reference_id: 'cart-7',
        'customer_update[address]': 'auto',
        'customer_update[name]': 'never',
        'customer_update[shipping]': 'auto',
        'consent_collection[payment_method_reuse_agreement][position]': 'hidden',
        'consent_collection[promotions]': 'auto',
        'consent_collection[terms_of_service]': 'required',
        'custom_text[after_submit][message]': 'Thanks',
        'custom_text[shipping_address][message]': 'Ship',
        'custom_text[submit][message]': 'Save card',
        'custom_text[terms_of_service_acceptance][message]': 'I agree',
        expires_at: String(expiresAt),
        locale: 'fr',
        'metadata[order]': 'o-1',
        'metadata[tally_customer_id]': c.id,
        'metadata[tally_app_id]': s.id,
        'setup_intent_data[metadata][order]': 'o-1',
        'setup_intent_data[metadata][tally_customer_id]': c.id,
        'setup_intent_data[metadata][tally_app_id]': s.id,
        'tax_id_collection[enabled]': 'true',
        'tax_id_collection[required]': 'if_supported',
      });

      // hosted (the default)
      rec.requests.length = 0;
      await ok(
        app.api.post(url).send({
          stripe_options: {
            ui_mode: 'hosted',
            success_url: 'https://example.com/ok',
            cancel_url: 'https://example.com/cancel',
          },
        }),
        201,
      );
      const hosted = rec.requests.find((r) => r.path === '/v1/checkout/sessions')!.body;
      expect(hosted.get('ui_mode')).toBe('hosted_page');
      expect(hosted.get('success_url')).toBe('https://example.com/ok');
      expect(hosted.get('cancel_url')).toBe('https://example.com/cancel');

      // refused at the edge, naming the field; nothing reaches Stripe
      rec.requests.length = 0;
      const refused: [Record<string, unknown>, string][] = [
        [{ ui_mode: 'embedded', success_url: 'https://example.com/ok' }, 'body.stripe_options.success_url'],
        [{ ui_mode: 'embedded', cancel_url: 'https://example.com/no' }, 'body.stripe_options.cancel_url'],
        [{ ui_mode: 'popup' }, 'body.stripe_options.ui_mode'],
        [{ metadata: { tally_app_id: 'x' } }, 'body.stripe_options.metadata.tally_app_id'],
        [
          { consent_collection: { promotions: 'always' } },
          'body.stripe_options.consent_collection.promotions',
        ],
        [{ line_items: [] }, 'body.stripe_options.line_items'],
      ];
      for (const [stripe_options, field] of refused) {
        const res = await app.api.post(url).send({ stripe_options });
        expect({ field, status: res.status }).toEqual({ field, status: 400 });
        expect(res.body.invalid_parameters.map((p: { field: string }) => p.field)).toContain(field);
      }
      expect(rec.requests.filter((r) => r.path === '/v1/checkout/sessions')).toHaveLength(0);
      // what Stripe itself refuses is a 400 too, not a 500
      const stripeRefused = await app.api.post(url).send({ stripe_options: { locale: 'klingon' } });
      expect(stripeRefused.status).toBe(400);
      expect(stripeRefused.body.invalid_parameters[0].field).toMatch(/^body\.stripe_options/);
    },
  );

  stripeIt('refuses a webhook whose signature does not verify (no bearer token needed)', async () => {
    const s = await installStripe(app, 'Stripe hooks');
    const { payload } = signedStripeEvent(WEBHOOK_SECRET, {
      id: 'evt_1',
      type: 'invoice.paid',
      object: { id: 'in_x' },
    });
    const forged = signedStripeEvent('whsec_other', {
      id: 'evt_1',
      type: 'invoice.paid',
      object: { id: 'in_x' },
    });
    const bad = await app.raw
      .post(`${P}/apps/${s.id}/stripe/webhook`)
      .set('Content-Type', 'application/json')
      .set('Stripe-Signature', forged.signature)
      .send(payload);
    expect(bad.status).toBe(400);
    const good = signedStripeEvent(WEBHOOK_SECRET, {
      id: 'evt_2',
      type: 'invoice.paid',
      object: { id: 'in_unknown' },
    });
    const res = await app.raw
      .post(`${P}/apps/${s.id}/stripe/webhook`)
      .set('Content-Type', 'application/json')
      .set('Stripe-Signature', good.signature)
      .send(good.payload);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, outcome: 'ignored' });
  });
});

// ---------------------------------------------------------------------------------------------------
// the invoice workflow with the payment apps

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Customers subscribed to the metered plan now, each with `labels`, one call a day on days 1–3. */
async function subscribeCustomers(
  hh: Harness,
  customers: { key: string; labels?: Record<string, string> }[],
) {
  const f = fixtures(hh.app);
  const { feature } = await f.meteredFeature();
  await f.meteredPlan('metered', { featureId: feature.id, price: '0.1' });
  const subs: any[] = [];
  for (const c of customers) {
    await f.customer(c.key, c.labels ? { labels: c.labels } : {});
    subs.push(await f.subscribe({ customer: { key: c.key }, plan: { key: 'metered' } }));
  }
  const a = Date.parse(subs[0].active_from);
  await f.ingest(
    customers.flatMap((c) =>
      [1, 2, 3].map((d) => ({ type: 'call', subject: c.key, time: new Date(a + d * DAY), data: {} })),
    ),
  );
  return { subs, a };
}

const invoiceOf = async (hh: Harness, subId: string): Promise<any> => {
  const rows = await hh.app.deps.orm.em
    .fork()
    .execute<{ id: string }[]>('select id from invoices where subscription_id = ?', [subId]);
  return rows[0] ? ok(hh.app.api.get(`${P}/billing/invoices/${rows[0].id}`), 200) : undefined;
};

describe('the sandbox payment paths', () => {
  it('settles paid, or failed / uncollectible / action required by the label', async () => {
    h = await createHarness();
    const label = (v: string) => ({ [SANDBOX_TARGET_STATUS_LABEL]: v });
    const { subs, a } = await subscribeCustomers(h, [
      { key: 'pays' },
      { key: 'fails', labels: label('failed') },
      { key: 'never-pays', labels: label('uncollectible') },
      { key: 'must-act', labels: label('action_required') },
    ]);
    await advanceTo(
      h,
      month(a, 1) + 120_000,
      subs.map((s) => s.id),
    );
    const settled = async (i: number, status: string) =>
      waitFor(async () => {
        const inv = await invoiceOf(h!, subs[i].id);
        return inv?.status === status && inv;
      });
    const paid = await settled(0, 'paid');
    expect(paid.status_details.extended_status).toBe('paid');
    expect(paid.totals.total).toBe('0.30');
    const failed = await settled(1, 'payment_processing');
    expect(failed.status_details.extended_status).toBe('payment_processing.failed');
    expect(failed.status_details.payment_issue.message).toContain('simulated payment failure');
    const uncollectible = await settled(2, 'uncollectible');
    expect(uncollectible.status_details.available_actions).toHaveProperty('mark_paid');
    const act = await settled(3, 'payment_processing');
    expect(act.status_details.extended_status).toBe('payment_processing.action_required');
    // the failed payment is paid after all: the issue goes with it
    const after = await ok(h.app.api.post(`${P}/billing/invoices/${failed.id}/mark-paid`), 200);
    expect(after.status).toBe('paid');
    expect(after.status_details.payment_issue).toBeUndefined();
  });
});

describe('the Stripe app on issue (stripe-mock)', () => {
  /** A harness whose customer `acme-inc` is billed through a Stripe app; returns the app and the invoice. */
  async function stripeScenario(opts: { activities?: Parameters<typeof createHarness>[0] } = {}) {
    const rec = recordingStripeHttpClient();
    h = await createHarness({ ...opts.activities, stripeHttpClient: rec.client });
    const s = await installStripe(h.app);
    await ok(
      // the late-usage window as the harness's default profile has it (the period end + 1 minute)
      h.app.api.post(`${P}/profiles`).send(
        profileBody('stripe', roles(s.id), {
          default: true,
          workflow: { collection: { interval: 'PT1M' } },
        }),
      ),
      201,
    );
    const { subs, a } = await subscribeCustomers(h, [{ key: 'acme-inc' }]);
    await advanceTo(h, month(a, 1) + 120_000, [subs[0].id]);
    return { rec, s, sub: subs[0] };
  }

  const hook = (appId: string, e: { id: string; type: string; object: Record<string, unknown> }) => {
    const { payload, signature } = signedStripeEvent(WEBHOOK_SECRET, e);
    return h!.app.raw
      .post(`${P}/apps/${appId}/stripe/webhook`)
      .set('Content-Type', 'application/json')
      .set('Stripe-Signature', signature)
      .send(payload);
  };

  stripeIt(
    'creates the Stripe invoice with exact lines, finalizes and charges it; webhooks settle it once',
    async () => {
      const { rec, s, sub } = await stripeScenario();
      const inv = await waitFor(async () => {
        const i = await invoiceOf(h!, sub.id);
        return i?.status === 'payment_processing' && i;
      });
      const stripeId = inv.external_references.stripe_invoice_id;
      expect(stripeId).toMatch(/^in_/);

      const calls = (method: string, path: RegExp) =>
        rec.requests.filter((r) => r.method === method && path.test(r.path));
      const creates = calls('POST', /^\/v1\/invoices$/);
      expect(creates).toHaveLength(1);
      expect(creates[0].idempotencyKey).toBe(`tally-${inv.id}-create_invoice`);
      expect(creates[0].body.get('collection_method')).toBe('charge_automatically');
      expect(creates[0].body.get('currency')).toBe('usd');
      expect(creates[0].body.get('metadata[tally_invoice_id]')).toBe(inv.id);
      // one Stripe line per Tally line, amounts in exact minor units
      const items = calls('POST', /^\/v1\/invoiceitems$/);
      expect(items.map((r) => [r.body.get('amount'), r.body.get('description'), r.idempotencyKey])).toEqual(
        inv.lines.map((l: any) => [
          String(toMinorUnits(l.totals?.amount ?? l.amount, 'USD')),
          l.name,
          `tally-${inv.id}-line-${l.id}`,
        ]),
      );
      expect(items.reduce((n, r) => n + Number(r.body.get('amount')), 0)).toBe(30);
      expect(calls('POST', /\/finalize$/)).toHaveLength(1);
      expect(calls('POST', /\/pay$/).map((r) => r.idempotencyKey)).toEqual([`tally-${inv.id}-pay`]);

      // a failed payment first: still awaiting payment, the failure shown
      expect(
        (await hook(s.id, { id: 'evt_fail', type: 'invoice.payment_failed', object: { id: stripeId } })).body
          .outcome,
      ).toBe('applied');
      const failed = await waitFor(async () => {
        const i = await invoiceOf(h!, sub.id);
        return i.status_details.payment_issue && i;
      });
      expect(failed.status).toBe('payment_processing');
      expect(failed.status_details.extended_status).toBe('payment_processing.failed');

      // paid
      expect(
        (await hook(s.id, { id: 'evt_paid', type: 'invoice.paid', object: { id: stripeId } })).body.outcome,
      ).toBe('applied');
      const paid = await invoiceOf(h!, sub.id);
      expect(paid.status).toBe('paid');
      const paidAt = paid.paid_at;
      // replayed: a duplicate; reordered (an older failure, a void after the payment): nothing changes
      expect(
        (await hook(s.id, { id: 'evt_paid', type: 'invoice.paid', object: { id: stripeId } })).body.outcome,
      ).toBe('duplicate');
      expect(
        (await hook(s.id, { id: 'evt_fail_late', type: 'invoice.payment_failed', object: { id: stripeId } }))
          .body.outcome,
      ).toBe('ignored');
      expect(
        (await hook(s.id, { id: 'evt_void', type: 'invoice.voided', object: { id: stripeId } })).body.outcome,
      ).toBe('ignored');
      const still = await invoiceOf(h!, sub.id);
      expect([still.status, still.paid_at, still.status_details.payment_issue]).toEqual([
        'paid',
        paidAt,
        undefined,
      ]);
    },
  );
});

describe('a worker killed between creating and finalizing the Stripe invoice (stripe-mock)', () => {
  stripeIt('makes one Stripe invoice, finalized once', async () => {
    const rec = recordingStripeHttpClient();
    const calls: string[] = [];
    h = await createHarness({
      stripeHttpClient: rec.client,
      activities: (real) => ({
        ...real,
        async issueInPaymentApp(input) {
          calls.push(input.step);
          await real.issueInPaymentApp(input);
          // the Stripe invoice exists (and is recorded), the worker dies before Temporal hears of it
          if (input.step === 'create_invoice' && calls.length === 1)
            throw new Error('worker killed after creating the Stripe invoice');
        },
      }),
    });
    const s = await installStripe(h.app);
    await ok(
      // the late-usage window as the harness's default profile has it (the period end + 1 minute)
      h.app.api.post(`${P}/profiles`).send(
        profileBody('stripe', roles(s.id), {
          default: true,
          workflow: { collection: { interval: 'PT1M' } },
        }),
      ),
      201,
    );
    const { subs, a } = await subscribeCustomers(h, [{ key: 'acme-inc' }]);
    await advanceTo(h, month(a, 1) + 120_000, [subs[0].id]);
    const inv = await waitFor(async () => {
      const i = await invoiceOf(h!, subs[0].id);
      return i?.status === 'payment_processing' && i;
    });
    expect(calls).toEqual(['create_invoice', 'create_invoice', 'add_lines', 'finalize']);
    const creates = rec.requests.filter((r) => r.method === 'POST' && r.path === '/v1/invoices');
    expect(creates.map((r) => r.idempotencyKey)).toEqual([`tally-${inv.id}-create_invoice`]);
    const [sync] = await h.app.deps.orm.em
      .fork()
      .execute<{ external_id: string }[]>('select external_id from app_invoice_sync where invoice_id = ?', [
        inv.id,
      ]);
    expect(inv.external_references.stripe_invoice_id).toBe(sync.external_id);
    const finals = rec.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/finalize'));
    expect(finals.map((r) => r.path)).toEqual([`/v1/invoices/${sync.external_id}/finalize`]);
    expect(rec.requests.filter((r) => r.path === '/v1/invoiceitems')).toHaveLength(inv.lines.length);
  });
});
