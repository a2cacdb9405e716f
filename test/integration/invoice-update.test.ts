/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * `PUT /billing/invoices/{id}` with OpenMeter's `UpdateInvoiceRequest`: a full replace of a draft, through the
 * API, its invoice workflow (time-skipping Temporal server) and a real PostgreSQL. One draft (the metered
 * subscription's first invoice: 3 calls at 0.1 = 0.30, a profile that waits for approval) is updated in
 * turn: snapshots, labels and settings replaced, lines added, changed and removed, totals checked against
 * amounts computed by hand; bad input refused naming the field, with nothing changed; the draft then runs by
 * the updated settings (auto advance after the new draft period, sent with the new due date), and the
 * issued invoice refuses an update (409, unchanged).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ok, P } from '../support/api';
import {
  advanceTo,
  createHarness,
  DAY,
  month,
  subscribeMetered,
  waitFor,
  type Harness,
} from '../support/harness';

jest.setTimeout(240_000);

let h: Harness;
let id: string;
let a: number;
let ingest: (e: { type: string; subject: string; time: Date; data: unknown }[]) => Promise<unknown>;

const get = async () => ok(h.app.api.get(`${P}/billing/invoices/${id}`), 200);
const put = (body: unknown) => h.app.api.put(`${P}/billing/invoices/${id}`).send(body as object);

beforeAll(async () => {
  h = await createHarness();
  const list = await ok(h.app.api.get(`${P}/profiles`), 200);
  const d = list.data.find((p: { default: boolean }) => p.default);
  await ok(
    h.app.api.put(`${P}/profiles/${d.id}`).send({
      name: d.name,
      supplier: { name: 'Tally Test Ltd', email: 'billing@tally.test' },
      workflow: {
        collection: d.workflow.collection,
        invoicing: { auto_advance: false, draft_period: 'P1D' },
        payment: { collection_method: 'charge_automatically' },
      },
      default: true,
    }),
    200,
  );
  const s = await subscribeMetered(h);
  a = s.a;
  ingest = (e) => s.f.ingest(e);
  await advanceTo(h, month(a, 1) + 120_000, [s.sub.id]);
  id = await waitFor(async () => {
    const rows = await h.app.deps.orm.em
      .fork()
      .execute<{ id: string }[]>('select id from invoices where subscription_id = ?', [s.sub.id]);
    return rows[0]?.id;
  });
  const inv = await get();
  expect([inv.status, inv.totals.total]).toEqual(['draft', '0.30']);
});
afterAll(async () => {
  await h?.close();
});

/** The invoice's usage line as OpenMeter's update sends a line back (id, name, period, rate card). */
const echo = (l: any, changes: Record<string, unknown> = {}) => ({
  type: 'standard_line',
  id: l.id,
  name: l.name,
  service_period: l.service_period,
  rate_card: { price: l.rate_card.price, feature_key: l.rate_card.feature_key },
  ...changes,
});

/** OpenMeter's required parts, as a client sends them back */
const required = (inv: any) => ({
  type: 'standard',
  supplier: { name: inv.supplier.name },
  customer: { id: inv.customer.id, key: inv.customer.key, name: inv.customer.name },
  workflow: { workflow: {} },
});

it("OpenMeter's maximal example body (the conformance fixture) is taken by a draft, every field in it", async () => {
  const fixture = JSON.parse(
    readFileSync(path.join(__dirname, '..', 'fixtures', 'openmeter-requests.json'), 'utf8'),
  ) as { requests: { operation: string; body: any }[] };
  const body = structuredClone(fixture.requests.find((r) => r.operation === 'update-invoice')!.body);
  // as is, but for auto_advance (the example's default would issue the draft at once)
  body.workflow.workflow.invoicing = { auto_advance: false, draft_period: 'P1D' };
  const before = await get();
  const usage = before.lines.find((l: any) => l.kind === 'usage');
  body.lines = [echo(usage), ...body.lines];
  const inv = await ok(put(body), 200);
  expect(inv).toMatchObject({
    description: 'example',
    labels: { example: 'example' },
    supplier: { name: 'example', tax_id: { code: 'example' } },
    customer: {
      id: before.customer.id,
      key: 'acme-inc',
      name: 'example',
      billing_address: { country: 'US' },
    },
    workflow: { payment: { collection_method: 'charge_automatically' } },
    totals: { total: '0.30' },
  });
  // the example's line names an id the invoice does not have: a new line (as OpenMeter), free
  expect(inv.lines).toHaveLength(2);
  expect(inv.lines[1]).toMatchObject({
    name: 'example',
    description: 'example',
    labels: { example: 'example' },
    lifecycle_controller: 'manual',
    feature_key: 'resource_key',
    totals: { total: '0.00' },
    rate_card: {
      price: { type: 'free' },
      tax_config: body.lines[1].rate_card.tax_config,
      discounts: { percentage: 1, usage: '1' },
    },
  });
  expect(inv.lines[1].id).not.toBe(body.lines[1].id);
  // the supplier's id in the body is ignored
  expect(inv.supplier.id).toBe(before.supplier.id);
});

