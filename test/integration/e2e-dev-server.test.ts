/**
 * End to end against the real Temporal dev server (real timers, real visibility), not the time-skipping
 * server: a plan billed every minute, events at the current time, a real worker (`createWorker`), and
 * everything else through the HTTP API. The first invoice is issued about a minute plus the collection
 * period (5 s) after the subscription starts.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createWorker } from '../../src/temporal/worker';
import { createTestApp, type TestApp } from '../support/app';
import { ok, P } from '../support/api';
import { createLocalEnv } from '../support/temporal';

jest.setTimeout(300_000);

const TASK_QUEUE = 'tally-e2e-dev-server';
const CUSTOMER_KEY = `e2e-${randomUUID().slice(0, 8)}`;

let env: TestWorkflowEnvironment | undefined;
let app: TestApp | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;

beforeAll(async () => {
  env = await createLocalEnv();
  app = await createTestApp({
    temporal: env.client,
    config: { TALLY_COLLECTION_PERIOD: 'PT5S', TEMPORAL_TASK_QUEUE: TASK_QUEUE },
  });
  worker = await createWorker(app.deps, {
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    tuning: { shutdownGraceTime: '1s' },
  });
  running = worker.run();
});

afterAll(async () => {
  if (worker && running) {
    worker.shutdown();
    await running;
  }
  await env?.teardown();
  await app?.close();
});

/** Polls `fn` every `everyMs` until it returns a truthy value, or fails after `timeoutMs`. */
async function poll<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 1000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

