/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers, checked field by field */
/**
 * The console's Settings → Apps and Settings → Notifications in a real browser (chromium through
 * playwright-core) against the real API, PostgreSQL, stripe-mock and a time-skipping Temporal server with
 * the real notification dispatcher: apps installed from the catalog (a key Stripe refuses shown on its
 * field, secrets never shown back), a billing profile that picks its apps, the 409 of uninstalling an app a
 * profile uses, a customer's Stripe data; a channel (a URL the SSRF check refuses shown on its field, the
 * generated secret shown once), Send test, a rule, the event a subscription causes with its delivery as a
 * local receiver saw it (signature verified), Resend, and the 409 of a resend to a disabled channel.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { createApp } from '../../src/api/app';
import { listen, type RunningServer } from '../../src/api/server';
import { startNotificationDispatch, type NotificationDispatch } from '../../src/notifications/dispatch';
import { ensureConsoleBuilt } from '../../scripts/lib/console';
import { TEST_TOKEN } from '../support/app';
import { fixtures, P } from '../support/api';
import { launchBrowser, screenshot, select } from '../support/browser';
import { hasStripeMock } from '../support/stripe';
import { createHarness, subscribeMetered, waitFor, type Harness } from '../support/harness';

jest.setTimeout(240_000);

// the local receiver listens on 127.0.0.1: allowed for this test only (read by loadConfig); any other
// private address stays refused by the SSRF check
process.env.TALLY_WEBHOOK_ALLOWED_HOSTS = '127.0.0.1';

const STRIPE_KEY = 'sk_test_console0123456789abcdefSECRETKEY';
const STRIPE_WEBHOOK_SECRET = 'whsec_console_test_signing_secret_0123456789';
const stripeIt = hasStripeMock() ? it : it.skip;

interface Received {
  id: string;
  type: string;
  headers: http.IncomingHttpHeaders;
}

/** A webhook receiver that verifies every request with the channel's secret (Standard Webhooks). */
class Receiver {
  server = http.createServer((req, res) => this.handle(req, res));
  received: Received[] = [];
  rejected: string[] = [];
  secret = '';
  url = '';
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }
  stop = () => new Promise<void>((r) => this.server.close(() => r()));
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = new Webhook(this.secret).verify(
          Buffer.concat(chunks).toString('utf8'),
          req.headers as Record<string, string>,
        ) as any;
        this.received.push({ id: String(req.headers['webhook-id']), type: body.type, headers: req.headers });
        res.writeHead(204).end();
      } catch (e) {
        this.rejected.push((e as Error).message);
        res.writeHead(400).end('bad signature');
      }
    });
  }
  of(type: string): Received[] {
    return this.received.filter((r) => r.type === type);
  }
}

let h: Harness | undefined;
let dispatch: NotificationDispatch | undefined;
let receiver: Receiver | undefined;
let http_: RunningServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let base = '';

beforeAll(async () => {
  ensureConsoleBuilt((m) => process.stderr.write(`[console] ${m}\n`));
  h = await createHarness();
  dispatch = startNotificationDispatch({ ...h.app.deps, temporal: h.env.client }, { sweepMs: 1000 });
  receiver = await new Receiver().start();
  http_ = await listen(createApp(h.app.deps), 0, '127.0.0.1');
  base = `http://127.0.0.1:${http_.port}`;
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(Number(process.env.TALLY_BROWSER_TIMEOUT_MS) || 20_000);
  page = await context.newPage();
  await page.goto(base);
  await page.getByLabel('API token').fill(TEST_TOKEN);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Meters' }).waitFor();
});

// a failed test leaves no dialog open over the next one
afterEach(async () => {
  if (process.env.TALLY_BROWSER_SHOTS)
    await page.screenshot({
      path: `${process.env.TALLY_BROWSER_SHOTS}/${expect.getState().currentTestName}.png`,
    });
  for (let i = 0; i < 3 && (await page.getByRole('dialog').count()) > 0; i++) {
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
  }
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await http_?.close(1000);
  await dispatch?.stop();
  await h?.close();
  await receiver?.stop();
});

