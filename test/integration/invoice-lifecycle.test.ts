/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Issue 11, the invoice lifecycle: one workflow per invoice (`invoice-<id>`), driven through the API on a
 * time-skipping Temporal server and a real PostgreSQL. Every transition, every action from the statuses an
 * invoice reaches (allowed and refused), the approval flow, the draft period, overdue by timer, void,
 * concurrent actions, a crash between issuing and the payment hand-over, and a recorded history.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { issueInvoice } from '../../src/billing/service';
import type { BillingWorkflowSettings } from '../../src/profiles/types';
import { SA_INVOICE_NUMBER, SA_INVOICE_STATUS } from '../../src/temporal/search-attributes';
import { ok, P } from '../support/api';
import {
  advanceTo,
  createHarness,
  DAY,
  month,
  subscribeMetered,
  waitFor,
  type Harness,
  type HarnessOptions,
} from '../support/harness';
import { historyJson } from '../support/history';

jest.setTimeout(180_000);

/** attempts of an invoice step before it is shown failed: one local, then five remote (workflows/invoice.ts) */
const STEP_ATTEMPTS = 6;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The default profile's invoicing and payment settings, as a test sets them. */
interface ProfileSettings {
  invoicing: BillingWorkflowSettings['invoicing'];
  payment: BillingWorkflowSettings['payment'];
}
const settings = (
  invoicing: BillingWorkflowSettings['invoicing'],
  payment: BillingWorkflowSettings['payment'],
): ProfileSettings => ({ invoicing, payment });

/**
 * A harness whose default profile runs by `profile`, edited through the API as a user would, before the
 * subscription exists (every invoice snapshots it), with a supplier.
 */
async function start(profile?: ProfileSettings, extra: HarnessOptions = {}) {
  h = await createHarness(extra);
  if (profile) {
    const list = await ok(h.app.api.get(`${P}/profiles`), 200);
    const d = list.data.find((p: { default: boolean }) => p.default);
    await ok(
      h.app.api.put(`${P}/profiles/${d.id}`).send({
        name: d.name,
        supplier: { name: 'Tally Test Ltd', email: 'billing@tally.test' },
        workflow: { collection: d.workflow.collection, ...profile },
        default: true,
      }),
      200,
    );
  }
  const s = await subscribeMetered(h);
  return { ...s, h };
}

/** Passes the first period's end (and the collection period): the subscription hands its invoice over. */
async function firstInvoice(h: Harness, subId: string, a: number): Promise<string> {
  await advanceTo(h, month(a, 1) + 120_000, [subId]);
  return waitFor(async () => {
    const rows = await h.app.deps.orm.em
      .fork()
      .execute<{ id: string }[]>('select id from invoices where subscription_id = ?', [subId]);
    return rows[0]?.id;
  });
}

const get = async (h: Harness, id: string) => ok(h.app.api.get(`${P}/billing/invoices/${id}`), 200);
const waitStatus = (h: Harness, id: string, status: string) =>
  waitFor(async () => {
    const inv = await get(h, id);
    return inv.status === status && inv;
  });
const act = (h: Harness, id: string, path: string) => h.app.api.post(`${P}/billing/invoices/${id}/${path}`);

const ACTION_PATHS: [string, string][] = [
  ['advance', 'advance'],
  ['approve', 'approve'],
  ['retry', 'retry'],
  ['snapshot_quantities', 'snapshot-quantities'],
  ['void', 'void'],
  ['mark_paid', 'mark-paid'],
  ['mark_uncollectible', 'mark-uncollectible'],
];

