/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers, checked field by field */
/**
 * The console's billing profiles and invoice lifecycle in a real browser (chromium through playwright-core)
 * against the real API, PostgreSQL and a time-skipping Temporal server (so a billing period passes in
 * seconds): a profile with auto advance off made in Settings, given to a customer in its billing settings;
 * the period ends, the draft appears, is edited, approved and voided with the buttons its
 * `available_actions` allow, a refused action's 409 is shown; every form shows the API's
 * `invalid_parameters` on its fields.
 */
import type { BrowserContext, Browser, Locator, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createApp } from '../../src/api/app';
import { listen, type RunningServer } from '../../src/api/server';
import { ensureConsoleBuilt } from '../../scripts/lib/console';
import { TEST_TOKEN } from '../support/app';
import { fixtures, P } from '../support/api';
import { launchBrowser, screenshot, select } from '../support/browser';
import { advanceTo, createHarness, month, subscribeMetered, waitFor, type Harness } from '../support/harness';

jest.setTimeout(240_000);

let h: Harness | undefined;
let http: RunningServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let base = '';

beforeAll(async () => {
  ensureConsoleBuilt((m) => process.stderr.write(`[console] ${m}\n`));
  h = await createHarness();
  http = await listen(createApp(h.app.deps), 0, '127.0.0.1');
  base = `http://127.0.0.1:${http.port}`;
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  context.setDefaultTimeout(Number(process.env.TALLY_BROWSER_TIMEOUT_MS) || 20_000);
  page = await signedInPage();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await http?.close(1000);
  await h?.close();
});

async function signedInPage(): Promise<Page> {
  const p = await context!.newPage();
  await p.goto(base);
  await p.getByLabel('API token').fill(TEST_TOKEN);
  await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  await p.getByRole('heading', { name: 'Meters' }).waitFor();
  return p;
}

async function api(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json', ...init?.headers },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const button = (name: string, p = page) => p.getByRole('button', { name, exact: true });
const field = (name: string, p: Page | Locator = page) => p.getByRole('textbox', { name, exact: true });
const sidebar = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true });