async function api(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json', ...init?.headers },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const button = (name: string, p: Page | Locator = page) => p.getByRole('button', { name, exact: true });
const field = (name: string, p: Page | Locator = page) => p.getByRole('textbox', { name, exact: true });
const sidebar = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true });
const tab = (name: string) => page.getByRole('tab', { name, exact: true });
/** a required field's label ends with an asterisk (hidden from its accessible name, not from its label) */
const requiredInput = (label: string, p: Locator) => p.getByLabel(new RegExp(`^${label}( \\*)?$`));
/** a Mantine Select / MultiSelect input by its label */
const combo = (name: string, p: Page | Locator = page) =>
  p.getByRole('combobox', { name, exact: true }).or(p.getByRole('textbox', { name, exact: true }));

async function describedBy(input: Locator): Promise<string[]> {
  const ids = ((await input.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
  return Promise.all(ids.map((id) => page.locator(`#${id}`).innerText()));
}

/** the reason the API gives for `field` when sent `body` */
async function reasonFor(method: string, path: string, body: unknown, fieldName: string): Promise<string> {
  const res = await api(path, { method, body: JSON.stringify(body) });
  expect(res.status).toBe(400);
  const p = (res.body.invalid_parameters as any[]).find((x) => x.field === fieldName);
  expect(p).toMatchObject({ field: fieldName, reason: expect.any(String) });
  return p.reason as string;
}

async function expectFieldError(input: Locator, reason: string): Promise<void> {
  await waitFor(async () => (await input.getAttribute('aria-invalid')) === 'true');
  expect(await describedBy(input)).toContain(reason);
}

async function rowCells(table: Locator, name: string | RegExp): Promise<string[]> {
  const row = table.getByRole('row').filter({ hasText: name });
  await row.first().waitFor();
  // badges are shown in capitals (CSS): compared as their text
  return (await row.first().getByRole('cell').allTextContents()).map((c) => c.trim());
}

describe('the console: Settings → Apps', () => {
  let erpId = '';

  it('installs an app from the catalog with its settings and lists it', async () => {
    await sidebar('Settings').click();
    await tab('Apps').click();
    const catalog = (await api(`${P}/app-catalog`)).body.data as any[];
    for (const item of catalog) await button(`Install ${item.name}`).waitFor();

    await button('Install Custom Invoicing').click();
    const dialog = page.getByRole('dialog', { name: 'Install Custom Invoicing' });
    await field('Name', dialog).fill('Our ERP');
    await dialog.getByRole('checkbox', { name: /^Draft sync hook/ }).check();
    await button('Install app', dialog).click();
    await page.getByRole('heading', { name: 'Our ERP' }).waitFor();
    const listed = (await api(`${P}/apps`)).body.data.find((a: any) => a.name === 'Our ERP');
    expect(listed).toMatchObject({
      type: 'custom_invoicing',
      enable_draft_sync_hook: true,
      enable_issuing_sync_hook: false,
    });
    erpId = listed.id;
    expect(page.url()).toBe(`${base}/settings/apps/${erpId}`);
    const settings = page.getByLabel('App settings');
    await settings.getByText(erpId).waitFor();
    expect(await settings.innerText()).toMatch(/Draft sync hook\s+on\s+Issuing sync hook\s+off/);

    // updated from its page
    await button('Edit app').click();
    const edit = page.getByRole('dialog', { name: 'Edit Our ERP' });
    await field('Description', edit).fill('Invoices go out through the ERP');
    await edit.getByRole('checkbox', { name: /^Issuing sync hook/ }).check();
    await button('Save app', edit).click();
    await edit.waitFor({ state: 'hidden' });
    await page.getByText('Invoices go out through the ERP').waitFor();
    expect((await api(`${P}/apps/${erpId}`)).body).toMatchObject({
      description: 'Invoices go out through the ERP',
      enable_draft_sync_hook: true,
      enable_issuing_sync_hook: true,
    });

    await page.getByRole('link', { name: '← Apps' }).click();
    const table = page.getByRole('table', { name: 'Installed apps' });
    expect((await rowCells(table, 'Our ERP')).slice(0, 4)).toEqual([
      'Our ERP',
      'Custom invoicing',
      'ready',
      'sync hooks: draft, issuing',
    ]);
    expect((await rowCells(table, 'Sandbox')).slice(0, 3)).toEqual(['Sandbox', 'Sandbox', 'ready']);
    await screenshot(page, 'settings-apps');
  });

  stripeIt('shows a key Stripe refuses on its field, and never shows the secrets back', async () => {
    await button('Install Stripe').click();
    const dialog = page.getByRole('dialog', { name: 'Install Stripe' });
    const key = requiredInput('Secret API key', dialog);
    expect(await key.getAttribute('type')).toBe('password');
    expect(await dialog.getByLabel('Webhook signing secret', { exact: true }).getAttribute('type')).toBe(
      'password',
    );
    await key.fill('pk_test_not-a-secret-key');
    await button('Install app', dialog).click();
    await expectFieldError(
      key,
      await reasonFor(
        'POST',
        `${P}/app-catalog/install`,
        { type: 'stripe', name: 'Stripe', api_key: 'pk_test_not-a-secret-key' },
        'body.api_key',
      ),
    );
    await screenshot(page, 'app-install-error');
    await key.fill(STRIPE_KEY);
    await dialog.getByLabel('Webhook signing secret', { exact: true }).fill(STRIPE_WEBHOOK_SECRET);
    await button('Install app', dialog).click();
    // the app's page (the catalog has a "Stripe" heading too)
    await page.waitForURL(/\/settings\/apps\/[0-9A-Z]{26}$/);
    await page.getByRole('button', { name: 'Uninstall', exact: true }).waitFor();
    const app = (await api(`${P}/apps`)).body.data.find((a: any) => a.type === 'stripe');
    await page.getByLabel('App settings').getByText(app.masked_api_key, { exact: true }).waitFor();
    expect(app.masked_api_key).toBe(`sk_test_***${STRIPE_KEY.slice(-4)}`);
    await button('Edit app').click();
    const edit = page.getByRole('dialog', { name: 'Edit Stripe' });
    expect(await edit.getByLabel('New secret API key', { exact: true }).inputValue()).toBe('');
    const html = await page.content();
    expect(html).not.toContain(STRIPE_KEY);
    expect(html).not.toContain(STRIPE_WEBHOOK_SECRET);
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'hidden' });
  });

  it('creates a billing profile that picks its apps; the 409 of uninstalling an app it uses is shown', async () => {
    await sidebar('Settings').click();
    await button('Create billing profile').click();
    const dialog = page.getByRole('dialog', { name: 'Create billing profile' });
    await field('Name', dialog).fill('Through the ERP');
    // the tax role offers only apps that calculate tax: custom invoicing does not
    await combo('Tax app', dialog).click();
    expect(await page.getByRole('option', { name: 'Our ERP' }).count()).toBe(0);
    await page.keyboard.press('Escape');
    await select(page, 'Invoicing app', 'Our ERP');
    await select(page, 'Payment app', 'Our ERP');
    await button('Save profile').click();
    await dialog.waitFor({ state: 'hidden' });
    const table = page.getByRole('table', { name: 'Billing profiles' });
    expect((await rowCells(table, 'Through the ERP'))[5]).toBe(
      'invoicing: Our ERP, payment: Our ERP, tax: Sandbox',
    );
    const profile = (await api(`${P}/profiles`)).body.data.find((p: any) => p.name === 'Through the ERP');
    expect(profile.apps).toEqual({
      invoicing: { id: erpId },
      payment: { id: erpId },
      tax: { id: '00000000000000000000SANDBX' },
    });
    // a profile's apps cannot change: shown, not editable
    await button('Edit Through the ERP').click();
    const edit = page.getByRole('dialog', { name: 'Edit billing profile Through the ERP' });
    expect(await combo('Payment app', edit).isDisabled()).toBe(true);
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'hidden' });

    await tab('Apps').click();
    await page.getByRole('table', { name: 'Installed apps' }).getByRole('link', { name: 'Our ERP' }).click();
    await page.getByLabel('App settings').getByText('Through the ERP (invoicing, payment)').waitFor();
    await button('Uninstall').click();
    const confirm = page.getByRole('dialog', { name: 'Uninstall Our ERP?' });
    await button('Uninstall app', confirm).click();
    const refused = await api(`${P}/apps/${erpId}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    await confirm.getByRole('alert').filter({ hasText: refused.body.detail }).waitFor();
    await screenshot(page, 'app-uninstall-refused');
    await page.keyboard.press('Escape');
    expect((await api(`${P}/apps/${erpId}`)).status).toBe(200);
  });

  stripeIt("shows a customer's Stripe data where a Stripe app collects its payments", async () => {
    const stripe = (await api(`${P}/apps`)).body.data.find((a: any) => a.type === 'stripe');
    const f = fixtures(h!.app);
    const profile = await api(`${P}/profiles`, {
      method: 'POST',
      body: JSON.stringify({
        name: 'Stripe billing',
        supplier: { name: 'Tally Test Ltd' },
        apps: { invoicing: { id: stripe.id }, payment: { id: stripe.id }, tax: { id: stripe.id } },
        default: false,
      }),
    });
    expect(profile.status).toBe(201);
    const customer = await f.customer('stripe-co', { primary_email: 'billing@stripe-co.test' });
    await api(`${P}/customers/${customer.id}/billing`, {
      method: 'PUT',
      body: JSON.stringify({ billing_profile: { id: profile.body.id } }),
    });
    // a customer billed through the sandbox has no Stripe card
    const other = await f.customer('sandbox-co');
    await page.goto(`${base}/billing/customers/${other.id}/overview`);
    await page
      .getByLabel('Billing settings', { exact: true })
      .getByText(/^Billing profile/)
      .waitFor();
    expect(await page.getByLabel('Stripe', { exact: true }).count()).toBe(0);

    await page.goto(`${base}/billing/customers/${customer.id}/overview`);
    const card = page.getByLabel('Stripe', { exact: true });
    await card.getByText('Stripe customer: none yet (created at the first invoice)').waitFor();
    await button('Edit Stripe data').click();
    const dialog = page.getByRole('dialog', { name: 'Stripe data' });
    await button('Save Stripe data', dialog).click();
    await dialog.waitFor({ state: 'hidden' });
    const data = (await api(`${P}/customers/${customer.id}/billing/app-data`)).body;
    expect(data.stripe.customer_id).toMatch(/^cus_/);
    await card.getByText(`Stripe customer: ${data.stripe.customer_id}`).waitFor();
    await screenshot(page, 'customer-stripe');
  });
});

describe('the console: Settings → Notifications', () => {
  let channelId = '';
  let eventId = '';

  it('refuses a URL the SSRF check refuses on its field, then creates the channel and shows its secret once', async () => {
    await sidebar('Settings').click();
    await tab('Notifications').click();
    await button('Create channel').click();
    const dialog = page.getByRole('dialog', { name: 'Create channel' });
    await field('Name', dialog).fill('Receiver');
    await field('Webhook URL', dialog).fill('http://10.1.2.3/hooks');
    await button('Add header', dialog).click();
    await field('Header 1 name', dialog).fill('x-tenant');
    await field('Header 1 value', dialog).fill('acme');
    expect(await dialog.getByLabel('Signing secret', { exact: true }).getAttribute('type')).toBe('password');
    await button('Save channel', dialog).click();
    await expectFieldError(
      field('Webhook URL', dialog),
      await reasonFor(
        'POST',
        `${P}/notification/channels`,
        { type: 'webhook', name: 'Receiver', url: 'http://10.1.2.3/hooks' },
        'body.url',
      ),
    );
    await screenshot(page, 'channel-url-refused');

    await field('Webhook URL', dialog).fill(receiver!.url);
    await button('Save channel', dialog).click();
    const shown = page.getByRole('dialog', { name: 'Signing secret of Receiver' });
    const secret = (await shown.getByLabel('Signing secret').innerText()).trim();
    expect(secret).toMatch(/^whsec_/);
    receiver!.secret = secret;
    await button('Done', shown).click();
    await shown.waitFor({ state: 'hidden' });
    const channels = (await api(`${P}/notification/channels`)).body.data;
    expect(channels).toHaveLength(1);
    expect(channels[0]).toMatchObject({ url: receiver!.url, custom_headers: { 'x-tenant': 'acme' } });
    expect(channels[0].signing_secret).toBeUndefined();
    channelId = channels[0].id;
    const table = page.getByRole('table', { name: 'Channels' });
    expect((await rowCells(table, 'Receiver')).slice(0, 3)).toEqual(['Receiver', receiver!.url, 'x-tenant']);
    expect(await page.getByRole('switch', { name: 'Enabled Receiver' }).isChecked()).toBe(true);
    // the secret is write-only: the edit form does not have it
    await button('Edit Receiver').click();
    const edit = page.getByRole('dialog', { name: 'Edit channel Receiver' });
    expect(await edit.getByLabel('Signing secret', { exact: true }).inputValue()).toBe('');
    expect(await page.content()).not.toContain(secret);
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'hidden' });
  });

  it('sends a test to the channel: the receiver verifies it, the console shows its answer', async () => {
    await button('Send test to Receiver').click();
    const result = page.getByRole('dialog', { name: 'Test of Receiver' });
    await result.getByText('delivered', { exact: true }).waitFor();
    await result.getByText(/^HTTP 204 in \d+ ms$/).waitFor();
    expect(receiver!.of('notification.test')).toHaveLength(1);
    expect(receiver!.rejected).toEqual([]);
    expect(receiver!.of('notification.test')[0].headers['x-tenant']).toBe('acme');
    await button('Close', result).click();
  });

  it('creates a rule, shows the event a subscription causes with its delivery, and resends it', async () => {
    await tab('Rules').click();
    await button('Create rule').click();
    const dialog = page.getByRole('dialog', { name: 'Create rule' });
    await field('Name', dialog).fill('New subscriptions');
    await select(page, 'Event type', 'Subscription created');
    await combo('Channels', dialog).click();
    await page.getByRole('option', { name: 'Receiver', exact: true }).click();
    await page.keyboard.press('Escape');
    await button('Save rule', dialog).click();
    await dialog.waitFor({ state: 'hidden' });
    const rules = (await api(`${P}/notification/rules`)).body.data;
    expect(rules).toMatchObject([
      { name: 'New subscriptions', type: 'subscription.created', channels: [{ id: channelId }] },
    ]);
    expect(
      (await rowCells(page.getByRole('table', { name: 'Rules' }), 'New subscriptions')).slice(0, 4),
    ).toEqual(['New subscriptions', 'Subscription created', 'Receiver', '—']);
    await screenshot(page, 'settings-notification-rules');

    // the event: a subscription created through the API
    const { sub } = await subscribeMetered(h!);
    const delivered = await waitFor(() => Promise.resolve(receiver!.of('subscription.created')[0]));
    const listed = await waitFor(async () => {
      const e = (await api(`${P}/notification/events`)).body.data[0];
      return e?.delivery_status[0]?.state === 'success' && e;
    });
    eventId = listed.id;
    expect(delivered.id).toBe(eventId);
    expect(listed.payload.data.id).toBe(sub.id);

    await tab('Events').click();
    const events = page.getByRole('table', { name: 'Notification events' });
    await events.getByText('Receiver: success').waitFor();
    const cells = await rowCells(events, 'Subscription created');
    expect(cells.slice(1)).toEqual(['Subscription created', 'New subscriptions', 'Receiver: success']);
    await screenshot(page, 'settings-notification-events');

    await events.getByRole('link').first().click();
    await page.getByRole('heading', { name: 'Event Subscription created' }).waitFor();
    expect(page.url()).toBe(`${base}/settings/notifications/events/${eventId}`);
    await page.getByText(eventId, { exact: true }).waitFor();
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    const row = await rowCells(deliveries, /^Receiver/);
    expect(row.slice(0, 4)).toEqual(['Receiver', 'success', '1', 'HTTP 204']);
    await deliveries.getByRole('row', { name: 'Attempt of Receiver' }).first().waitFor();
    expect(await page.getByLabel('Payload').innerText()).toContain(sub.id);

    // Resend: the same webhook-id again, a second attempt shown
    await button('Resend').click();
    await page.getByRole('status').filter({ hasText: 'Resent' }).waitFor();
    await waitFor(() => Promise.resolve(receiver!.of('subscription.created').length === 2));
    expect(receiver!.of('subscription.created').map((r) => r.id)).toEqual([eventId, eventId]);
    await waitFor(async () => {
      const cellsNow = await rowCells(deliveries, /^Receiver/);
      return cellsNow[1] === 'success' && cellsNow[2] === '2';
    });
    const after = (await api(`${P}/notification/events/${eventId}`)).body.delivery_status[0];
    expect(after).toMatchObject({ state: 'success', attempt_count: 2 });
    await screenshot(page, 'notification-event');
  });

  it('disables the channel with its toggle; a resend to it shows the API’s 409', async () => {
    await page.goto(`${base}/settings/notifications/channels`);
    const toggle = page.getByRole('switch', { name: 'Enabled Receiver' });
    await toggle.waitFor();
    // with the keyboard: the switch takes focus and Space flips it
    await toggle.focus();
    await page.keyboard.press('Space');
    await waitFor(async () => (await api(`${P}/notification/channels/${channelId}`)).body.disabled === true);
    await waitFor(async () => !(await toggle.isChecked()));

    await page.goto(`${base}/settings/notifications/events/${eventId}`);
    await button('Resend').click();
    const refused = await api(`${P}/notification/events/${eventId}/resend`, {
      method: 'POST',
      body: '{}',
    });
    expect(refused.status).toBe(409);
    await page.getByRole('alert').filter({ hasText: refused.body.detail }).waitFor();
  });

  it('pages a long list and shows its loading state', async () => {
    for (let i = 1; i <= 21; i++) {
      const made = await api(`${P}/notification/channels`, {
        method: 'POST',
        body: JSON.stringify({
          type: 'webhook',
          name: `Spare ${String(i).padStart(2, '0')}`,
          url: receiver!.url,
        }),
      });
      expect(made.status).toBe(201);
    }
    // the list answers slowly: its loading state is shown until it does
    await page.route('**/v3/openmeter/notification/channels?*', async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue().catch(() => undefined); // the page may have moved on
    });
    await page.goto(`${base}/settings/notifications/channels`);
    await page.getByRole('status').filter({ hasText: 'Loading channels…' }).waitFor();
    const table = page.getByRole('table', { name: 'Channels' });
    await table.waitFor();
    expect(await table.getByRole('row').count()).toBe(21); // the header and 20 channels
    await page.getByText('Page 1 of 2 (22)').waitFor();
    await button('Next').click();
    await page.getByText('Page 2 of 2 (22)').waitFor();
    await table.getByRole('row', { name: /Spare 21/ }).waitFor();
    expect(await table.getByRole('row').count()).toBe(3);
    await button('Previous').click();
    await page.getByText('Page 1 of 2 (22)').waitFor();
    await page.unroute('**/v3/openmeter/notification/channels?*');
  });

  it('is readable at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/settings/notifications/events`);
    await page.getByRole('table', { name: 'Notification events' }).waitFor();
    // the sidebar is off screen (behind the menu button)
    const box = await sidebar('Settings').boundingBox();
    expect(!box || box.x + box.width <= 0).toBe(true);
    // nothing wider than the screen: the tables scroll in their own containers
    const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
    expect(overflow).toBe(false);
    await screenshot(page, 'phone-notifications');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