/** Every action the invoice does not allow answers 409 with its available actions (and changes nothing). */
async function refusedAll(h: Harness, id: string) {
  const inv = await get(h, id);
  const allowed = Object.keys(inv.status_details.available_actions);
  const tried: string[] = [];
  for (const [action, p] of ACTION_PATHS) {
    if (allowed.includes(action)) continue;
    const res = await act(h, id, p);
    expect([action, res.status]).toEqual([action, 409]);
    expect(res.body.available_actions).toEqual(inv.status_details.available_actions);
    expect(res.body.detail).toContain(`${action} is not allowed while the invoice is`);
    tried.push(action);
  }
  if (!allowed.includes('edit')) {
    const res = await h.app.api.put(`${P}/billing/invoices/${id}`).send({ description: 'x' });
    expect(['edit', res.status, res.body.available_actions]).toEqual([
      'edit',
      409,
      inv.status_details.available_actions,
    ]);
    tried.push('edit');
  }
  if (!allowed.includes('delete')) {
    const res = await h.app.api.delete(`${P}/billing/invoices/${id}`);
    expect(['delete', res.status]).toEqual(['delete', 409]);
    tried.push('delete');
  }
  const after = await get(h, id);
  expect([after.status, after.updated_at]).toEqual([inv.status, inv.updated_at]);
  return tried;
}

async function searchAttributes(h: Harness, id: string) {
  const d = await h.env.client.workflow.getHandle(`invoice-${id}`).describe();
  return {
    status: d.typedSearchAttributes.get(SA_INVOICE_STATUS),
    number: d.typedSearchAttributes.get(SA_INVOICE_NUMBER),
    running: d.status.name,
  };
}

it('default profile: issued and charged at the period end, as before; a paid invoice refuses every action', async () => {
  const { h, sub, a } = await start();
  const id = await firstInvoice(h, sub.id, a);
  const inv = await waitStatus(h, id, 'paid');
  expect(inv).toMatchObject({
    number: 'INV-000001',
    status: 'paid',
    status_details: { immutable: true, failed: false, extended_status: 'paid', available_actions: {} },
    customer: { key: 'acme-inc' },
    workflow: {
      invoicing: { auto_advance: true, draft_period: 'P0D' },
      payment: { collection_method: 'charge_automatically' },
    },
    totals: { total: '0.30' },
  });
  // issued at the hand-over (the period end + the collection period), frozen then, charged at once
  expect(Date.parse(inv.issued_at) - (month(a, 1) + 60_000)).toBeLessThan(60_000);
  expect(inv.issued_at).toBe(inv.quantity_snapshotted_at);
  expect(Date.parse(inv.paid_at)).toBeGreaterThanOrEqual(Date.parse(inv.issued_at));
  expect(inv.draft_until).toBe(inv.collection_at);
  expect(inv.due_at).toBeUndefined();
  const usage = inv.lines.find((l: any) => l.kind === 'usage');
  expect(usage).toMatchObject({
    quantity: '3',
    lifecycle_controller: 'system',
    rate_card: { price: { type: 'unit', amount: '0.1' } },
    usage_quantity_detail: { raw_quantity: '3', invoiced_quantity: '3' },
    detailed_lines: [{ quantity: '3', unit_price: '0.1', totals: { total: '0.30' } }],
  });
  expect(usage.created_at).toEqual(expect.any(String));
  // the workflow ends once the paid status is written
  await waitFor(async () => (await searchAttributes(h, id)).running === 'COMPLETED');
  expect(await searchAttributes(h, id)).toEqual({
    status: 'paid',
    number: 'INV-000001',
    running: 'COMPLETED',
  });
  expect((await refusedAll(h, id)).length).toBe(9);
  await recordInvoiceHistory(h, id, 'invoice-default-paid');
});