it('a full replace: snapshots, labels, settings; a flat line and a usage line added, totals recomputed', async () => {
  const before = await get();
  const usage = before.lines.find((l: any) => l.kind === 'usage');
  const period = before.service_period;
  const inv = await ok(
    put({
      type: 'standard',
      description: 'January, revised',
      labels: { team: 'growth' },
      supplier: {
        id: 'ignored',
        name: 'Tally Europe BV',
        tax_id: { code: 'NL123456789B01' },
        addresses: { billing_address: { country: 'NL', city: 'Amsterdam', line1: 'Dam 1' } },
      },
      customer: {
        id: before.customer.id,
        key: before.customer.key,
        name: 'Acme Incorporated',
        usage_attribution: { subject_keys: ['acme-inc'] },
        billing_address: { country: 'US', city: 'Boston', postal_code: '02110' },
      },
      workflow: {
        workflow: {
          invoicing: { auto_advance: false, draft_period: 'P3D' },
          payment: { collection_method: 'send_invoice', due_after: 'P14D' },
        },
      },
      lines: [
        echo(usage),
        {
          type: 'standard_line',
          name: 'Onboarding',
          description: 'one-off setup',
          labels: { kind: 'setup' },
          service_period: period,
          rate_card: {
            price: { type: 'flat', amount: '120.456' },
            tax_config: { behavior: 'exclusive', code: { id: '01JD0000000000000000000000' } },
            discounts: { percentage: 10 },
          },
        },
        {
          type: 'standard_line',
          name: 'Extra calls',
          service_period: usage.service_period,
          rate_card: { price: { type: 'unit', amount: '0.25' }, feature_key: 'calls' },
        },
        {
          type: 'standard_line',
          name: 'Tiered calls',
          service_period: usage.service_period,
          rate_card: {
            price: {
              type: 'graduated',
              tiers: [
                { up_to_amount: '2', unit_price: { type: 'unit', amount: '1' } },
                { unit_price: { type: 'unit', amount: '0.5' }, flat_price: { type: 'flat', amount: '3' } },
              ],
            },
            feature_key: 'calls',
          },
        },
      ],
    }),
    200,
  );
  expect(inv).toMatchObject({
    status: 'draft',
    description: 'January, revised',
    labels: { team: 'growth' },
    // the identity stays; Tally's email, not part of OpenMeter's supplier, is kept
    supplier: {
      name: 'Tally Europe BV',
      email: 'billing@tally.test',
      tax_id: { code: 'NL123456789B01' },
      addresses: { billing_address: { country: 'NL', city: 'Amsterdam', line1: 'Dam 1' } },
    },
    customer: {
      id: before.customer.id,
      key: 'acme-inc',
      name: 'Acme Incorporated',
      billing_address: { country: 'US', city: 'Boston', postal_code: '02110' },
    },
    workflow: {
      collection: before.workflow.collection,
      invoicing: { auto_advance: false, draft_period: 'P3D' },
      payment: { collection_method: 'send_invoice', due_after: 'P14D' },
    },
    status_details: { extended_status: 'draft.manual_approval_needed' },
    // 0.30 (3 calls at 0.1, unchanged) + 120.46 (120.456 rounded half up) + 0.75 (3 calls at 0.25)
    // + 5.50 (2 calls at 1, the third at 0.5, plus the second tier's flat 3)
    totals: { amount: '127.01', total: '127.01' },
  });
  expect(inv.supplier.id).toBe(before.supplier.id);
  // the new draft period counts from the collection
  expect(Date.parse(inv.draft_until) - Date.parse(inv.collection_at)).toBe(3 * DAY);
  expect(
    inv.lines.map((l: any) => [l.name, l.lifecycle_controller, l.kind, l.quantity, l.totals.total]),
  ).toEqual([
    ['Calls', 'system', 'usage', '3', '0.30'],
    ['Onboarding', 'manual', 'flat', '1', '120.46'],
    ['Extra calls', 'manual', 'usage', '3', '0.75'],
    ['Tiered calls', 'manual', 'usage', '3', '5.50'],
  ]);
  expect(inv.lines[3]).toMatchObject({
    unit_price: null,
    detailed_lines: [
      { quantity: '2', unit_price: '1', tier_index: 0, totals: { total: '2.00' } },
      { quantity: '1', unit_price: '0.5', tier_index: 1, totals: { total: '0.50' } },
      { quantity: '1', unit_price: '3', tier_index: 1, totals: { total: '3.00' } },
    ],
  });
  expect(inv.lines[0]).toMatchObject({ id: usage.id, updated_at: expect.any(String) });
  expect(inv.lines[1]).toMatchObject({
    description: 'one-off setup',
    labels: { kind: 'setup' },
    service_period: period,
    rate_card: {
      price: { type: 'flat', amount: '120.456' },
      tax_config: { behavior: 'exclusive', code: { id: '01JD0000000000000000000000' } },
      discounts: { percentage: 10 },
    },
    detailed_lines: [{ quantity: '1', unit_price: '120.456', totals: { total: '120.46' } }],
  });
  expect(inv.lines[2]).toMatchObject({
    feature_key: 'calls',
    unit_price: '0.25',
    rate_card: { price: { type: 'unit', amount: '0.25' }, feature_key: 'calls' },
    detailed_lines: [{ quantity: '3', unit_price: '0.25', totals: { total: '0.75' } }],
  });
  expect(await get()).toEqual(inv);
});

