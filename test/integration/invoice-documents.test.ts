/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are checked field by field */
/**
 * Invoice documents over HTTP: a real invoice (usage from events, a graduated price, a flat fee) is billed,
 * then its PDF and HTML are fetched and read back: the number, every line, the tier breakdown, the total.
 */
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { issueInvoice } from '../../src/billing/service';
import { loadConfig } from '../../src/config';
import { formatMoney } from '../../src/billing/document';
import { newId } from '../../src/lib/ids';
import { createTestApp, TEST_TOKEN, type TestApp } from '../support/app';
import { defaultPhase, fixtures, ok, P } from '../support/api';
import { pdfText } from '../support/pdf-text';

let app: TestApp;
let invoice: any;
let planId: string;

/** the environment the test app was configured from */
const envOf = (a: TestApp) => ({ DATABASE_URL: a.db.url, TALLY_API_TOKENS: TEST_TOKEN });

/** supertest parser keeping the body as bytes */
const binary = (r: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const stream = r as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => cb(null, Buffer.concat(chunks)));
};

const JAN = { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' };

beforeAll(async () => {
  app = await createTestApp();
  const f = fixtures(app);
  const customer = await f.customer('acme', {
    name: 'Acme <Corp> & Sons',
    primary_email: 'ap@acme.test',
    billing_address: { line1: '5 Rue de Rivoli', postal_code: '75001', city: 'Paris', country: 'FR' },
  });
  const { feature } = await f.meteredFeature();
  const plan = await f.plan(
    'pro',
    defaultPhase([
      {
        key: 'calls',
        name: 'API calls',
        feature: { id: feature.id },
        billing_cadence: 'P1M',
        price: {
          type: 'graduated',
          tiers: [
            {
              up_to_amount: '2',
              unit_price: { type: 'unit', amount: '1.5' },
              flat_price: { type: 'flat', amount: '4' },
            },
            { unit_price: { type: 'unit', amount: '0.25' } },
          ],
        },
      },
      {
        key: 'platform',
        name: 'Platform fee',
        billing_cadence: 'P1M',
        price: { type: 'flat', amount: '1234.5' },
      },
    ]),
  );
  planId = plan.id;
  await f.ingest(
    Array.from({ length: 5 }, (_, i) => ({
      type: 'call',
      subject: 'acme',
      time: `2026-01-1${i}T00:00:00Z`,
      data: {},
    })),
  );
  const ref = await issueInvoice(app.deps.orm.em.fork(), {
    invoiceKey: `doc-${newId()}`,
    subscriptionId: newId(),
    customerId: customer.id,
    subscriptionStart: JAN.from,
    arrears: { planId: plan.id, phaseKey: 'default', ...JAN, cycleFrom: JAN.from, cycleTo: JAN.to },
  });
  invoice = await ok(app.api.get(`${P}/billing/invoices/${ref.invoiceId}`), 200);
});
afterAll(async () => {
  await app?.close();
});

it('the invoice billed: 5 calls over two tiers and the flat fee', () => {
  // tier 1: 2 × 1.5 + 4 = 7.00; tier 2: 3 × 0.25 = 0.75; fee 1234.50
  expect(invoice.totals.total).toBe('1242.25');
  expect(invoice.lines.map((l: any) => [l.name, l.quantity, l.totals.total])).toEqual([
    ['API calls', '5', '7.75'],
    ['Platform fee', '1', '1234.50'],
  ]);
});

/** `<name> <quantity> <unit price> <amount>` of each detailed line of the usage line, as the PDF prints them */
function tierRows(currency: string): string[] {
  const usage = invoice.lines.find((l: any) => l.name === 'API calls');
  expect(usage.detailed_lines).toHaveLength(3);
  expect(usage.detailed_lines.map((d: any) => [d.quantity, d.totals.amount])).toEqual([
    ['2', '3.00'],
    ['1', '4.00'],
    ['3', '0.75'],
  ]);
  return usage.detailed_lines.map(
    (d: any) =>
      `${d.name} ${d.quantity} ${formatMoney(d.unit_price, currency)} ${formatMoney(d.totals.amount, currency)}`,
  );
}

it('GET …/pdf: a PDF named after the number, holding the number, each line, the breakdown and the total', async () => {
  const res = await app.api.get(`${P}/billing/invoices/${invoice.id}/pdf`).buffer(true).parse(binary);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/pdf');
  expect(res.headers['content-disposition']).toBe(`inline; filename="${invoice.number}.pdf"`);
  const pdf = res.body as Buffer;
  expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  const { text } = await pdfText(pdf);
  for (const s of [
    `Invoice ${invoice.number}`,
    'Acme <Corp> & Sons',
    '5 Rue de Rivoli',
    '75001 Paris',
    'ap@acme.test',
    '2026-01-01 – 2026-01-31',
    'API calls',
    // the tier breakdown as the API's detailed_lines give it (a usage and a flat part of tier 1, tier 2)
    ...tierRows('USD'),
    'Platform fee',
    '1 USD 1,234.50 USD 1,234.50',
    `Total ${formatMoney(invoice.totals.total, 'USD')}`,
  ])
    expect(text).toContain(s);
  expect(text).toContain('USD 1,242.25');
});

it('GET …/html: the same document, escaped, self-contained', async () => {
  const res = await app.api.get(`${P}/billing/invoices/${invoice.id}/html`).expect(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  expect(res.headers['content-disposition']).toBe(`inline; filename="${invoice.number}.html"`);
  const html = res.text;
  for (const s of [
    `Invoice ${invoice.number}`,
    'Acme &lt;Corp&gt; &amp; Sons',
    '5 Rue de Rivoli',
    'API calls',
    ...tierRows('USD').map((r) => r.split(' 2 USD')[0].split(' 1 USD')[0].split(' 3 USD')[0]),
    'Platform fee',
    'USD 1,234.50',
    'USD 1,242.25',
  ])
    expect(html).toContain(s);
  expect(html).not.toContain('Acme <Corp>');
});

it('404 problem for an unknown invoice, on both', async () => {
  for (const kind of ['pdf', 'html']) {
    const res = await app.api.get(`${P}/billing/invoices/${newId()}/${kind}`).expect(404);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.detail).toMatch(/^invoice .* not found$/);
  }
});

it('needs the bearer token', async () => {
  await app.raw.get(`${P}/billing/invoices/${invoice.id}/pdf`).expect(401);
});

it('with TALLY_INVOICE_FONT the PDF embeds the font and prints non-Latin names', async () => {
  const font = path.join(
    path.dirname(require.resolve('pdfjs-dist/package.json')),
    'standard_fonts',
    'LiberationSans-Regular.ttf',
  );
  const withFont = request(
    createApp({
      ...app.deps,
      config: loadConfig({ ...process.env, ...envOf(app), TALLY_INVOICE_FONT: font }),
    }),
  );
  const f = fixtures(app);
  const customer = await f.customer('zhuk', { name: 'ООО Жук' });
  const ref = await issueInvoice(app.deps.orm.em.fork(), {
    invoiceKey: `doc-${newId()}`,
    subscriptionId: newId(),
    customerId: customer.id,
    subscriptionStart: JAN.from,
    arrears: { planId: planId, phaseKey: 'default', ...JAN, cycleFrom: JAN.from, cycleTo: JAN.to },
  });
  const get = (agent: ReturnType<typeof request>) =>
    agent
      .get(`${P}/billing/invoices/${ref.invoiceId}/pdf`)
      .set('Authorization', `Bearer ${TEST_TOKEN}`)
      .buffer(true)
      .parse(binary)
      .expect(200);
  expect((await pdfText((await get(withFont)).body)).text).toContain('ООО Жук');
  expect((await pdfText((await get(app.raw)).body)).text).toContain('??? ???');
});
