/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 12, the custom-invoicing app: with its sync hooks enabled the invoice waits until the external
 * system reports the draft, then the issuing, synchronized; it reports the payment status. Out of order:
 * 409; a repeat: a no-op.
 */
import { SANDBOX_APP_ID } from '../../src/apps/types';
import { syncReferences } from '../../src/apps/custominvoicing';
import { fixtures, ok, P } from '../support/api';
import { advanceTo, createHarness, DAY, month, waitFor, type Harness } from '../support/harness';

jest.setTimeout(180_000);
// the channel's receiver is local (nothing listens: the events are checked in the outbox)
process.env.TALLY_WEBHOOK_ALLOWED_HOSTS = '127.0.0.1';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function scenario(hooks: { enable_draft_sync_hook?: boolean; enable_issuing_sync_hook?: boolean }) {
  h = await createHarness();
  const { app: ci } = await ok(
    h.app.api.post(`${P}/app-catalog/install`).send({ type: 'custom_invoicing', name: 'ERP', ...hooks }),
    201,
  );
  await ok(
    h.app.api.post(`${P}/profiles`).send({
      name: 'erp',
      supplier: { name: 'Tally Test Ltd' },
      // custom invoicing computes no tax: the sandbox does
      apps: { invoicing: { id: ci.id }, payment: { id: ci.id }, tax: { id: SANDBOX_APP_ID } },
      default: true,
      workflow: { collection: { interval: 'PT1M' } },
    }),
    201,
  );
  const channel = await ok(
    h.app.api
      .post(`${P}/notification/channels`)
      .send({ type: 'webhook', name: 'erp', url: 'http://127.0.0.1:9/hook' }),
    201,
  );
  await ok(
    h.app.api
      .post(`${P}/notification/rules`)
      .send({ type: 'invoice.updated', name: 'updates', channels: [channel.id] }),
    201,
  );
  const f = fixtures(h.app);
  const { feature } = await f.meteredFeature();
  await f.meteredPlan('metered', { featureId: feature.id, price: '0.1' });
  await f.customer('acme-inc');
  const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'metered' } });
  const a = Date.parse(sub.active_from);
  await f.ingest(
    [1, 2, 3].map((d) => ({ type: 'call', subject: 'acme-inc', time: new Date(a + d * DAY), data: {} })),
  );
  await advanceTo(h, month(a, 1) + 120_000, [sub.id]);
  const invoice = async (): Promise<any> => {
    const rows = await h!.app.deps.orm.em
      .fork()
      .execute<{ id: string }[]>('select id from invoices where subscription_id = ?', [sub.id]);
    return rows[0] ? ok(h!.app.api.get(`${P}/billing/invoices/${rows[0].id}`), 200) : undefined;
  };
  const reaches = (status: string) =>
    waitFor(async () => {
      const inv = await invoice();
      return inv?.status === status && inv;
    });
  // the external system holds the app's callback token (not an API token)
  const post = (id: string, path: string, body: unknown, token: string = ci.callback_token) =>
    h!.app.raw
      .post(`${P}/apps/custom-invoicing/${id}/${path}`)
      .set('Authorization', `Bearer ${token}`)
      .send(body as object);
  /** the invoice.updated events recorded so far: the invoice's status and external references in each */
  const updates = async () =>
    (
      await h!.app.deps.orm.em
        .fork()
        .execute<{ payload: any }[]>(
          `select payload from notification_events where type = 'invoice.updated' order by created_at, id`,
        )
    ).map((e) => ({ status: e.payload.data.status, refs: e.payload.data.external_references ?? {} }));
  return { ci, invoice, reaches, post, updates };
}

async function invoice(h: Harness, id: string): Promise<any> {
  return ok(h.app.api.get(`${P}/billing/invoices/${id}`), 200);
}