it('approval flow: a draft waits (draft period, then approval), is re-rated by a late event and edited, approve issues and sends it, overdue by timer, then paid', async () => {
  const { h, sub, a, f } = await start(
    settings(
      { auto_advance: false, draft_period: 'P1D' },
      { collection_method: 'send_invoice', due_after: 'P7D' },
    ),
  );
  const id = await firstInvoice(h, sub.id, a);
  let inv = await get(h, id);
  expect(inv).toMatchObject({
    status: 'draft',
    number: expect.stringMatching(/^DRAFT-\d{6}$/),
    issued_at: null,
    supplier: { name: 'Tally Test Ltd' },
    status_details: {
      immutable: false,
      failed: false,
      extended_status: 'draft.manual_approval_needed',
      available_actions: {
        approve: { resulting_state: 'issued' },
        snapshot_quantities: { resulting_state: 'draft.manual_approval_needed' },
        edit: { resulting_state: 'draft.manual_approval_needed' },
        delete: { resulting_state: 'deleted' },
      },
    },
    totals: { total: '0.30' },
  });
  expect(Date.parse(inv.draft_until) - Date.parse(inv.collection_at)).toBe(DAY);
  expect(await refusedAll(h, id)).toEqual(['advance', 'retry', 'void', 'mark_paid', 'mark_uncollectible']);

  // a late event inside the billed period, then a snapshot: the usage line is re-rated
  await f.ingest([{ type: 'call', subject: 'acme-inc', time: new Date(a + 10 * DAY), data: {} }]);
  inv = await ok(act(h, id, 'snapshot-quantities'), 200);
  expect(inv.lines.find((l: any) => l.kind === 'usage').quantity).toBe('4');
  expect(inv.totals.total).toBe('0.40');
  expect(inv.quantity_snapshotted_at).toEqual(expect.any(String));

  // edit: a description and a manual line
  inv = await ok(
    h.app.api.put(`${P}/billing/invoices/${id}`).send({
      description: 'January',
      lines: [{ name: 'Onboarding', quantity: '2', unit_price: '12.5' }],
    }),
    200,
  );
  const manual = inv.lines.find((l: any) => l.lifecycle_controller === 'manual');
  expect(manual).toMatchObject({ name: 'Onboarding', quantity: '2', totals: { total: '25.00' } });
  expect([inv.description, inv.totals.total]).toEqual(['January', '25.40']);
  // the manual line's quantity changes; a system line cannot be edited
  inv = await ok(
    h.app.api.put(`${P}/billing/invoices/${id}`).send({
      lines: [{ id: manual.id, name: 'Onboarding', quantity: '1', unit_price: '12.5' }],
    }),
    200,
  );
  expect(inv.totals.total).toBe('12.90');
  const usageId = inv.lines.find((l: any) => l.kind === 'usage').id;
  const bad = await h.app.api
    .put(`${P}/billing/invoices/${id}`)
    .send({ lines: [{ id: usageId, name: 'x', quantity: '1', unit_price: '1' }] });
  expect([bad.status, bad.body.detail]).toEqual([400, expect.stringContaining('only manual lines')]);

  // the draft period passes: still a draft, waiting for approval
  await h.env.sleep(2 * DAY);
  inv = await get(h, id);
  expect([inv.status, inv.status_details.extended_status]).toEqual(['draft', 'draft.manual_approval_needed']);

  inv = await ok(act(h, id, 'approve'), 200);
  expect(inv).toMatchObject({
    status: 'payment_processing',
    number: 'INV-000001',
    status_details: {
      immutable: true,
      extended_status: 'payment_processing.pending',
      available_actions: {
        mark_paid: { resulting_state: 'paid' },
        mark_uncollectible: { resulting_state: 'uncollectible' },
        void: { resulting_state: 'voided' },
      },
    },
    totals: { total: '12.90' },
  });
  expect(Date.parse(inv.due_at) - Date.parse(inv.issued_at)).toBe(7 * DAY);
  expect(Date.parse(inv.sent_to_customer_at)).toBeGreaterThanOrEqual(Date.parse(inv.issued_at));
  expect(await refusedAll(h, id)).toEqual([
    'advance',
    'approve',
    'retry',
    'snapshot_quantities',
    'edit',
    'delete',
  ]);
  expect(await searchAttributes(h, id)).toMatchObject({ status: 'payment_processing', number: 'INV-000001' });

  // unpaid at due_at: overdue, by the workflow's timer
  await h.env.sleep(6 * DAY);
  expect((await get(h, id)).status).toBe('payment_processing');
  await h.env.sleep(2 * DAY);
  inv = await waitStatus(h, id, 'overdue');
  expect(inv.status_details.available_actions).toEqual({
    mark_paid: { resulting_state: 'paid' },
    mark_uncollectible: { resulting_state: 'uncollectible' },
    void: { resulting_state: 'voided' },
  });
  await refusedAll(h, id);
  inv = await ok(act(h, id, 'mark-paid'), 200);
  expect([inv.status, inv.paid_at]).toEqual(['paid', expect.any(String)]);
  await refusedAll(h, id);
  await waitFor(async () => (await searchAttributes(h, id)).running === 'COMPLETED');
  await recordInvoiceHistory(h, id, 'invoice-approval-overdue');
});