it('lines updated by id and removed when left out; parts left out cleared, settings left out kept; manual usage re-rated', async () => {
  const before = await get();
  const [usage, onboarding] = before.lines;
  const inv = await ok(
    put({
      ...required(before),
      lines: [
        {
          ...echo(onboarding),
          name: 'Onboarding (discounted)',
          rate_card: { price: { type: 'flat', amount: '99.99' } },
        },
        // the subscription's line with another price: a manual line priced by it
        echo(usage, { rate_card: { price: { type: 'unit', amount: '0.2' }, feature_key: 'calls' } }),
      ],
    }),
    200,
  );
  expect(
    inv.lines.map((l: any) => [l.id, l.name, l.lifecycle_controller, l.quantity, l.totals.total]),
  ).toEqual([
    [onboarding.id, 'Onboarding (discounted)', 'manual', '1', '99.99'],
    [usage.id, 'Calls', 'manual', '3', '0.60'],
  ]);
  // 99.99 + 3 × 0.2
  expect(inv.totals).toMatchObject({ amount: '100.59', total: '100.59' });
  expect(inv.description).toBeUndefined();
  expect(inv.labels).toBeUndefined();
  expect(inv.lines[0].labels).toBeUndefined();
  expect(inv.lines[0].rate_card.tax_config).toBeUndefined();
  expect(inv.supplier).toEqual({
    id: before.supplier.id,
    name: 'Tally Europe BV',
    email: 'billing@tally.test',
  });
  expect(inv.customer.billing_address).toBeUndefined();
  expect(inv.workflow).toEqual(before.workflow);
  expect(inv.draft_until).toBe(before.draft_until);
  const rows = await h.app.deps.orm.em
    .fork()
    .execute<{ n: string }[]>('select count(*)::text as n from invoice_lines where invoice_id = ?', [id]);
  expect(rows[0].n).toBe('2');

  // a late call inside the line's period: the manual usage line is measured again (4 × 0.2)
  await ingest([{ type: 'call', subject: 'acme-inc', time: new Date(a + 10 * DAY), data: {} }]);
  const snap = await ok(h.app.api.post(`${P}/billing/invoices/${id}/snapshot-quantities`), 200);
  expect(snap.lines.map((l: any) => [l.quantity, l.totals.total])).toEqual([
    ['1', '99.99'],
    ['4', '0.80'],
  ]);
  expect(snap.totals.total).toBe('100.79');
});