it('bills a one-minute plan with a real invoice, findable by search attribute, then cancels', async () => {
  const api = app!.api;
  const t0 = Date.now();

  const meter = await ok(
    api.post(`${P}/meters`).send({
      key: 'e2e_active_users',
      name: 'Active users',
      aggregation: 'unique_count',
      event_type: 'user_activity',
      value_property: '$.user_id',
    }),
    201,
  );
  const feature = await ok(
    api.post(`${P}/features`).send({ key: 'active-users', name: 'Active users', meter: { id: meter.id } }),
    201,
  );
  const draft = await ok(
    api.post(`${P}/plans`).send({
      key: 'per-minute',
      name: 'Per minute',
      currency: 'USD',
      billing_cadence: 'PT1M',
      phases: [
        {
          key: 'default',
          name: 'Default',
          rate_cards: [
            {
              key: 'active-users',
              name: 'Active users',
              feature: { id: feature.id },
              billing_cadence: 'PT1M',
              price: { type: 'unit', amount: '2.5' },
            },
          ],
        },
      ],
    }),
    201,
  );
  const plan = await ok(api.post(`${P}/plans/${draft.id}/publish`), 200);
  expect(plan.status).toBe('active');
  const customer = await ok(
    api.post(`${P}/customers`).send({ key: CUSTOMER_KEY, name: 'E2E Inc', currency: 'USD' }),
    201,
  );
  const sub = await ok(
    api.post(`${P}/subscriptions`).send({ customer: { key: CUSTOMER_KEY }, plan: { key: 'per-minute' } }),
    201,
  );
  expect(sub).toMatchObject({ status: 'active', billing_cadence: 'PT1M', customer_id: customer.id });
  const periodFrom = sub.active_from as string;
  const periodTo = new Date(Date.parse(periodFrom) + 60_000).toISOString();
  expect(sub.current_period).toEqual({ from: periodFrom, to: periodTo });

  // four events by three users, at the current (real) time, inside the first period
  const event = (user: string) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: 'e2e',
    type: 'user_activity',
    subject: CUSTOMER_KEY,
    time: new Date().toISOString(),
    data: { user_id: user },
  });
  for (const user of ['alice', 'bob', 'alice', 'carol']) {
    await ok(
      api.post(`${P}/events`).set('Content-Type', 'application/cloudevents+json').send(event(user)),
      202,
    );
  }
  // an event of another type is not counted
  await ok(
    api
      .post(`${P}/events`)
      .set('Content-Type', 'application/cloudevents+json')
      .send({ ...event('mallory'), type: 'page_view' }),
    202,
  );

  // the workflow is findable by its customer key (visibility may lag a little)
  const query = `TallyCustomerKey="${CUSTOMER_KEY}"`;
  const found = await poll(
    'the workflow in visibility',
    async () => {
      const ids: string[] = [];
      for await (const wf of env!.client.workflow.list({ query })) ids.push(wf.workflowId);
      return ids.length > 0 && ids;
    },
    20_000,
    250,
  );
  expect(found).toEqual([`subscription-${sub.id}`]);
  // "everything that bills in the next hour" (a one-minute cycle does), and nothing beyond it
  const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
  const listIds = async (q: string) => {
    const ids: string[] = [];
    for await (const wf of env!.client.workflow.list({ query: q })) ids.push(wf.workflowId);
    return ids;
  };
  const soon = await poll(
    'the workflow by its next billing time',
    async () => {
      const ids = await listIds(`${query} AND TallyNextBillingAt < "${inAnHour}"`);
      return ids.length > 0 && ids;
    },
    20_000,
    250,
  );
  expect(soon).toEqual([`subscription-${sub.id}`]);
  expect(await listIds(`${query} AND TallyNextBillingAt > "${inAnHour}"`)).toEqual([]);

  // the first period's invoice: one minute + the 5 s collection period after the start
  const listed = await poll(
    'the first invoice',
    async () => {
      const res = await ok(api.get(`${P}/billing/invoices?filter[customer_id]=${customer.id}`), 200);
      return res.data.find((i: { service_period: { from: string } }) => i.service_period.from === periodFrom);
    },
    180_000,
  );
  // handed over as a draft, issued and charged (the default profile, the sandbox payment app) by its own
  // workflow at once
  const invoice = await poll(
    'the invoice paid',
    async () => {
      const inv = await ok(api.get(`${P}/billing/invoices/${listed.id}`), 200);
      return inv.status === 'paid' && inv;
    },
    30_000,
    250,
  );
  expect(invoice).toMatchObject({
    status: 'paid',
    number: expect.stringMatching(/^INV-\d{6}$/),
    currency: 'USD',
    customer: { id: customer.id, key: CUSTOMER_KEY },
    subscription: { id: sub.id },
    service_period: { from: periodFrom, to: periodTo },
    totals: { amount: '7.50', total: '7.50' },
  });
  expect(Date.parse(invoice.service_period.to) - Date.parse(invoice.service_period.from)).toBe(60_000);
  // issued only after the period closed and the collection period passed
  expect(Date.parse(invoice.issued_at)).toBeGreaterThanOrEqual(Date.parse(periodTo) + 5_000);
  expect(invoice.lines).toHaveLength(1);
  expect(invoice.lines[0]).toMatchObject({
    feature_key: 'active-users',
    rate_card_key: 'active-users',
    kind: 'usage',
    quantity: '3',
    unit_price: '2.5',
    service_period: { from: periodFrom, to: periodTo },
    totals: { amount: '7.50', total: '7.50' },
  });

  // the invoice's workflow is findable by its number
  const byNumber = await poll(
    'the invoice workflow in visibility',
    async () => {
      const ids: string[] = [];
      for await (const wf of env!.client.workflow.list({
        query: `TallyInvoiceNumber="${invoice.number}" AND TallyInvoiceStatus="paid"`,
      }))
        ids.push(wf.workflowId);
      return ids.length > 0 && ids;
    },
    20_000,
    250,
  );
  expect(byNumber).toEqual([`invoice-${invoice.id}`]);

  // cancel now: the workflow completes and its status search attribute says so
  const canceled = await ok(
    api.post(`${P}/subscriptions/${sub.id}/cancel`).send({ timing: 'immediate' }),
    200,
  );
  expect(canceled.status).toBe('inactive');
  const handle = env!.client.workflow.getHandle(`subscription-${sub.id}`);
  await poll(
    'the workflow to complete',
    async () => (await handle.describe()).status.name === 'COMPLETED',
    30_000,
    250,
  );
  await poll(
    'the canceled status in visibility',
    async () => {
      const ids: string[] = [];
      for await (const wf of env!.client.workflow.list({
        query: `${query} AND TallySubscriptionStatus="canceled"`,
      }))
        ids.push(wf.workflowId);
      return ids.length === 1;
    },
    20_000,
    250,
  );
  const after = await ok(api.get(`${P}/subscriptions/${sub.id}`), 200);
  expect(after.status).toBe('inactive');
  if (process.env.TALLY_TEST_LOG) console.log(`e2e billing cycle took ${Date.now() - t0} ms`);
});