it('auto advance with a draft period: re-rated at draft_until (a late event counts), issued then; void of the sent invoice', async () => {
  const { h, sub, a, f } = await start(
    settings(
      { auto_advance: true, draft_period: 'P2D' },
      { collection_method: 'send_invoice', due_after: 'P3D' },
    ),
  );
  const id = await firstInvoice(h, sub.id, a);
  let inv = await get(h, id);
  expect([inv.status, inv.status_details.extended_status]).toEqual(['draft', 'draft.waiting_auto_approval']);
  expect(Object.keys(inv.status_details.available_actions).sort()).toEqual(
    ['advance', 'approve', 'delete', 'edit', 'snapshot_quantities'].sort(),
  );
  await f.ingest([{ type: 'call', subject: 'acme-inc', time: new Date(a + 20 * DAY), data: {} }]);
  await h.env.sleep(DAY);
  expect((await get(h, id)).status).toBe('draft');
  await h.env.sleep(2 * DAY);
  inv = await waitStatus(h, id, 'payment_processing');
  expect(inv.lines.find((l: any) => l.kind === 'usage').quantity).toBe('4');
  expect(Date.parse(inv.issued_at) - Date.parse(inv.draft_until)).toBeLessThan(60_000);
  // frozen once issued: a later event does not change it
  await f.ingest([{ type: 'call', subject: 'acme-inc', time: new Date(a + 21 * DAY), data: {} }]);
  inv = await ok(act(h, id, 'void'), 200);
  expect(inv).toMatchObject({ status: 'voided', number: 'INV-000001', voided_at: expect.any(String) });
  expect(inv.lines.find((l: any) => l.kind === 'usage').quantity).toBe('4');
  expect(await refusedAll(h, id)).toHaveLength(9);
  // the next period's invoice takes the next number: a voided number stays used
  await advanceTo(h, month(a, 2) + 120_000, [sub.id]);
  const second = await waitFor(async () => {
    const list = await ok(h.app.api.get(`${P}/billing/invoices?sort=-created_at`), 200);
    return list.data.length === 2 && list.data[0];
  });
  await ok(act(h, second.id, 'advance'), 200);
  expect((await get(h, second.id)).number).toBe('INV-000002');
});

it('advance issues an auto-advancing draft before its draft period ends; uncollectible, then paid', async () => {
  const { h, sub, a } = await start(
    settings(
      { auto_advance: true, draft_period: 'P10D' },
      { collection_method: 'send_invoice', due_after: 'P30D' },
    ),
  );
  const id = await firstInvoice(h, sub.id, a);
  let inv = await ok(act(h, id, 'advance'), 200);
  expect(inv.status).toBe('payment_processing');
  inv = await ok(act(h, id, 'mark-uncollectible'), 200);
  expect(inv.status_details).toMatchObject({
    extended_status: 'uncollectible',
    available_actions: { mark_paid: { resulting_state: 'paid' }, void: { resulting_state: 'voided' } },
  });
  expect(await refusedAll(h, id)).toHaveLength(7);
  inv = await ok(act(h, id, 'mark-paid'), 200);
  expect(inv.status).toBe('paid');
});