describe('the custom-invoicing app', () => {
  it('is in the catalog; installs with its hook settings, shown and updatable', async () => {
    h = await createHarness();
    const item = await ok(h.app.api.get(`${P}/app-catalog/custom_invoicing`), 200);
    expect(item.capabilities.map((c: any) => c.type)).toEqual(['invoice_customers', 'collect_payments']);
    const { app } = await ok(
      h.app.api
        .post(`${P}/app-catalog/install`)
        .send({ type: 'custom_invoicing', name: 'ERP', enable_draft_sync_hook: true }),
      201,
    );
    expect(app).toMatchObject({
      type: 'custom_invoicing',
      enable_draft_sync_hook: true,
      enable_issuing_sync_hook: false,
    });
    const upd = await ok(
      h.app.api
        .put(`${P}/apps/${app.id}`)
        .send({ type: 'custom_invoicing', name: 'ERP', enable_issuing_sync_hook: true }),
      200,
    );
    expect(upd).toMatchObject({ enable_draft_sync_hook: true, enable_issuing_sync_hook: true });
    const bad = await h.app.api
      .post(`${P}/app-catalog/install`)
      .send({ type: 'custom_invoicing', name: 'ERP', enable_draft_sync_hook: 'yes' });
    expect(bad.status).toBe(400);
  });

  it('waits for the draft, then the issuing sync; the payment status settles it; out of order 409, repeats no-ops', async () => {
    const { invoice, reaches, post, updates } = await scenario({
      enable_draft_sync_hook: true,
      enable_issuing_sync_hook: true,
    });
    const draft = await waitFor(async () => {
      const inv = await invoice();
      return inv?.status === 'draft' && inv;
    });
    // nothing moves without the external system
    await h!.env.sleep(DAY);
    expect((await invoice()).status).toBe('draft');
    // out of order: the issuing sync and a payment before the draft sync
    const early = await post(draft.id, 'issuing/synchronized', { invoicing: { invoice_number: 'ERP-1' } });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('waits for the draft sync');
    expect((await post(draft.id, 'payment/status', { trigger: 'paid' })).status).toBe(409);
    // a line the invoice does not have: 400
    const wrong = await post(draft.id, 'draft/synchronized', {
      invoicing: { line_external_ids: [{ line_id: '01JZZZZZZZZZZZZZZZZZZZZZZZ', external_id: 'x' }] },
    });
    expect(wrong.status).toBe(400);

    const lineId = draft.lines[0].id;
    const synced = await ok(
      post(draft.id, 'draft/synchronized', {
        invoicing: {
          external_id: 'erp-inv-7',
          line_external_ids: [{ line_id: lineId, external_id: 'erp-line-1' }],
        },
      }),
      200,
    );
    expect(synced.status).toBe('draft');
    expect(synced.external_references).toMatchObject({
      custom_invoicing_id: 'erp-inv-7',
      [`custom_invoicing_line:${lineId}`]: 'erp-line-1',
    });
    const syncedAt = synced.external_references.draft_synchronized_at;
    expect(typeof syncedAt).toBe('string');
    const afterDraftSync = await updates();
    expect(afterDraftSync.filter((u) => u.refs.custom_invoicing_id === 'erp-inv-7')).toHaveLength(1);
    expect(afterDraftSync.at(-1)).toMatchObject({ status: 'draft' });
    // a repeat changes nothing
    const again = await ok(
      post(draft.id, 'draft/synchronized', { invoicing: { external_id: 'other' } }),
      200,
    );
    expect(again.external_references.custom_invoicing_id).toBe('erp-inv-7');
    expect(again.external_references.draft_synchronized_at).toBe(syncedAt);
    expect(await updates()).toHaveLength(afterDraftSync.length);
    // it waits for the issuing sync now
    await h!.env.sleep(DAY);
    expect((await invoice()).status).toBe('draft');
    expect((await post(draft.id, 'payment/status', { trigger: 'paid' })).status).toBe(409);

    await ok(
      post(draft.id, 'issuing/synchronized', {
        invoicing: { invoice_number: 'ERP-2026-7' },
        payment: { external_id: 'erp-pay-7' },
      }),
      200,
    );
    const issued = await reaches('payment_processing');
    expect(issued.number).toBeTruthy();
    expect(issued.external_references).toMatchObject({
      custom_invoicing_number: 'ERP-2026-7',
      custom_invoicing_payment_id: 'erp-pay-7',
    });
    const statuses = (await updates()).map((u) => u.status);
    expect(statuses.slice(afterDraftSync.length)).toEqual(
      expect.arrayContaining(['draft', 'issued', 'payment_processing']),
    );
    expect(
      (await updates()).filter(
        (u) => u.refs.custom_invoicing_number === 'ERP-2026-7' && u.status === 'draft',
      ),
    ).toHaveLength(1);
    // the issuing sync again: a no-op (the workflow no longer waits, but the report was taken)
    expect((await post(draft.id, 'issuing/synchronized', {})).status).toBe(200);

    const failed = await ok(post(draft.id, 'payment/status', { trigger: 'payment_failed' }), 200);
    expect(failed.status).toBe('payment_processing');
    expect(failed.status_details.payment_issue.message).toContain('payment failed');
    expect((await post(draft.id, 'payment/status', { trigger: 'payment_failed' })).status).toBe(200);
    const paid = await ok(post(draft.id, 'payment/status', { trigger: 'paid' }), 200);
    expect(paid.status).toBe('paid');
    // a repeat of paid: a no-op; a late failure or void: 409, nothing changes
    expect((await ok(post(draft.id, 'payment/status', { trigger: 'paid' }), 200)).status).toBe('paid');
    expect((await post(draft.id, 'payment/status', { trigger: 'void' })).status).toBe(409);
    expect((await post(draft.id, 'payment/status', { trigger: 'bogus' })).status).toBe(400);
    expect((await invoice()).status).toBe('paid');
    expect((await updates()).filter((u) => u.status === 'paid')).toHaveLength(1);
  });

  it('without hooks, issues at once and awaits the payment status; hooks not enabled: 409', async () => {
    const { reaches, post } = await scenario({});
    const inv = await reaches('payment_processing');
    expect((await post(inv.id, 'draft/synchronized', {})).status).toBe(409);
    const unc = await ok(post(inv.id, 'payment/status', { trigger: 'payment_uncollectible' }), 200);
    expect(unc.status).toBe('uncollectible');
  });

  it("the callbacks take the app's own callback token only: not an API token, not another app's; it rotates", async () => {
    const { ci, reaches, post } = await scenario({});
    expect(ci.callback_token).toMatch(/^tci_[A-Za-z0-9_-]{43}$/);
    // write-only: never shown again
    expect(await ok(h!.app.api.get(`${P}/apps/${ci.id}`), 200)).not.toHaveProperty('callback_token');
    const listed = await ok(h!.app.api.get(`${P}/apps`), 200);
    expect(listed.data.map((a: any) => a.callback_token)).toEqual(listed.data.map(() => undefined));
    const stored = await h!.app.deps.orm.em
      .fork()
      .execute<any[]>('select secrets::text as s from apps where id = ?', [ci.id]);
    expect(stored[0].s).not.toContain(ci.callback_token);
    const inv = await reaches('payment_processing');
    const url = `${P}/apps/custom-invoicing/${inv.id}/payment/status`;
    const problem = (res: any, status: number) => {
      expect([res.status, res.type]).toEqual([status, 'application/problem+json']);
      expect(res.body.status).toBe(status);
    };
    // no token, the admin API token, a wrong token: 401
    const none = await h!.app.raw.post(url).send({ trigger: 'paid' });
    problem(none, 401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const admin = await h!.app.api.post(url).send({ trigger: 'paid' });
    problem(admin, 401);
    expect(admin.body.detail).toContain('API tokens are not accepted');
    problem(await post(inv.id, 'payment/status', { trigger: 'paid' }, `${ci.callback_token}x`), 401);
    // another custom-invoicing app's token: 403
    const { app: other } = await ok(
      h!.app.api.post(`${P}/app-catalog/install`).send({ type: 'custom_invoicing', name: 'Other ERP' }),
      201,
    );
    problem(await post(inv.id, 'payment/status', { trigger: 'paid' }, other.callback_token), 403);
    // a valid token and an invoice that does not exist: 404
    expect((await post('01JZZZZZZZZZZZZZZZZZZZZZZZ', 'payment/status', { trigger: 'paid' })).status).toBe(
      404,
    );
    expect((await invoice(h!, inv.id)).status).toBe('payment_processing');

    // rotated: the old token stops at once, the new one (shown once) works
    const rotated = await ok(
      h!.app.api
        .put(`${P}/apps/${ci.id}`)
        .send({ type: 'custom_invoicing', name: 'ERP', rotate_callback_token: true }),
      200,
    );
    expect(rotated.callback_token).toMatch(/^tci_/);
    expect(rotated.callback_token).not.toBe(ci.callback_token);
    problem(await post(inv.id, 'payment/status', { trigger: 'paid' }), 401);
    const paid = await ok(post(inv.id, 'payment/status', { trigger: 'paid' }, rotated.callback_token), 200);
    expect(paid.status).toBe('paid');
    // a chosen token (e.g. kept in the external system's vault); a short one is refused
    const chosen = `erp-${'k'.repeat(40)}`;
    const set = await ok(
      h!.app.api
        .put(`${P}/apps/${ci.id}`)
        .send({ type: 'custom_invoicing', name: 'ERP', callback_token: chosen }),
      200,
    );
    expect(set.callback_token).toBe(chosen);
    expect((await post(inv.id, 'payment/status', { trigger: 'paid' }, chosen)).status).toBe(200);
    const short = await h!.app.api
      .put(`${P}/apps/${ci.id}`)
      .send({ type: 'custom_invoicing', name: 'ERP', callback_token: 'short' });
    expect(short.status).toBe(400);
  });

  it('answers 404 for an invoice not billed through a custom-invoicing app', async () => {
    h = await createHarness();
    const { app: ci } = await ok(
      h.app.api.post(`${P}/app-catalog/install`).send({ type: 'custom_invoicing', name: 'ERP' }),
      201,
    );
    const res = await h.app.raw
      .post(`${P}/apps/custom-invoicing/01JZZZZZZZZZZZZZZZZZZZZZZZ/payment/status`)
      .set('Authorization', `Bearer ${ci.callback_token}`)
      .send({ trigger: 'paid' });
    expect(res.status).toBe(404);
  });
});

describe('syncReferences (pure)', () => {
  it('names each reported id', () => {
    expect(syncReferences({})).toEqual({});
    expect(
      syncReferences({
        invoicing: {
          external_id: 'e',
          invoice_number: 'n',
          line_external_ids: [{ line_id: 'L1', external_id: 'x' }],
        },
        payment: { external_id: 'p' },
      }),
    ).toEqual({
      custom_invoicing_id: 'e',
      custom_invoicing_number: 'n',
      'custom_invoicing_line:L1': 'x',
      custom_invoicing_payment_id: 'p',
    });
  });
});