/** the texts a field is described by (its description and, when invalid, its error) */
async function describedBy(input: Locator): Promise<string[]> {
  const ids = ((await input.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
  return Promise.all(ids.map((id) => page.locator(`#${id}`).innerText()));
}

/** the reason the API gives for `field` when sent `body` */
async function reasonFor(method: string, path: string, body: unknown, fieldName: string): Promise<string> {
  const res = await api(path, { method, body: JSON.stringify(body) });
  expect(res.status).toBe(400);
  const p = (res.body.invalid_parameters as any[]).find((x) => x.field === fieldName);
  expect(p).toMatchObject({ field: fieldName, source: 'body', reason: expect.any(String) });
  return p.reason as string;
}

async function expectFieldError(input: Locator, reason: string): Promise<void> {
  await waitFor(async () => (await input.getAttribute('aria-invalid')) === 'true');
  expect(await describedBy(input)).toContain(reason);
}

let profileId = '';

/** the console's button for each action in `available_actions` */
const labels: Record<string, string> = {
  approve: 'Approve',
  advance: 'Advance',
  retry: 'Retry',
  snapshot_quantities: 'Snapshot quantities',
  mark_paid: 'Mark paid',
  mark_uncollectible: 'Mark uncollectible',
  void: 'Void',
  delete: 'Delete',
  edit: 'Edit draft',
};

describe('the console: billing profiles', () => {
  it('creates a profile in Settings, with the API’s field errors on the fields, then edits it', async () => {
    await sidebar('Settings').click();
    await button('Create billing profile').click();
    const dialog = page.getByRole('dialog', { name: 'Create billing profile' });
    await field('Name', dialog).fill('Manual approval');
    await field('Supplier legal name', dialog).fill('Tally Test Ltd');
    await field('Supplier e-mail', dialog).fill('not-an-email');
    await field('Draft period', dialog).fill('-P1D');
    await button('Save profile').click();
    const bad = {
      name: 'Manual approval',
      supplier: { name: 'Tally Test Ltd', email: 'not-an-email' },
      workflow: { invoicing: { auto_advance: true, draft_period: '-P1D' } },
      default: false,
    };
    await expectFieldError(
      field('Supplier e-mail', dialog),
      await reasonFor('POST', `${P}/profiles`, bad, 'body.supplier.email'),
    );
    await expectFieldError(
      field('Draft period', dialog),
      await reasonFor('POST', `${P}/profiles`, bad, 'body.workflow.invoicing.draft_period'),
    );
    expect(await field('Name', dialog).getAttribute('aria-invalid')).not.toBe('true');
    await screenshot(page, 'profile-form-error');

    await field('Supplier e-mail', dialog).fill('billing@tally.test');
    await field('Draft period', dialog).fill('');
    await dialog.getByRole('checkbox', { name: /^Auto advance/ }).uncheck();
    await select(page, 'Collection method', 'Send invoice');
    await field('Due after', dialog).fill('P14D');
    await field('Supplier city', dialog).fill('Lisbon');
    await field('Collection interval', dialog).fill('PT1M');
    await button('Save profile').click();
    await dialog.waitFor({ state: 'hidden' });
    const row = page
      .getByRole('table', { name: 'Billing profiles' })
      .getByRole('row', { name: /Manual approval/ });
    expect(await row.getByRole('cell').allInnerTexts()).toEqual([
      'Manual approval',
      'Tally Test Ltd',
      'subscription periods, late usage PT1M',
      'manual approval',
      'send invoice, due after P14D',
      'Sandbox',
      expect.stringContaining('Edit'),
    ]);
    const list = await api(`${P}/profiles`);
    const made = list.body.data.find((p: any) => p.name === 'Manual approval');
    expect(made).toMatchObject({
      default: false,
      supplier: {
        name: 'Tally Test Ltd',
        email: 'billing@tally.test',
        addresses: { billing_address: { city: 'Lisbon' } },
      },
      workflow: {
        invoicing: { auto_advance: false, draft_period: 'P0D' },
        payment: { collection_method: 'send_invoice', due_after: 'P14D' },
      },
    });
    profileId = made.id;

    // edit: the form opens with the profile's settings, and the change reaches the API
    await button('Edit Manual approval').click();
    const edit = page.getByRole('dialog', { name: 'Edit billing profile Manual approval' });
    expect(await field('Supplier legal name', edit).inputValue()).toBe('Tally Test Ltd');
    expect(await field('Due after', edit).inputValue()).toBe('P14D');
    expect(await edit.getByRole('checkbox', { name: /^Auto advance/ }).isChecked()).toBe(false);
    await field('Due after', edit).fill('P10D');
    await button('Save profile').click();
    await edit.waitFor({ state: 'hidden' });
    await row.getByText('send invoice, due after P10D').waitFor();
    const after = await api(`${P}/profiles/${profileId}`);
    expect(after.body.workflow).toMatchObject({
      invoicing: { auto_advance: false },
      payment: { collection_method: 'send_invoice', due_after: 'P10D' },
    });
    expect(after.body.supplier.addresses.billing_address.city).toBe('Lisbon');
    await screenshot(page, 'settings-profiles');
  });

  it('makes a profile the default, refuses to delete the default (409 shown), deletes another', async () => {
    const before = (await api(`${P}/profiles`)).body.data.find((p: any) => p.default);
    await button('Create billing profile').click();
    const dialog = page.getByRole('dialog', { name: 'Create billing profile' });
    await field('Name', dialog).fill('Spare');
    await button('Save profile').click();
    await dialog.waitFor({ state: 'hidden' });
    await button('Make Spare the default').click();
    const table = page.getByRole('table', { name: 'Billing profiles' });
    await table.getByRole('row', { name: /Spare/ }).getByText('default', { exact: true }).waitFor();
    const spare = (await api(`${P}/profiles`)).body.data.find((p: any) => p.name === 'Spare');
    expect(spare.default).toBe(true);
    expect((await api(`${P}/profiles/${before.id}`)).body.default).toBe(false);

    // the default cannot be deleted: the API's 409, shown in the dialog
    await button('Delete Spare').click();
    const confirm = page.getByRole('dialog', { name: 'Delete Spare?' });
    await button('Delete profile').click();
    const refused = await api(`${P}/profiles/${spare.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    await confirm.getByRole('alert').filter({ hasText: refused.body.detail }).waitFor();
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });

    await button(`Make ${before.name} the default`).click();
    await table.getByRole('button', { name: 'Make Spare the default' }).waitFor();
    await button('Delete Spare').click();
    await button('Delete profile').click();
    await table.getByRole('row', { name: /Spare/ }).waitFor({ state: 'detached' });
    expect((await api(`${P}/profiles/${spare.id}`)).status).toBe(410);
    expect((await api(`${P}/profiles/${before.id}`)).body.default).toBe(true);
  });
});

describe("the console: form errors in OpenMeter's problem shape", () => {
  it('shows every invalid_parameters entry of a refused customer on its own field', async () => {
    await sidebar('Billing').click();
    await button('Create Customer').click();
    const dialog = page.getByRole('dialog', { name: 'Create Customer' });
    await field('Name', dialog).fill('Bad Co');
    await field('Currency', dialog).fill('dollars');
    await field('Country (ISO code)', dialog).fill('Portugal');
    await button('Save').click();
    const bad = {
      name: 'Bad Co',
      key: 'bad-co',
      currency: 'DOLLARS',
      billing_address: { country: 'Portugal' },
    };
    await expectFieldError(
      field('Currency', dialog),
      await reasonFor('POST', `${P}/customers`, bad, 'body.currency'),
    );
    await expectFieldError(
      field('Country (ISO code)', dialog),
      await reasonFor('POST', `${P}/customers`, bad, 'body.billing_address.country'),
    );
    expect(await field('Name', dialog).getAttribute('aria-invalid')).not.toBe('true');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });
});

describe('the console: an invoice from draft to voided', () => {
  let sub: any;
  let a = 0;
  let invoiceId = '';

  it('gives the customer the profile in its billing settings', async () => {
    ({ sub, a } = await subscribeMetered(h!));
    await sidebar('Meters').click();
    await sidebar('Billing').click();
    await page.getByRole('link', { name: 'Customer acme-inc', exact: true }).click();
    const card = page.getByLabel('Billing settings', { exact: true });
    await card.getByText(/^Billing profile: the default profile/).waitFor();
    await button('Edit billing settings').click();
    const dialog = page.getByRole('dialog', { name: 'Billing settings' });
    await select(page, 'Billing profile', 'Manual approval');
    // an override the API refuses: its reason on the field
    await field('Draft period', dialog).fill('soon');
    await button('Save billing settings').click();
    await expectFieldError(
      field('Draft period', dialog),
      await reasonFor(
        'PUT',
        `${P}/customers/acme-inc/billing`,
        { billing_profile: { id: profileId }, workflow: { invoicing: { draft_period: 'soon' } } },
        'body.workflow.invoicing.draft_period',
      ),
    );
    await field('Draft period', dialog).fill('');
    await button('Save billing settings').click();
    await dialog.waitFor({ state: 'hidden' });
    await card.getByText('Billing profile: Manual approval').waitFor();
    await card.getByText('Overrides: none').waitFor();
    expect((await api(`${P}/customers/acme-inc/billing`)).body).toEqual({
      billing_profile: { id: profileId },
    });
  });

  it('shows the draft when the period has ended, with the actions it allows, and edits it', async () => {
    await advanceTo(h!, month(a, 1) + 120_000, [sub.id]);
    const listed = await waitFor(async () => {
      const r = await api(`${P}/billing/invoices?filter[customer_id]=acme-inc`);
      return r.body.data[0]?.status === 'draft' && r.body.data[0];
    });
    invoiceId = listed.id;
    expect(listed.status_details.extended_status).toBe('draft.manual_approval_needed');

    await page.getByRole('tab', { name: 'Invoicing' }).click();
    const invoices = page.getByRole('table', { name: 'Invoices' });
    await invoices.waitFor();
    const cells = await invoices.getByRole('row').nth(1).getByRole('cell').allInnerTexts();
    expect(cells[0]).toBe(listed.number);
    expect(cells[0]).toMatch(/^DRAFT-/);
    expect(cells[1]).toMatch(/^draft\s+draft\.manual_approval_needed$/i);
    expect(Number(listed.totals.total)).toBe(0.3);
    expect(cells[6]).toBe(`${listed.totals.total} USD`);
    await screenshot(page, 'customer-invoices');

    await invoices.getByRole('link', { name: listed.number }).click();
    await page.getByRole('heading', { name: `Invoice ${listed.number}` }).waitFor();
    // the buttons are the invoice's available actions, no more
    const actions = page.getByRole('group', { name: 'Invoice actions' });
    const allowed = Object.keys(listed.status_details.available_actions);
    expect(allowed).toEqual(expect.arrayContaining(['approve', 'edit', 'delete']));
    expect(allowed).not.toContain('void');
    expect((await actions.getByRole('button').allInnerTexts()).sort()).toEqual(
      [...allowed.map((x) => labels[x]), 'Download PDF', 'Open HTML'].sort(),
    );
    expect(await actions.getByRole('link', { name: 'Workflow in Temporal UI' }).getAttribute('href')).toMatch(
      new RegExp(`/namespaces/default/workflows/invoice-${invoiceId}$`),
    );
    await page.getByLabel('Supplier', { exact: true }).getByText('Tally Test Ltd').waitFor();
    await page.getByLabel('Customer', { exact: true }).getByText('Customer acme-inc').first().waitFor();

    // edit the draft: a manual line, first with a quantity the API refuses
    await button('Edit draft').click();
    const dialog = page.getByRole('dialog', { name: `Edit draft ${listed.number}` });
    await field('Description', dialog).fill('First month, with setup');
    await button('Add line').click();
    await field('Line 1 name', dialog).fill('Setup fee');
    await field('Line 1 quantity', dialog).fill('two');
    await field('Line 1 unit price', dialog).fill('25');
    await button('Save draft').click();
    await expectFieldError(
      field('Line 1 quantity', dialog),
      await reasonFor(
        'PUT',
        `${P}/billing/invoices/${invoiceId}`,
        { lines: [{ name: 'Setup fee', quantity: 'two', unit_price: '25' }] },
        'body.lines[0].quantity',
      ),
    );
    await field('Line 1 quantity', dialog).fill('2');
    await button('Save draft').click();
    await dialog.waitFor({ state: 'hidden' });
    const lines = page.getByRole('table', { name: 'Lines' });
    const setup = await lines
      .getByRole('row')
      .filter({ hasText: 'Setup fee' })
      .getByRole('cell')
      .allInnerTexts();
    expect(setup[0]).toMatch(/^Setup fee\s*manual$/i);
    const edited = (await api(`${P}/billing/invoices/${invoiceId}`)).body;
    const manual = edited.lines.find((l: any) => l.name === 'Setup fee');
    expect(Number(manual.totals.total)).toBe(50);
    expect([setup[2], setup[3], setup[5]]).toEqual(['2', '25', `${manual.totals.total} USD`]);
    await page.getByText('First month, with setup').waitFor();
    expect(edited.description).toBe('First month, with setup');
    expect(Number(edited.totals.total)).toBe(50.3);
    await page.getByLabel('Totals').getByText(`Total ${edited.totals.total} USD`, { exact: true }).waitFor();
    await screenshot(page, 'invoice-draft');

    // the documents, fetched with the session's token
    const [download] = await Promise.all([page.waitForEvent('download'), button('Download PDF').click()]);
    expect(download.suggestedFilename()).toBe(`${listed.number}.pdf`);
    expect(
      readFileSync(await download.path())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
    const [html] = await Promise.all([context!.waitForEvent('page'), button('Open HTML').click()]);
    await html.waitForLoadState();
    expect(await html.content()).toContain('Setup fee');
    await html.close();
  });

  it('approves the draft, shows the 409 of an action another tab no longer may take, and voids it', async () => {
    const number = (await api(`${P}/billing/invoices/${invoiceId}`)).body.number;
    // a second tab on the same draft: its Approve button goes stale once the first tab approves
    const other = await signedInPage();
    await other.goto(`${base}/billing/invoices/${invoiceId}`);
    await button('Approve', other).waitFor();

    await button('Approve').click();
    // issued, then handed to the payment app: a send_invoice invoice waits for its payment
    const issued = await waitFor(async () => {
      const r = (await api(`${P}/billing/invoices/${invoiceId}`)).body;
      return r.status === 'payment_processing' && r;
    });
    expect(issued.number).toMatch(/^INV-/);
    expect(issued.issued_at).toEqual(expect.any(String));
    await page.getByRole('heading', { name: `Invoice ${issued.number}` }).waitFor();
    // the page follows the invoice while it moves on by itself (issuing, the hand-over)
    await page.getByText('payment processing', { exact: true }).first().waitFor();
    expect(await button('Approve').count()).toBe(0);
    expect(await button('Edit draft').count()).toBe(0);
    await button('Void').waitFor();

    await button('Approve', other).click();
    const alert = other.getByRole('alert').filter({ hasText: 'The invoice refused the action' });
    await alert.waitFor();
    const refused = await api(`${P}/billing/invoices/${invoiceId}/approve`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await alert.innerText()).toContain(refused.body.detail);
    // and the stale tab now shows the invoice as it is
    await other.getByRole('heading', { name: `Invoice ${issued.number}` }).waitFor();
    await screenshot(other, 'invoice-refused');
    await other.close();
    expect(number).toMatch(/^DRAFT-/);

    // void, with the keyboard: Enter opens the confirmation, Escape keeps the invoice, Tab reaches the confirm
    await button('Void').focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('dialog', { name: `Void invoice ${issued.number}?` });
    await confirm.waitFor();
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    expect((await api(`${P}/billing/invoices/${invoiceId}`)).body.status).toBe(issued.status);
    await button('Void').click();
    await confirm.waitFor();
    await screenshot(page, 'invoice-void-confirm');
    for (let i = 0; i < 6; i++) {
      if ((await page.evaluate('document.activeElement?.textContent')) === 'Void invoice') break;
      await page.keyboard.press('Tab');
    }
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Void invoice');
    await page.keyboard.press('Enter');
    await confirm.waitFor({ state: 'hidden' });
    await page.getByText('voided', { exact: true }).first().waitFor();
    const voided = (await api(`${P}/billing/invoices/${invoiceId}`)).body;
    expect(voided).toMatchObject({ status: 'voided', number: issued.number });
    expect(await button('Void').count()).toBe(0);
    expect(
      (await page.getByRole('group', { name: 'Invoice actions' }).getByRole('button').allInnerTexts()).sort(),
    ).toEqual(
      [
        ...Object.keys(voided.status_details.available_actions).map((x) => labels[x]),
        'Download PDF',
        'Open HTML',
      ].sort(),
    );
    await screenshot(page, 'invoice-voided');
  });

  it('shows a graduated line of an invoice with its detailed line per tier', async () => {
    const f = fixtures(h!.app);
    const features = await api(`${P}/features?filter[key]=calls`);
    await f.plan('tiered', [
      {
        key: 'default',
        name: 'Default',
        rate_cards: [
          {
            key: 'calls',
            name: 'Calls',
            feature: { id: features.body.data[0].id },
            billing_cadence: 'P1M',
            price: {
              type: 'graduated',
              tiers: [
                { up_to_amount: '2', unit_price: { type: 'unit', amount: '1' } },
                { unit_price: { type: 'unit', amount: '0.5' }, flat_price: { type: 'flat', amount: '3' } },
              ],
            },
          },
        ],
      },
    ]);
    await f.customer('tiered-co');
    const s2 = await f.subscribe({ customer: { key: 'tiered-co' }, plan: { key: 'tiered' } });
    await f.ingest(
      [0, 1, 2, 3, 4].map(() => ({ type: 'call', subject: 'tiered-co', time: s2.active_from, data: {} })),
    );
    // the period ends (the default profile auto-advances): the invoice has its detailed lines
    await advanceTo(h!, month(s2.active_from, 1) + 120_000, [s2.id]);
    const listed = await waitFor(async () => {
      const r = await api(`${P}/billing/invoices?filter[customer_id]=tiered-co`);
      return r.body.data[0]?.id && r.body.data[0];
    });
    const invoice = (await api(`${P}/billing/invoices/${listed.id}`)).body;
    const line = invoice.lines.find((l: any) => l.name === 'Calls');
    expect(line.quantity).toBe('5');
    expect(line.unit_price).toBeNull();
    expect(line.detailed_lines.length).toBeGreaterThan(1);

    await sidebar('Billing').click();
    await page.getByRole('link', { name: 'Customer tiered-co', exact: true }).click();
    await page.getByRole('tab', { name: 'Invoicing' }).click();
    await page.getByRole('table', { name: 'Invoices' }).getByRole('link', { name: listed.number }).click();
    const lines = page.getByRole('table', { name: 'Lines' });
    await lines.waitFor();
    expect((await lines.getByRole('row').nth(1).getByRole('cell').allInnerTexts())[3]).toBe('—');
    const details = lines.getByRole('row', { name: 'Detail of Calls' });
    await details.first().waitFor();
    const rows = await Promise.all(
      (await details.all()).map(async (r) =>
        (await r.getByRole('cell').allInnerTexts()).map((c) => c.trim()),
      ),
    );
    expect(rows).toEqual(
      line.detailed_lines.map((d: any) => [
        `↳ ${d.name}`,
        '',
        d.quantity,
        d.unit_price ?? '—',
        '',
        `${d.totals.total} USD`,
      ]),
    );
    await screenshot(page, 'invoice-tiers');
  });
});