it('delete a draft: 204, kept as deleted, out of the list; its workflow ends', async () => {
  const { h, sub, a } = await start(
    settings({ auto_advance: false, draft_period: 'P0D' }, { collection_method: 'charge_automatically' }),
  );
  const id = await firstInvoice(h, sub.id, a);
  await h.app.api.delete(`${P}/billing/invoices/${id}`).expect(204);
  const inv = await get(h, id);
  expect([inv.status, inv.deleted_at, inv.number]).toEqual([
    'deleted',
    expect.any(String),
    expect.stringMatching(/^DRAFT-/),
  ]);
  expect((await ok(h.app.api.get(`${P}/billing/invoices`), 200)).data).toEqual([]);
  expect((await ok(h.app.api.get(`${P}/billing/invoices?filter[status]=deleted`), 200)).data).toHaveLength(1);
  await waitFor(async () => (await searchAttributes(h, id)).running === 'COMPLETED');
  expect(await refusedAll(h, id)).toHaveLength(9);
});

it('concurrent actions: approve and void, approve and delete, mark-paid and void: one wins, the other gets 409', async () => {
  const { h, sub, a } = await start(
    settings(
      { auto_advance: false, draft_period: 'P0D' },
      { collection_method: 'send_invoice', due_after: 'P7D' },
    ),
  );
  const id = await firstInvoice(h, sub.id, a);
  // approve and void: void is never allowed on a draft, nor while it is being issued
  const [approve, voided] = await Promise.all([act(h, id, 'approve'), act(h, id, 'void')]);
  expect([approve.status, voided.status]).toEqual([200, 409]);
  // mark-paid and void on the sent invoice: exactly one applies
  const [paid, voided2] = await Promise.all([act(h, id, 'mark-paid'), act(h, id, 'void')]);
  expect([paid.status, voided2.status].sort()).toEqual([200, 409]);
  const winner = paid.status === 200 ? 'paid' : 'voided';
  expect((await get(h, id)).status).toBe(winner);
  const loser = paid.status === 200 ? voided2 : paid;
  expect(loser.body.available_actions).toEqual({});

  // the next invoice: approve and delete race on the draft
  await advanceTo(h, month(a, 2) + 120_000, [sub.id]);
  const second = await waitFor(async () => {
    const list = await ok(h.app.api.get(`${P}/billing/invoices?filter[status]=draft`), 200);
    return list.data[0];
  });
  const [ap, del] = await Promise.all([
    act(h, second.id, 'approve'),
    h.app.api.delete(`${P}/billing/invoices/${second.id}`),
  ]);
  const codes = [ap.status, del.status];
  expect(codes.filter((c) => c === 409)).toHaveLength(1);
  const status = (await get(h, second.id)).status;
  expect(status).toBe(ap.status === 200 ? 'payment_processing' : 'deleted');
  // numbers stay gapless: only an issued invoice took one
  const numbers = await h.app.deps.orm.em
    .fork()
    .execute<{ number: string }[]>('select number from invoices where number is not null order by number');
  expect(numbers.map((n) => n.number)).toEqual(
    status === 'deleted' ? ['INV-000001'] : ['INV-000001', 'INV-000002'],
  );
});

