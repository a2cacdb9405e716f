/** The invoice document renderer: money formatting per currency, escaping, tier breakdowns, pagination. */
import path from 'node:path';
import Decimal from 'decimal.js';
import { composeInvoice, type ComposedLine } from '../../src/billing/compose';
import {
  escapeHtml,
  formatMoney,
  formatPeriod,
  formatQuantity,
  formatUnitPrice,
  invoiceDocumentFromView,
  renderInvoiceHtml,
  renderInvoicePdf,
  type InvoiceDocument,
  type SourceInvoice,
} from '../../src/billing/document';
import { pdfSafeText } from '../../src/billing/document/pdf';
import { documentFileName, invoiceFonts } from '../../src/billing/document-routes';
import type { Price, RateCard } from '../../src/catalog/types';
import { pdfText } from '../support/pdf-text';

const JAN = { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' };

function doc(over: Partial<InvoiceDocument> = {}): InvoiceDocument {
  return {
    customer: { name: 'Acme Corp', key: 'acme' },
    number: 'INV-000001',
    status: 'issued',
    issued_at: '2026-02-01T00:00:00.000Z',
    service_period: JAN,
    currency: 'USD',
    lines: [
      {
        name: 'API calls',
        quantity: '1500',
        unit_price: '0.002',
        amount: '3.00',
        service_period: JAN,
        detailed_lines: [],
      },
    ],
    totals: { subtotal: '3.00', discounts: '0', taxes: '0', total: '3.00' },
    ...over,
  };
}

describe('formatMoney: exact, with the currency minor digits', () => {
  it.each([
    ['1234.5', 'USD', 'USD 1,234.50'],
    ['0', 'USD', 'USD 0.00'],
    ['0.005', 'USD', 'USD 0.01'], // half up
    ['0.004', 'USD', 'USD 0.00'],
    ['-5', 'USD', 'USD -5.00'],
    ['-0.001', 'USD', 'USD 0.00'], // no negative zero
    ['1000000', 'EUR', 'EUR 1,000,000.00'],
    ['1234.5', 'JPY', 'JPY 1,235'],
    ['1234.4', 'JPY', 'JPY 1,234'],
    ['999', 'jpy', 'JPY 999'],
    ['1.2345', 'BHD', 'BHD 1.235'],
    ['12', 'BHD', 'BHD 12.000'],
    ['0.0004', 'KWD', 'KWD 0.000'],
    // beyond a double's precision: printed from the string, digit for digit
    ['12345678901234567890.125', 'USD', 'USD 12,345,678,901,234,567,890.13'],
    ['0.1000000000000000055511151231257827', 'USD', 'USD 0.10'],
    ['9007199254740993', 'JPY', 'JPY 9,007,199,254,740,993'],
  ])('%s %s → %s', (amount, cur, out) => {
    expect(formatMoney(amount, cur)).toBe(out);
  });

  it.each(['', 'abc', '1e5', '1,5', 'NaN', 'Infinity', '--1'])('refuses %j', (v) => {
    expect(() => formatMoney(v, 'USD')).toThrow(RangeError);
  });

  it('unit prices keep every digit they have, and at least the minor digits', () => {
    expect(formatUnitPrice('0.0004', 'USD')).toBe('USD 0.0004');
    expect(formatUnitPrice('2', 'USD')).toBe('USD 2.00');
    expect(formatUnitPrice('0.5', 'JPY')).toBe('JPY 0.5');
    expect(formatUnitPrice('3', 'JPY')).toBe('JPY 3');
    expect(formatUnitPrice('1.5', 'BHD')).toBe('BHD 1.500');
    expect(formatUnitPrice('1234.000001', 'EUR')).toBe('EUR 1,234.000001');
  });

  it('quantities print exactly, grouped', () => {
    expect(formatQuantity('1500')).toBe('1,500');
    expect(formatQuantity('0.25')).toBe('0.25');
    expect(formatQuantity('1234567.1250')).toBe('1,234,567.125');
    expect(formatQuantity('0')).toBe('0');
  });
});

describe('formatPeriod', () => {
  it.each([
    [JAN, '2026-01-01 – 2026-01-31'],
    [{ from: '2026-01-10T00:00:00Z', to: '2026-01-11T00:00:00Z' }, '2026-01-10'],
    [
      { from: '2026-01-10T10:30:00Z', to: '2026-01-10T12:00:00Z' },
      '2026-01-10 10:30 UTC – 2026-01-10 12:00 UTC',
    ],
    [{ from: '2026-01-10T00:00:00Z', to: '2026-01-20T06:00:00Z' }, '2026-01-10 – 2026-01-20 06:00 UTC'],
  ])('%j → %s', (p, out) => {
    expect(formatPeriod(p)).toBe(out);
  });
});

const hostile = '<script>alert("x")</script> & \'quote\'';

describe('renderInvoiceHtml', () => {
  it('escapes every value: names, keys, addresses, notes, numbers', () => {
    const html = renderInvoiceHtml(
      doc({
        number: 'INV-<1>',
        supplier: { name: hostile, tax_id: '<tax>', email: 'a"b@x', address: { line1: '<l1>' } },
        customer: {
          name: hostile,
          key: '<k>',
          email: '<e>',
          billing_address: { city: '<c>', country: 'F"R' },
        },
        lines: [
          {
            name: hostile,
            description: '<desc>',
            quantity: '1',
            unit_price: '1',
            amount: '1',
            service_period: JAN,
            detailed_lines: [{ name: '<tier>', quantity: '1', unit_price: '1', amount: '1' }],
          },
        ],
        notes: ['<note>'],
      }),
    );
    expect(html).not.toMatch(/<script/i);
    for (const raw of [
      '<1>',
      '<tax>',
      '<l1>',
      '<k>',
      '<e>',
      '<c>',
      '<desc>',
      '<tier>',
      '<note>',
      'F"R',
      'a"b',
    ])
      expect(html).not.toContain(raw);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quote&#39;');
    expect(html).toContain('INV-&lt;1&gt;');
    expect(html).toContain('F&quot;R');
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('is self-contained: inline CSS, no script, no external resource', () => {
    const html = renderInvoiceHtml(doc());
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<style>');
    expect(html).toContain('@media print');
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(|@import/i);
  });

  it('prints the facts, lines and totals with the currency digits', () => {
    const html = renderInvoiceHtml(
      doc({
        currency: 'BHD',
        due_at: '2026-03-03T00:00:00.000Z',
        supplier: { name: 'Tally Labs', tax_id: 'BH-1' },
        customer: {
          name: 'Acme',
          email: 'ap@acme.test',
          billing_address: { line1: '5 Road', city: 'Manama' },
        },
        lines: [
          {
            name: 'Calls',
            quantity: '1500',
            unit_price: '0.0015',
            amount: '2.25',
            service_period: JAN,
            detailed_lines: [],
          },
        ],
        totals: { subtotal: '2.25', discounts: '0.5', taxes: '0.1', credits: '0', total: '1.85' },
      }),
    );
    for (const s of [
      'Invoice INV-000001',
      'Tally Labs',
      'Tax ID: BH-1',
      'ap@acme.test',
      '5 Road',
      'Manama',
      'Issued',
      '2026-02-01',
      'Due',
      '2026-03-03',
      '2026-01-01 – 2026-01-31',
      '1,500',
      'BHD 0.0015',
      'BHD 2.250',
      'BHD 0.500',
      'BHD 0.100',
      'Total due 2026-03-03',
      'BHD 1.850',
    ])
      expect(html).toContain(s);
    expect(html).not.toContain('Credits'); // zero: not printed
  });

  it('names drafts and voided invoices as such', () => {
    expect(renderInvoiceHtml(doc({ status: 'draft', number: 'DRAFT-1' }))).toContain(
      '<h1>Draft invoice DRAFT-1</h1>',
    );
    expect(renderInvoiceHtml(doc({ status: 'voided' }))).toContain('<h1>Voided invoice INV-000001</h1>');
  });
});

// ---------------------------------------------------------------------------------------------------

const rc = (key: string, price: Price): RateCard => ({
  key,
  name: `${key} name`,
  billing_cadence: 'P1M',
  payment_term: 'in_arrears',
  price,
});

/** a line as the invoice view shows it (`composedLineView` in the billing service) */
const viewLine = (l: ComposedLine) => ({
  name: l.name,
  quantity: l.quantity,
  unit_price: l.unitPrice,
  service_period: { from: l.periodFrom, to: l.periodTo },
  totals: l.totals,
  price: l.price,
  detail: l.detail,
});

function composed(rateCards: RateCard[], usage: Record<string, string>, currency = 'USD', to = JAN.to) {
  return composeInvoice({
    currency,
    arrears: {
      phase: { planId: 'p1', phaseKey: 'default', proRatingEnabled: true, rateCards },
      from: new Date(JAN.from),
      to: new Date(to),
      cycleFrom: new Date(JAN.from),
      cycleTo: new Date(JAN.to),
      usageFrom: new Date(JAN.from),
      usage,
    },
  });
}

function source(c: ReturnType<typeof composed>, over: Partial<SourceInvoice> = {}): SourceInvoice {
  return {
    number: 'INV-000007',
    status: 'issued',
    currency: c.currency,
    customer: { key: 'acme', name: 'Acme' },
    service_period: c.servicePeriod,
    issued_at: JAN.to,
    totals: c.totals,
    lines: c.lines.map(viewLine),
    ...over,
  };
}

describe('invoiceDocumentFromView', () => {
  const graduated: Price = {
    type: 'graduated',
    tiers: [
      {
        up_to_amount: '100',
        unit_price: { type: 'unit', amount: '0.10' },
        flat_price: { type: 'flat', amount: '5' },
      },
      { up_to_amount: '1000', unit_price: { type: 'unit', amount: '0.05' } },
      { unit_price: { type: 'unit', amount: '0.0125' } },
    ],
  };

  it('breaks a graduated line into one detailed line per tier and per flat part, adding up to the line', () => {
    const d = invoiceDocumentFromView(source(composed([rc('calls', graduated)], { calls: '1333' })));
    const [line] = d.lines;
    expect(line).toMatchObject({ name: 'calls name', quantity: '1333', unit_price: null });
    expect(line.detailed_lines).toEqual([
      { name: 'Tier 1 (0 – 100)', quantity: '100', unit_price: '0.1', amount: '10.00' },
      { name: 'Tier 1 (0 – 100), flat fee', quantity: '1', unit_price: '5', amount: '5.00' },
      { name: 'Tier 2 (100 – 1,000)', quantity: '900', unit_price: '0.05', amount: '45.00' },
      { name: 'Tier 3 (above 1,000)', quantity: '333', unit_price: '0.0125', amount: '4.16' },
    ]);
    const sum = line.detailed_lines.reduce((s, x) => s.plus(x.amount), new Decimal(0));
    expect(sum.toFixed(2)).toBe(line.amount);
    expect(line.amount).toBe('64.16');
    expect(d.totals).toEqual({
      subtotal: '64.16',
      discounts: '0.00',
      taxes: '0.00',
      credits: '0.00',
      total: '64.16',
    });
  });

  it('names the selected tier of a volume price', () => {
    const volume: Price = {
      type: 'volume',
      tiers: [
        { up_to_amount: '10', unit_price: { type: 'unit', amount: '2' } },
        { unit_price: { type: 'unit', amount: '1' } },
      ],
    };
    const d = invoiceDocumentFromView(source(composed([rc('seats', volume)], { seats: '12' })));
    expect(d.lines[0].detailed_lines).toEqual([
      { name: 'Volume tier 2 (above 10)', quantity: '12', unit_price: '1', amount: '12.00' },
    ]);
  });

  it('uses the detailed_lines of the view when it has them', () => {
    const c = composed([rc('calls', graduated)], { calls: '50' });
    const src = source(c);
    src.lines![0].detailed_lines = [
      { name: 'Part A', quantity: '50', unit_price: '0.1', totals: { total: '5.00' } },
    ];
    expect(invoiceDocumentFromView(src).lines[0].detailed_lines).toEqual([
      { name: 'Part A', quantity: '50', unit_price: '0.1', amount: '5.00' },
    ]);
  });

  it('describes a prorated flat fee; a unit price line has no breakdown', () => {
    const c = composed(
      [rc('fee', { type: 'flat', amount: '31' }), rc('calls', { type: 'unit', amount: '0.5' })],
      { calls: '3' },
      'USD',
      '2026-01-16T00:00:00.000Z',
    );
    const d = invoiceDocumentFromView(source(c));
    const fee = d.lines.find((l) => l.name === 'fee name')!;
    expect(fee).toMatchObject({ amount: '15.00', description: 'Prorated: 48.39% of USD 31.00' });
    const calls = d.lines.find((l) => l.name === 'calls name')!;
    expect(calls).toMatchObject({ quantity: '3', unit_price: '0.5', amount: '1.50', detailed_lines: [] });
  });

  it('takes the supplier, customer contact, due date and description when the view has them', () => {
    const c = composed([rc('calls', { type: 'unit', amount: '1' })], { calls: '2' });
    const d = invoiceDocumentFromView(
      source(c, {
        supplier: {
          name: 'Tally Labs',
          tax_id: { code: 'GB1' },
          email: 'billing@tally.test',
          addresses: { billing_address: { line1: '1 Main St', country: 'GB' } },
        },
        customer: {
          key: 'acme',
          name: 'Acme',
          primary_email: 'ap@acme.test',
          billing_address: { city: 'Paris' },
        },
        due_at: '2026-03-01T00:00:00.000Z',
        description: 'Thank you',
      }),
    );
    expect(d).toMatchObject({
      supplier: {
        name: 'Tally Labs',
        tax_id: 'GB1',
        email: 'billing@tally.test',
        address: { line1: '1 Main St' },
      },
      customer: { name: 'Acme', key: 'acme', email: 'ap@acme.test', billing_address: { city: 'Paris' } },
      due_at: '2026-03-01T00:00:00.000Z',
      notes: ['Thank you'],
    });
    // absent in today's view: not printed at all
    const bare = invoiceDocumentFromView(source(c));
    expect(bare.supplier).toBeUndefined();
    expect(bare.due_at).toBeUndefined();
    expect(bare.customer).toEqual({ name: 'Acme', key: 'acme' });
  });
});

// ---------------------------------------------------------------------------------------------------

describe('renderInvoicePdf', () => {
  it('is a PDF whose text holds the facts, each line and the total, per currency', async () => {
    for (const [currency, amount, shown] of [
      ['JPY', '123456', 'JPY 123,456'],
      ['USD', '1234.5', 'USD 1,234.50'],
      ['BHD', '1.2345', 'BHD 1.235'],
    ]) {
      const pdf = await renderInvoicePdf(
        doc({
          currency,
          customer: { name: 'Acme Corp', billing_address: { line1: '5 Road', city: 'Paris', country: 'FR' } },
          supplier: { name: 'Tally Labs', tax_id: 'FR-9' },
          due_at: '2026-03-01T00:00:00.000Z',
          lines: [
            {
              name: 'Graduated calls',
              quantity: '150',
              unit_price: null,
              amount,
              service_period: JAN,
              detailed_lines: [{ name: 'Tier 1 (0 – 100)', quantity: '100', unit_price: '0.0004', amount }],
            },
          ],
          totals: { subtotal: amount, discounts: '0', taxes: '0', total: amount },
        }),
      );
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      const { text, total } = await pdfText(pdf);
      expect(total).toBe(1);
      for (const s of [
        'Invoice INV-000001',
        'Tally Labs',
        'Tax ID: FR-9',
        'Acme Corp',
        '5 Road',
        'Paris',
        '2026-03-01',
        'Graduated calls',
        'Tier 1 (0 – 100)',
        `${currency} 0.0004`,
        `Total due 2026-03-01 ${shown}`,
        'Page 1 of 1',
      ])
        expect(text).toContain(s);
    }
  });

  it('prints all 200 lines of a long invoice over numbered pages with the header repeated', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => ({
      name: `Service ${String(i + 1).padStart(3, '0')}`,
      quantity: String(i + 1),
      unit_price: '0.01',
      amount: new Decimal(i + 1).div(100).toFixed(2),
      service_period: JAN,
      // every other line has a four-tier breakdown
      detailed_lines:
        i % 2 === 0
          ? [1, 2, 3, 4].map((t) => ({
              name: `Tier ${t} of ${i + 1}`,
              quantity: '1',
              unit_price: '0',
              amount: '0',
            }))
          : [],
    }));
    const total = lines.reduce((s, l) => s.plus(l.amount), new Decimal(0)).toFixed(2);
    const pdf = await renderInvoicePdf(
      doc({ lines, totals: { subtotal: total, discounts: '0', taxes: '0', total } }),
    );
    const { text, total: pages } = await pdfText(pdf);
    expect(pages).toBeGreaterThan(3);
    for (const l of lines) expect(text).toContain(`${l.name}\n`);
    for (let p = 1; p <= pages; p++) expect(text).toContain(`Page ${p} of ${pages}`);
    expect(text.match(/DESCRIPTION QUANTITY UNIT PRICE AMOUNT/g)).toHaveLength(pages);
    expect(text.match(/Invoice INV-000001 \(continued\)/g)).toHaveLength(pages - 1);
    expect(text).toContain(`Total USD ${formatMoney(total, 'USD').slice(4)}`);
    expect(total).toBe('201.00');
    // a line and its breakdown are never split over two pages
    const pageTexts = text.split(/-- \d+ of \d+ --/);
    for (const l of lines.filter((x) => x.detailed_lines.length > 0)) {
      const page = pageTexts.findIndex((t) => t.includes(`${l.name}\n`));
      for (const t of l.detailed_lines)
        expect({ [t.name]: pageTexts[page].includes(t.name) }).toEqual({ [t.name]: true });
    }
  });

  it('renders a 1,000-line invoice (no timing asserted here: speed claims live in benchmarks)', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => ({
      name: `Item ${i + 1}`,
      quantity: '1',
      unit_price: '1',
      amount: '1.00',
      service_period: JAN,
      detailed_lines: [{ name: 'Tier 1', quantity: '1', unit_price: '1', amount: '1.00' }],
    }));
    const d = doc({ lines, totals: { subtotal: '1000.00', discounts: '0', taxes: '0', total: '1000.00' } });
    const pdf = await renderInvoicePdf(d);
    // measured while building it: ~0.25 s; ~5 s when pdfkit re-parsed the font metrics on every font switch
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(10_000);
  });

  it('prints characters the standard fonts lack as ?', async () => {
    expect(pdfSafeText('Café – “ok” €5\tnext\nline')).toBe('Café – “ok” €5 next line');
    expect(pdfSafeText('Ж日本')).toBe('???');
    const { text } = await pdfText(await renderInvoicePdf(doc({ customer: { name: 'Zoë Жук' } })));
    expect(text).toContain('Zoë ???');
  });

  it('file names keep only safe characters', () => {
    expect(documentFileName('INV-000042', 'pdf')).toBe('INV-000042.pdf');
    expect(documentFileName('a"b/c\r\n', 'html')).toBe('a_b_c__.html');
    expect(documentFileName('', 'pdf')).toBe('invoice.pdf');
  });
});

