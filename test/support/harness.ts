/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Test harness for the subscription workflow: a time-skipping Temporal server, the real app (API + fresh
 * database) wired to its client, and a real Worker running the real workflow bundle and activities.
 * Each test gets its own harness, so workflow time starts at real "now" (the API stamps `active_from` with
 * the wall clock) and then jumps as the test sleeps.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type Activities } from '../../activities';
import { fixtures } from './api';
import { createTestApp, type TestApp } from './app';
import { createTimeSkippingEnv, registerSearchAttributes } from './temporal';
import { addDuration } from '../../src/catalog/periods';
import type { SnapshotResolver } from '../../src/billing/settings';

export const TASK_QUEUE = 'tally-subscriptions-test';
export const DAY = 24 * 3600 * 1000;
/** `n` calendar months after `from` (ms since epoch), as billing periods count them */
export const month = (from: string | number, n: number) => addDuration(new Date(from), `P${n}M`).getTime();
export const isoOf = (ms: number) => new Date(ms).toISOString();

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export const workflowBundle = () =>
  (bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger }));

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (m: string) => console.error(m),
};

export interface Harness {
  env: TestWorkflowEnvironment;
  app: TestApp;
  /** the running worker; replace it with `restartWorker()` */
  worker: Worker;
  /**
   * `maxCachedWorkflows` overrides the harness option for this worker (undefined: the SDK default); the
   * option otherwise stays the one `createHarness` was given
   */
  restartWorker(activities?: Activities, worker?: { maxCachedWorkflows?: number }): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  collectionPeriod?: string;
  /**
   * 0 = no sticky cache: every workflow task replays from history, and the server never routes tasks to a
   * stopped worker's sticky queue (the time-skipping server does not time those out)
   */
  maxCachedWorkflows?: number;
  /** wrap the real activities (e.g. to inject failures) */
  activities?: (real: Activities) => Activities;
  /** the customers' billing settings (default: the default profile) */
  invoicing?: SnapshotResolver;
  /** the Stripe SDK's HTTP client (test/support/stripe.ts records the requests) */
  stripeHttpClient?: TestAppOptions['stripeHttpClient'];
}
type TestAppOptions = NonNullable<Parameters<typeof createTestApp>[0]>;

export async function createHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const env = await createTimeSkippingEnv();
  await registerSearchAttributes(env);
  const app = await createTestApp({
    temporal: env.client,
    config: { TALLY_COLLECTION_PERIOD: opts.collectionPeriod ?? 'PT1M', TEMPORAL_TASK_QUEUE: TASK_QUEUE },
    ...(opts.stripeHttpClient ? { stripeHttpClient: opts.stripeHttpClient } : {}),
  });
  const real = createActivities(app.deps, { invoicingSnapshot: opts.invoicing });
  const activities = opts.activities ? opts.activities(real) : real;
  let running: Promise<void> | undefined;
  const h: Harness = {
    env,
    app,
    worker: undefined as unknown as Worker,
    async restartWorker(acts = activities, w = { maxCachedWorkflows: opts.maxCachedWorkflows }) {
      await h.stopWorker();
      h.worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: TASK_QUEUE,
        workflowBundle: await workflowBundle(),
        activities: acts,
        shutdownGraceTime: '1s',
        ...(w.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: w.maxCachedWorkflows } : {}),
        shutdownForceTime: '3s',
      });
      running = h.worker.run();
    },
    async stopWorker() {
      if (running) {
        const t0 = Date.now();
        h.worker.shutdown();
        await running.catch((e: unknown) => console.warn('worker stopped:', (e as Error).message));
        running = undefined;
        if (process.env.TALLY_TEST_LOG) console.log(`worker stopped in ${Date.now() - t0} ms`);
      }
    },
    async close() {
      await h.stopWorker();
      await env.teardown();
      await app.close();
    },
  };
  await h.restartWorker();
  return h;
}