it('a crash between issuing and the hand-over, and after the hand-over: one issued invoice, one number, one hand-over; a failed issue waits for retry', async () => {
  const calls = { issue: 0, issued: 0, handOver: 0, handedOver: 0 };
  let failIssue = 0;
  const { h, sub, a } = await start(undefined, {
    activities: (real) => ({
      ...real,
      async issueDraftInvoice(input) {
        calls.issue++;
        if (failIssue > 0) {
          failIssue--;
          throw new Error('billing database unavailable');
        }
        const ref = await real.issueDraftInvoice(input);
        if (ref.issued) calls.issued++;
        // the worker dies after the commit, before Temporal hears of it
        if (calls.issue === 1) throw new Error('worker killed after issuing');
        return ref;
      },
      async handOverToPayment(input) {
        calls.handOver++;
        const r = await real.handOverToPayment(input);
        if (r.handedOver) calls.handedOver++;
        if (calls.handOver === 1) throw new Error('worker killed after the hand-over');
        return r;
      },
    }),
  });
  const id = await firstInvoice(h, sub.id, a);
  const inv = await waitStatus(h, id, 'paid');
  expect(calls).toEqual({ issue: 2, issued: 1, handOver: 2, handedOver: 1 });
  expect(inv.number).toBe('INV-000001');
  const em = h.app.deps.orm.em.fork();
  expect(
    await em.execute(
      `select c.last_value::int as n from invoice_number_counter c join billing_profiles p on p.id = c.name where p.is_default`,
    ),
  ).toEqual([{ n: 1 }]);
  expect(
    await em.execute('select count(*)::int as n from invoices where payment_handed_over_at is not null'),
  ).toEqual([{ n: 1 }]);
  await recordInvoiceHistory(h, id, 'invoice-crash-retried');

  // the next invoice's issuing keeps failing: issuing.failed, retry issues it
  failIssue = STEP_ATTEMPTS;
  await advanceTo(h, month(a, 2) + 120_000, [sub.id]);
  const second = await waitFor(async () => {
    const list = await ok(h.app.api.get(`${P}/billing/invoices?filter[status]=issuing`), 200);
    return list.data[0];
  }, 60_000);
  const failed = await get(h, second.id);
  expect(failed).toMatchObject({
    number: expect.stringMatching(/^DRAFT-/),
    status_details: {
      failed: true,
      extended_status: 'issuing.failed',
      available_actions: { retry: { resulting_state: 'issued' }, delete: { resulting_state: 'deleted' } },
    },
    failure: { step: 'issuing', message: 'billing database unavailable' },
  });
  await refusedAll(h, second.id);
  const retried = await ok(act(h, second.id, 'retry'), 200);
  expect(retried).toMatchObject({ status: 'paid', number: 'INV-000002', status_details: { failed: false } });
  expect(retried.failure).toBeUndefined();
});

it('lists invoices by status, customer, issue and period ranges, sorted', async () => {
  const { h, sub, a } = await start();
  const id = await firstInvoice(h, sub.id, a);
  const inv = await waitStatus(h, id, 'paid');
  const list = async (q: string) =>
    (await ok(h.app.api.get(`${P}/billing/invoices?${q}`), 200)).data.map((i: any) => i.id);
  const t = Date.parse(inv.issued_at);
  const iso = (ms: number) => new Date(ms).toISOString();
  expect(await list(`filter[issued_at][gte]=${iso(t)}&filter[issued_at][lt]=${iso(t + 1)}`)).toEqual([id]);
  expect(await list(`filter[issued_at][gt]=${iso(t)}`)).toEqual([]);
  expect(await list(`filter[service_period_start]=${iso(a)}`)).toEqual([id]);
  expect(await list(`filter[service_period_start][gt]=${iso(a)}`)).toEqual([]);
  expect(await list('filter[status][oeq]=paid,voided&filter[customer_id]=acme-inc')).toEqual([id]);
  expect(await list('filter[status]=payment_processing')).toEqual([]);
  expect(await list('sort=-issued_at')).toEqual([id]);
  expect(await list('sort=issued_at desc')).toEqual([id]);
  const bad = await h.app.api.get(`${P}/billing/invoices?filter[issued_at][after]=x`);
  expect(bad.status).toBe(400);
  expect((await h.app.api.get(`${P}/billing/invoices?sort=-number`)).status).toBe(400);
});