describe('embedded fonts (TALLY_INVOICE_FONT)', () => {
  // a TrueType font with Latin, Greek and Cyrillic that ships with pdf.js (a dev dependency)
  const dir = path.join(path.dirname(require.resolve('pdfjs-dist/package.json')), 'standard_fonts');
  const regular = path.join(dir, 'LiberationSans-Regular.ttf');
  const bold = path.join(dir, 'LiberationSans-Bold.ttf');

  it('prints every character the embedded font has', async () => {
    const fonts = invoiceFonts({ TALLY_INVOICE_FONT: regular, TALLY_INVOICE_FONT_BOLD: bold })!;
    const d = doc({ customer: { name: 'Zoë Жук', billing_address: { city: 'Αθήνα' } } });
    const { text } = await pdfText(await renderInvoicePdf(d, { fonts }));
    expect(text).toContain('Zoë Жук');
    expect(text).toContain('Αθήνα');
    expect(text).toContain('USD 3.00');
    // the standard fonts cannot
    const { text: standard } = await pdfText(await renderInvoicePdf(d));
    expect(standard).toContain('Zoë ???');
  });

  it('no font configured: the standard fonts', () => {
    expect(invoiceFonts({})).toBeUndefined();
  });

  it('refuses a missing file, a file that is not a font, a bold face alone', () => {
    expect(() => invoiceFonts({ TALLY_INVOICE_FONT: '/nonexistent/font.ttf' })).toThrow(
      /TALLY_INVOICE_FONT: cannot read the font file \/nonexistent\/font.ttf/,
    );
    expect(() => invoiceFonts({ TALLY_INVOICE_FONT: __filename })).toThrow(
      /not a usable TrueType\/OpenType font/,
    );
    expect(() => invoiceFonts({ TALLY_INVOICE_FONT_BOLD: bold })).toThrow(/needs TALLY_INVOICE_FONT/);
  });
});