/**
 * The usual scenario: plan `metered` (0.1 per call on meter/feature `calls`), customer `acme-inc` subscribed
 * to it now, and one `call` event on each of days 1, 2 and 3 after `active_from` (`a`, ms since epoch).
 */
export async function subscribeMetered(h: Harness) {
  const f = fixtures(h.app);
  const { feature } = await f.meteredFeature();
  await f.meteredPlan('metered', { featureId: feature.id, price: '0.1' });
  await f.customer('acme-inc');
  const sub = await f.subscribe({ customer: { key: 'acme-inc' }, plan: { key: 'metered' } });
  const a = Date.parse(sub.active_from);
  await f.ingest(
    [1, 2, 3].map((d) => ({ type: 'call', subject: 'acme-inc', time: new Date(a + d * DAY), data: {} })),
  );
  return { f, sub, a };
}

export interface IssuedInvoice {
  id: string;
  invoice_key: string;
  total: string;
  from: string;
  to: string;
  lines: {
    rate_card_key: string;
    kind: string;
    quantity: string;
    amount: string;
    from: string;
    to: string;
  }[];
}

/** The subscription's invoices with their lines, oldest service period first. */
export async function invoicesOf(app: TestApp, subscriptionId: string): Promise<IssuedInvoice[]> {
  const em = app.deps.orm.em.fork();
  const invs = await em.execute<any[]>(
    `select id, invoice_key, total::text as total, service_period_from, service_period_to
     from invoices where subscription_id = ? order by service_period_from, created_at`,
    [subscriptionId],
  );
  const out: IssuedInvoice[] = [];
  for (const i of invs) {
    const lines = await em.execute<any[]>(
      `select rate_card_key, kind, quantity::text as quantity, amount::text as amount,
         service_period_from, service_period_to from invoice_lines where invoice_id = ? order by position`,
      [i.id],
    );
    out.push({
      id: i.id,
      invoice_key: i.invoice_key,
      total: i.total,
      from: new Date(i.service_period_from).toISOString(),
      to: new Date(i.service_period_to).toISOString(),
      lines: lines.map((l) => ({
        rate_card_key: l.rate_card_key,
        kind: l.kind,
        quantity: l.quantity,
        amount: l.amount,
        from: new Date(l.service_period_from).toISOString(),
        to: new Date(l.service_period_to).toISOString(),
      })),
    });
  }
  return out;
}

export const workflowHandle = (h: Harness, subscriptionId: string): WorkflowHandle =>
  h.env.client.workflow.getHandle(`subscription-${subscriptionId}`);

/**
 * Waits (skipping time) until the customer's collection workflow has gathered everything handed over
 * (it ends when nothing is pending), e.g. after a canceled subscription's workflow completed.
 */
export async function collected(h: Harness, customerId: string): Promise<void> {
  await h.env.client.workflow.getHandle(`collection-${customerId}`).result();
}

/**
 * Advances workflow time until `until` (ms since epoch) has passed, in steps, letting the workflow finish
 * its activities between steps.
 */
export async function advanceTo(h: Harness, until: number, subscriptionIds: string[], stepMs = 7 * DAY) {
  for (;;) {
    const now = await h.env.currentTimeMs();
    if (now >= until) return;
    await h.env.sleep(Math.min(stepMs, until - now));
    await settle(h, subscriptionIds);
  }
}

/** Waits (in real time) until the workflows have no pending activity or workflow task. */
export async function settle(h: Harness, subscriptionIds: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await new Promise((r) => setTimeout(r, 20));
  while (Date.now() < deadline) {
    let busy = false;
    for (const id of subscriptionIds) {
      const d = await workflowHandle(h, id).describe();
      if ((d.raw.pendingActivities?.length ?? 0) > 0 || d.raw.pendingWorkflowTask) busy = true;
    }
    if (!busy) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`workflows still busy after ${timeoutMs} ms`);
}

/** Polls `fn` (real time) until it returns a truthy value. */
export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