it('the remaining transitions: overdue → void, overdue → uncollectible → void, a failed hand-over → retry, a failed issue → delete; a waiting auto-advance draft refuses the rest', async () => {
  let failHandOver = 0;
  let failIssue = 0;
  const { h, sub, a } = await start(
    settings(
      { auto_advance: true, draft_period: 'P1D' },
      { collection_method: 'send_invoice', due_after: 'P1D' },
    ),
    {
      activities: (real) => ({
        ...real,
        async issueDraftInvoice(input) {
          if (failIssue > 0) {
            failIssue--;
            throw new Error('issuing refused by the test');
          }
          return real.issueDraftInvoice(input);
        },
        async handOverToPayment(input) {
          if (failHandOver > 0) {
            failHandOver--;
            throw new Error('payment app unreachable');
          }
          return real.handOverToPayment(input);
        },
      }),
    },
  );
  // 1st invoice: a waiting auto-advance draft; its hand-over fails (all its attempts), then retry
  const first = await firstInvoice(h, sub.id, a);
  expect((await get(h, first)).status_details.extended_status).toBe('draft.waiting_auto_approval');
  expect(await refusedAll(h, first)).toEqual(['retry', 'void', 'mark_paid', 'mark_uncollectible']);
  // at draft_until it is issued; the hand-over fails (all its attempts, backing off while time skips)
  failHandOver = STEP_ATTEMPTS;
  await h.env.sleep(DAY + 60_000);
  let inv = await waitFor(async () => {
    const i = await get(h, first);
    return i.status_details.failed && i;
  });
  expect(inv).toMatchObject({
    status: 'issued',
    number: 'INV-000001',
    status_details: {
      failed: true,
      extended_status: 'issued.payment_hand_over_failed',
      available_actions: {
        retry: { resulting_state: 'payment_processing.pending' },
        void: { resulting_state: 'voided' },
      },
    },
    failure: { step: 'payment', message: 'payment app unreachable' },
  });
  await refusedAll(h, first);
  inv = await ok(act(h, first, 'retry'), 200);
  expect([inv.status, inv.status_details.failed, inv.failure]).toEqual([
    'payment_processing',
    false,
    undefined,
  ]);
  // overdue a day later, then void
  await h.env.sleep(2 * DAY);
  await waitStatus(h, first, 'overdue');
  inv = await ok(act(h, first, 'void'), 200);
  expect(inv.status).toBe('voided');

  // 2nd invoice: overdue → uncollectible → void
  await advanceTo(h, month(a, 2) + 120_000, [sub.id]);
  const second = await waitFor(async () => {
    const l = await ok(h.app.api.get(`${P}/billing/invoices?filter[status]=draft`), 200);
    return l.data[0]?.id as string | undefined;
  });
  await h.env.sleep(3 * DAY);
  await waitStatus(h, second, 'overdue');
  inv = await ok(act(h, second, 'mark-uncollectible'), 200);
  expect(inv.status).toBe('uncollectible');
  inv = await ok(act(h, second, 'void'), 200);
  expect([inv.status, inv.number]).toEqual(['voided', 'INV-000002']);

  // 3rd invoice: issuing fails (all its attempts): the draft, still unnumbered, is deleted
  await advanceTo(h, month(a, 3) + 120_000, [sub.id]);
  const third = await waitFor(async () => {
    const l = await ok(h.app.api.get(`${P}/billing/invoices?filter[status]=draft`), 200);
    return l.data[0]?.id as string | undefined;
  });
  failIssue = STEP_ATTEMPTS;
  await h.env.sleep(DAY + 60_000);
  inv = await waitFor(async () => {
    const i = await get(h, third);
    return i.status_details.failed && i;
  });
  expect(inv).toMatchObject({
    status: 'issuing',
    number: expect.stringMatching(/^DRAFT-/),
    status_details: { failed: true, extended_status: 'issuing.failed' },
  });
  await refusedAll(h, third);
  await h.app.api.delete(`${P}/billing/invoices/${third}`).expect(204);
  expect((await get(h, third)).status).toBe('deleted');
  const counter = await h.app.deps.orm.em
    .fork()
    .execute(
      `select c.last_value::int as n from invoice_number_counter c join billing_profiles p on p.id = c.name where p.is_default`,
    );
  expect(counter).toEqual([{ n: 2 }]);
});

