/**
 * The web console in a real browser (chromium through playwright-core) against a real stack: PostgreSQL,
 * the Temporal dev server, a worker, and the API serving the built console at / (as `npm start` does).
 * The first test follows the per-seat tutorial (../shared/seeds/tutorial-active-users.md) click by click,
 * with its own button and field names, sends its four events as its curl calls do, and finds active-users
 * with quantity 3 under Preview Invoice. Screenshots of the main pages go to docs/screenshots/.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createApp } from '../../src/api/app';
import { listen, type RunningServer } from '../../src/api/server';
import { createWorker } from '../../src/temporal/worker';
import { ensureConsoleBuilt } from '../../scripts/lib/console';
import { createTestApp, TEST_TOKEN, type TestApp } from '../support/app';
import { P } from '../support/api';
import { launchBrowser, screenshot, select } from '../support/browser';
import { createLocalEnv } from '../support/temporal';

jest.setTimeout(180_000);

const TASK_QUEUE = 'tally-console';
const TEMPORAL_UI = 'http://temporal-ui.example:8233';

let env: TestWorkflowEnvironment | undefined;
let app: TestApp | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let http: RunningServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let base = '';

beforeAll(async () => {
  ensureConsoleBuilt((m) => process.stderr.write(`[console] ${m}\n`));
  env = await createLocalEnv();
  app = await createTestApp({
    temporal: env.client,
    config: { TEMPORAL_TASK_QUEUE: TASK_QUEUE, TALLY_TEMPORAL_UI_URL: TEMPORAL_UI },
  });
  worker = await createWorker(app.deps, {
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    tuning: { shutdownGraceTime: '1s' },
  });
  running = worker.run();
  http = await listen(createApp(app.deps), 0, '127.0.0.1');
  base = `http://127.0.0.1:${http.port}`;
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(Number(process.env.TALLY_BROWSER_TIMEOUT_MS) || 15_000);
  page = await context.newPage();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await http?.close(1000);
  if (worker && running) {
    worker.shutdown();
    await running;
  }
  await env?.teardown();
  await app?.close();
});

/** what the tutorial's curl does: POST /v3/openmeter/events with a CloudEvent, --fail-with-body */
async function curlEvent(body: string): Promise<void> {
  const res = await fetch(`${base}${P}/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/cloudevents+json' },
    body,
  });
  if (!res.ok) throw new Error(`event refused: ${res.status} ${await res.text()}`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked with toMatchObject
async function api<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json', ...init?.headers },
  });
  return { status: res.status, body: (await res.json()) as T };
}

const sidebar = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true });
const button = (name: string) => page.getByRole('button', { name, exact: true });
const field = (name: string) => page.getByRole('textbox', { name, exact: true });

/** the text inside the table row that contains `text` */
async function rowCells(text: string): Promise<string[]> {
  const row = page.getByRole('row').filter({ hasText: text }).first();
  await row.waitFor();
  return row.getByRole('cell').allTextContents();
}

describe('the console', () => {
  it('serves the console at / and leaves the API paths alone', async () => {
    const index = await fetch(`${base}/billing/customers/x/overview`);
    expect(index.status).toBe(200);
    const html = await index.text();
    expect(html).toContain('<div id="root">');
    expect(html).toContain(`content="${TEMPORAL_UI}"`);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const unknownApi = await fetch(`${base}${P}/no-such-thing`, {
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(unknownApi.status).toBe(404);
    expect(unknownApi.headers.get('content-type')).toContain('application/problem+json');
    expect((await fetch(`${base}/healthz`)).headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${base}/openapi.json`)).headers.get('content-type')).toContain('application/json');
  });

  it('refuses a wrong token and signs in with the API token, for the tab only', async () => {
    await page.goto(base);
    await page.getByLabel('API token').fill('not-a-token-not-a-token-not-a-token');
    await button('Sign in').click();
    await page.getByRole('alert').filter({ hasText: 'The API refused this token.' }).waitFor();
    await page.getByLabel('API token').fill(TEST_TOKEN);
    await screenshot(page, 'sign-in');
    await button('Sign in').click();
    await page.getByRole('heading', { name: 'Meters' }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('tally.token')")).toBe(TEST_TOKEN);
    expect(await page.evaluate('Object.keys(localStorage)')).not.toContain('tally.token');
  });

  it('follows the per-seat tutorial to active-users with quantity 3 under Preview Invoice', async () => {
    // Create a meter
    await sidebar('Metering & Billing').click();
    await button('New meter').click();
    await field('Name').fill('Active users total');
    await page.getByRole('textbox', { name: 'Description' }).fill('Active Users');
    await field('Event Type Filter').fill('user_activity');
    await select(page, 'Aggregation', 'UNIQUE COUNT');
    await field('Value property').fill('$.user_id');
    // the key the console derived from the name, shown and editable
    expect(await field('Key').inputValue()).toBe('active_users_total');
    await button('Save').click();
    await page.getByRole('heading', { name: 'Active users total' }).waitFor();

    // Create a feature
    await sidebar('Metering & Billing').click();
    await sidebar('Product Catalog').click();
    await button('Create Feature').click();
    await field('Name').fill('active-users');
    await select(page, 'Meter', 'Active users total');
    await button('Save').click();
    expect(await rowCells('active-users')).toEqual([
      'active-users',
      'active-users',
      'Active users total',
      '—',
    ]);
    await screenshot(page, 'catalog-features');

    // Create a plan and rate card
    await sidebar('Metering & Billing').click();
    await sidebar('Product Catalog').click();
    await page.getByRole('tab', { name: 'Plans' }).click();
    await button('Create Plan').click();
    await field('Name').fill('Per-Seat');
    await select(page, 'Billing cadence', '1 month');
    await button('Save').click();
    await page.getByRole('heading', { name: 'Per-Seat' }).waitFor();
    await button('Add Rate Card').click();
    await select(page, 'Feature', 'active-users');
    await button('Next Step').click();
    await select(page, 'Pricing model', 'Usage based');
    await field('Price per unit').fill('1');
    await button('Next Step').click();
    await page.getByRole('radio', { name: 'Boolean' }).check();
    await button('Save Rate Card').click();
    expect(await rowCells('1 USD per unit')).toEqual([
      'active-users',
      expect.any(String),
      '1 USD per unit',
      'every 1 month, in arrears',
      'Boolean',
      'Remove',
    ]);
    await button('Publish Plan').click();
    await button('Publish').click();
    await page.getByText('active', { exact: true }).first().waitFor();
    await screenshot(page, 'plan');
    const plans = await api(`${P}/plans?filter[key]=per-seat`);
    expect(plans.body.data).toMatchObject([
      {
        name: 'Per-Seat',
        status: 'active',
        billing_cadence: 'P1M',
        phases: [
          {
            rate_cards: [
              {
                key: 'active-users',
                price: { type: 'unit', amount: '1' },
                entitlement: { type: 'boolean' },
              },
            ],
          },
        ],
      },
    ]);

    // Start a subscription
    await sidebar('Metering & Billing').click();
    await sidebar('Billing').click();
    await button('Create Customer').click();
    await field('Name').fill('Acme Inc');
    await field('Key').fill('acme-inc');
    await button('Save').click();
    await page.getByRole('heading', { name: 'Acme Inc' }).waitFor();
    await page.getByRole('tab', { name: 'Subscription' }).click();
    await button('Create a Subscription').click();
    await select(page, 'Subscribed Plan', 'Per-Seat');
    await button('Next Step').click();
    await button('Start Subscription').click();
    await page.getByRole('heading', { name: /Per-Seat/ }).waitFor();
    const subs = await api(`${P}/subscriptions?filter[customer_id]=acme-inc`);
    expect(subs.body.data).toMatchObject([{ status: 'active', plan: { key: 'per-seat', version: 1 } }]);
    const sub = subs.body.data[0];
    const link = page.getByRole('link', { name: 'Workflow in Temporal UI' });
    expect(await link.getAttribute('href')).toBe(
      `${TEMPORAL_UI}/namespaces/default/workflows/subscription-${sub.id}`,
    );
    await screenshot(page, 'customer-subscription');

    // Validate: EVENT_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ), taken after the subscription started
    while (Math.floor(Date.now() / 1000) * 1000 <= Date.parse(sub.active_from)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const EVENT_TIME = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const tutorialEvent = (id: string, user: string) => `{
           "specversion": "1.0",
           "type": "user_activity",
           "id": "${id}",
           "source": "acme-platform",
           "time": "${EVENT_TIME}",
           "datacontenttype": "application/json",
           "subject": "acme-inc",
           "data": {
             "user_id": "${user}"
           }
         }`;
    await curlEvent(tutorialEvent('57B5F342-B8D5-49AE-9D6C-350C1D92155C', 'alice'));
    await curlEvent(tutorialEvent('F388B902-7A82-4C40-BC89-448CFA5DDC1B', 'bob'));
    await curlEvent(tutorialEvent('46C16EE0-6174-4336-A539-AEC3AD1E0485', 'carol'));
    await curlEvent(tutorialEvent('2843D4B1-C8F8-408E-9F28-6D4EB44E5A8B', 'alice'));

    await sidebar('Metering & Billing').click();
    await sidebar('Billing').click();
    await page.getByRole('link', { name: 'Acme Inc', exact: true }).click();
    await page.getByRole('tab', { name: 'Invoicing' }).click();
    await button('Preview Invoice').click();
    const lines = page.getByRole('table', { name: 'Lines' });
    await lines.waitFor();
    const line = lines.getByRole('row').filter({ hasText: 'active-users' });
    // Line, Feature, Quantity, Unit price, Period, Total
    const cells = await line.getByRole('cell').allInnerTexts();
    expect(cells[0]).toBe('active-users');
    expect(cells[1]).toBe('active-users');
    expect(cells[2]).toBe('3');
    expect(cells[3]).toBe('1');
    expect(cells[5]).toBe('3.00 USD');
    await screenshot(page, 'invoice-preview');
  });

  it('shows the events, with filters and one event in detail', async () => {
    await sidebar('Events').click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.getByRole('cell', { name: 'user_activity' }).first().waitFor();
    expect(await page.getByRole('row').count()).toBe(5); // header + 4 events
    await field('Subject').fill('nobody');
    await button('Apply filters').click();
    await page.getByText('No events match.').waitFor();
    await button('Clear').click();
    await page.getByRole('button', { name: 'Event 46C16EE0-6174-4336-A539-AEC3AD1E0485' }).click();
    const dialog = page.getByRole('dialog', { name: 'Event' });
    await dialog.getByText('"user_id": "carol"').waitFor();
    await screenshot(page, 'events');
    await page.keyboard.press('Escape');
  });

  it('draws the usage chart, grouped by customer', async () => {
    await sidebar('Meters').click();
    await page.getByRole('link', { name: 'Active users total' }).click();
    await select(page, 'Range', 'Last hour');
    await select(page, 'Group by', 'Customer');
    const chart = page.getByTestId('usage-chart');
    await chart.locator('.recharts-line-curve').first().waitFor();
    // the legend names the customer, not its id
    await chart.locator('.recharts-legend-item-text', { hasText: 'Acme Inc' }).waitFor();
    const q = await api(`${P}/meters/active_users_total/query`, {
      method: 'POST',
      body: JSON.stringify({ group_by_dimensions: ['customer_id'] }),
    });
    expect(q.body.data).toMatchObject([{ value: '3' }]);
    await screenshot(page, 'meter');
  });

  it('shows an API form error next to its field', async () => {
    await sidebar('Meters').click();
    await button('New meter').click();
    await field('Name').fill('Bad key');
    await field('Key').fill('Bad Key!');
    await field('Event Type Filter').fill('user_activity');
    await select(page, 'Aggregation', 'COUNT');
    await button('Save').click();
    // the reason the API gives for this very body
    const refused = await api(`${P}/meters`, {
      method: 'POST',
      body: JSON.stringify({
        name: 'Bad key',
        key: 'Bad Key!',
        event_type: 'user_activity',
        aggregation: 'count',
      }),
    });
    expect(refused.status).toBe(400);
    const reason = (refused.body.invalid_parameters as { field: string; reason: string }[]).find(
      (p) => p.field === 'body.key',
    )!.reason;
    const key = field('Key');
    await page.waitForSelector('input[aria-invalid="true"]');
    expect(await key.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await key.getAttribute('aria-describedby'))!.split(' ');
    const texts = await Promise.all(
      describedBy.map((id) =>
        page
          .locator(`#${id}`)
          .innerText()
          .catch(() => ''),
      ),
    );
    expect(texts).toContain(reason);
    expect(await field('Name').getAttribute('aria-invalid')).not.toBe('true');
    await screenshot(page, 'form-error');
    await button('Cancel').click();
  });

  it('prices a rate card with graduated tiers', async () => {
    await sidebar('Product Catalog').click();
    await page.getByRole('tab', { name: 'Plans' }).click();
    await button('Create Plan').click();
    await field('Name').fill('Tiered seats');
    expect(await field('Key').inputValue()).toBe('tiered-seats');
    await select(page, 'Billing cadence', '1 month');
    await button('Save').click();
    await page.getByRole('heading', { name: 'Tiered seats' }).waitFor();
    await button('Add Rate Card').click();
    await select(page, 'Feature', 'active-users');
    await button('Next Step').click();
    await select(page, 'Pricing model', 'Graduated');
    await field('Tier 1 up to').fill('2');
    await field('Tier 1 unit price').fill('1');
    await field('Tier 2 unit price').fill('0.5');
    await field('Tier 2 flat price').fill('3');
    await button('Next Step').click();
    await page.getByRole('radio', { name: 'None' }).check();
    await button('Save Rate Card').click();
    await page.getByRole('cell', { name: /^Graduated/ }).waitFor();
    const plan = await api(`${P}/plans?filter[key]=tiered-seats`);
    expect(plan.body.data[0].phases[0].rate_cards[0]).toMatchObject({
      key: 'active-users',
      price: {
        type: 'graduated',
        tiers: [
          { up_to_amount: '2', unit_price: { type: 'unit', amount: '1' } },
          { unit_price: { type: 'unit', amount: '0.5' }, flat_price: { type: 'flat', amount: '3' } },
        ],
      },
    });
    expect(plan.body.data[0].phases[0].rate_cards[0].entitlement).toBeUndefined();
    expect(await page.getByRole('cell', { name: /^Graduated/ }).innerText()).toBe(
      'Graduated: up to 2: 1/unit; above: 0.5/unit + 3 flat',
    );
  });

  it('makes a new plan version and migrates the subscription to it', async () => {
    await sidebar('Product Catalog').click();
    await page.getByRole('tab', { name: 'Plans' }).click();
    await page.getByRole('link', { name: 'Per-Seat' }).click();
    await button('New version').click();
    await page.getByText('version 2', { exact: true }).first().waitFor();
    await button('Add Rate Card').click();
    await field('Name').fill('Platform fee');
    await button('Next Step').click();
    await select(page, 'Pricing model', 'Flat fee');
    await field('Amount').fill('10');
    await select(page, 'Payment term', 'In advance');
    await button('Next Step').click();
    await button('Save Rate Card').click();
    await page.getByRole('cell', { name: 'Flat fee 10 USD' }).waitFor();
    await button('Publish Plan').click();
    await button('Publish').click();
    await button('New version').waitFor();
    const versions = page.getByRole('table', { name: 'Versions' });
    expect(await versions.getByRole('row').allInnerTexts()).toEqual([
      expect.stringMatching(/^version 2\s+active/i),
      expect.stringMatching(/^version 1\s+archived/i),
    ]);

    await sidebar('Billing').click();
    await page.getByRole('link', { name: 'Acme Inc', exact: true }).click();
    await page.getByRole('tab', { name: 'Subscription' }).click();
    await button('Migrate version').click();
    await page.getByRole('radio', { name: 'At the next billing cycle' }).check();
    await button('Migrate').click();
    await page.getByText('Pending migrate').waitFor();
    await page.getByText(/at the next billing cycle → per-seat version 2/).waitFor();
    const subs = await api(`${P}/subscriptions?filter[customer_id]=acme-inc`);
    expect(subs.body.data[0]).toMatchObject({
      plan: { version: 1 },
      pending_changes: [{ type: 'migrate', timing: 'next_billing_cycle', plan: { version: 2 } }],
    });
    await screenshot(page, 'subscription-migration');
    // a second change while one is pending: the API's 409 shown as a message in the dialog
    await button('Migrate version').click();
    await button('Migrate').click();
    await page.getByRole('dialog').getByRole('alert').waitFor();
    await page.keyboard.press('Escape');
  });

  it('lists the invoices and the entitlements of a customer', async () => {
    await page.getByRole('tab', { name: 'Entitlements' }).click();
    expect(await rowCells('active-users')).toEqual(['active-users', 'boolean', 'has access', '—', '—', '—']);
    await page.getByRole('tab', { name: 'Invoicing' }).click();
    await page.getByText('No invoices yet').waitFor();
  });

  it('is readable at phone width, with the sidebar behind a menu button', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Acme Inc' }).waitFor();
    // the sidebar is off screen until the menu button opens it
    const offScreen = async () => {
      const box = await sidebar('Billing').boundingBox();
      return !box || box.x + box.width <= 0;
    };
    expect(await offScreen()).toBe(true);
    await screenshot(page, 'phone-customer');
    await page.getByRole('button', { name: 'Toggle navigation' }).click();
    await page.waitForTimeout(300); // the sidebar slides in
    expect(await offScreen()).toBe(false);
    await sidebar('Billing').click();
    await button('Create Customer').waitFor();
    const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
    expect(overflow).toBe(false);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('signs out', async () => {
    await button('Sign out').click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('tally.token')")).toBeNull();
  });
});