it('bad input: 400 naming the field, nothing changed', async () => {
  const before = await get();
  const [onboarding, usage] = before.lines;
  const cases: [unknown, string, string?][] = [
    [
      {
        ...required(before),
        lines: [{ ...echo(onboarding), rate_card: { price: { type: 'unit', amount: '1' } } }],
      },
      'body.lines[0].rate_card.feature_key',
      'required',
    ],
    [
      {
        ...required(before),
        lines: [
          echo(onboarding, { rate_card: { price: { type: 'unit', amount: '1' }, feature_key: 'nope' } }),
        ],
      },
      'body.lines[0].rate_card.feature_key',
    ],
    [{ ...required(before), lines: [echo(onboarding), echo(usage), echo(onboarding)] }, 'body.lines[2].id'],
    [
      {
        ...required(before),
        lines: [
          echo(onboarding, { service_period: { from: '2030-02-01T00:00:00Z', to: '2030-01-01T00:00:00Z' } }),
        ],
      },
      'body.lines[0].service_period',
    ],
    [
      { ...required(before), lines: [{ ...echo(onboarding), quantity: '2' }] },
      'body.lines[0].quantity',
      'unknown_property',
    ],
    [{ ...required(before), type: 'gathering' }, 'body.type'],
    [{ ...required(before), customer: { id: before.customer.id } }, 'body.customer.name'],
    [
      {
        ...required(before),
        workflow: { workflow: { payment: { collection_method: 'send_invoice', due_after: 'soon' } } },
      },
      'body.workflow.workflow.payment.due_after',
    ],
    [
      { ...required(before), workflow: { workflow: { invoicing: { draft_period: 'P999999Y' } } } },
      'body.workflow.workflow.invoicing.draft_period',
    ],
    [
      {
        ...required(before),
        lines: [
          echo(onboarding, {
            rate_card: {
              price: {
                type: 'graduated',
                tiers: [{ unit_price: { type: 'unit', amount: '1' } }, { up_to_amount: '5' }],
              },
              feature_key: 'calls',
            },
          }),
        ],
      },
      'body.lines[0].rate_card.price.tiers[0].up_to_amount',
    ],
  ];
  for (const [body, field, rule] of cases) {
    const res = await put(body);
    expect([field, res.status, res.headers['content-type']]).toEqual([
      field,
      400,
      expect.stringContaining('application/problem+json'),
    ]);
    expect(res.body.invalid_parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, ...(rule ? { rule } : {}) })]),
    );
  }
  expect(await get()).toEqual(before);
});

it('the draft runs by the updated settings: auto advance after the new draft period, sent with the new due date; then an update is refused (409) and changes nothing', async () => {
  const before = await get();
  const inv = await ok(
    put({
      ...required(before),
      description: 'January',
      workflow: { workflow: { invoicing: { auto_advance: true, draft_period: 'P5D' } } },
    }),
    200,
  );
  // lines left out stay
  expect(inv.lines).toEqual(before.lines.map((l: any) => ({ ...l })));
  expect(inv).toMatchObject({
    workflow: {
      invoicing: { auto_advance: true, draft_period: 'P5D' },
      payment: { collection_method: 'send_invoice', due_after: 'P14D' },
    },
    status_details: { extended_status: 'draft.waiting_auto_approval' },
  });
  const draftUntil = Date.parse(inv.draft_until);
  expect(draftUntil - Date.parse(inv.collection_at)).toBe(5 * DAY);
  // still a draft well past the old draft period (3 days)
  await h.env.sleep(draftUntil - (await h.env.currentTimeMs()) - DAY);
  expect((await get()).status).toBe('draft');
  await h.env.sleep(2 * DAY);
  const issued = await waitFor(async () => {
    const x = await get();
    return x.status === 'payment_processing' && x;
  });
  expect(issued).toMatchObject({ number: 'INV-000001', totals: { total: '100.79' } });
  expect(Date.parse(issued.issued_at)).toBeGreaterThanOrEqual(draftUntil);
  expect(Date.parse(issued.due_at) - Date.parse(issued.issued_at)).toBe(14 * DAY);

  const refused = await put({ ...required(issued), description: 'too late' });
  expect(refused.status).toBe(409);
  expect(refused.body.available_actions).toEqual(issued.status_details.available_actions);
  expect(await get()).toEqual(issued);
});