it('an invoice issued before the lifecycle (no workflow): its first action starts its workflow from the row; it is never charged now', async () => {
  const { h, sub, a } = await start();
  const em = h.app.deps.orm.em.fork();
  const ref = await issueInvoice(em, {
    invoiceKey: `legacy-${sub.id}`,
    subscriptionId: sub.id,
    customerId: sub.customer_id,
    subscriptionStart: sub.active_from,
    arrears: {
      planId: sub.plan.id,
      phaseKey: 'default',
      from: new Date(a).toISOString(),
      to: new Date(a + 5 * DAY).toISOString(),
      cycleFrom: new Date(a).toISOString(),
      cycleTo: new Date(month(a, 1)).toISOString(),
    },
  });
  // what the lifecycle migration writes for the invoices issued before it
  await em.execute('update invoices set payment_handed_over_at = issued_at where id = ?', [ref.invoiceId]);
  const inv = await get(h, ref.invoiceId);
  expect([inv.status, inv.number, inv.status_details.available_actions]).toEqual([
    'issued',
    ref.number,
    { void: { resulting_state: 'voided' } },
  ]);
  expect(await refusedAll(h, ref.invoiceId)).toHaveLength(8);
  const voided = await ok(act(h, ref.invoiceId, 'void'), 200);
  expect([voided.status, voided.paid_at]).toEqual(['voided', undefined]);
  await waitFor(async () => (await searchAttributes(h, ref.invoiceId)).running === 'COMPLETED');
  expect(await searchAttributes(h, ref.invoiceId)).toMatchObject({ status: 'voided' });
});

/** Writes the invoice workflow's history as a replay fixture when RECORD_HISTORIES=1. */
async function recordInvoiceHistory(h: Harness, invoiceId: string, name: string) {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const dir = path.join(__dirname, '..', 'fixtures', 'histories');
  mkdirSync(dir, { recursive: true });
  const history = await h.env.client.workflow.getHandle(`invoice-${invoiceId}`).fetchHistory();
  writeFileSync(path.join(dir, `${name}-run1.json`), historyJson(history));
}

it('Idempotency-Key on an action: a retried approve gets the first answer again (not a 409); without the key the repeat is refused', async () => {
  const { h, sub, a } = await start(
    settings({ auto_advance: false, draft_period: 'P0D' }, { collection_method: 'charge_automatically' }),
  );
  const id = await firstInvoice(h, sub.id, a);
  const approve = () =>
    h.app.api.post(`${P}/billing/invoices/${id}/approve`).set('Idempotency-Key', `approve-${id}`).send();
  const first = await approve();
  expect(first.status).toBe(200);
  expect(first.headers['idempotent-replayed']).toBeUndefined();
  const again = await approve();
  expect([again.status, again.headers['idempotent-replayed']]).toEqual([200, 'true']);
  expect(again.body).toEqual(first.body);
  // the same key with another action's path is misuse; a repeat without a key meets the new status
  const other = await h.app.api
    .post(`${P}/billing/invoices/${id}/void`)
    .set('Idempotency-Key', `approve-${id}`)
    .send();
  expect(other.status).toBe(422);
  const bare = await h.app.api.post(`${P}/billing/invoices/${id}/approve`).send();
  expect(bare.status).toBe(409);
  expect(bare.body.detail).toContain('approve is not allowed while the invoice is');
  expect(bare.body.available_actions).toEqual((await get(h, id)).status_details.available_actions);
  // the replays changed nothing: one issued number
  expect((await get(h, id)).number).toBe('INV-000001');
});
