/**
 * The invoice document as a PDF (A4), drawn with pdfkit in the API process: no browser, no network. Long
 * invoices continue on further pages, each with the table header repeated, and every page is numbered
 * ("Page 2 of 5").
 *
 * Fonts: by default the standard Helvetica faces every PDF reader has (nothing embedded). They encode
 * WinAnsi (Latin-1 and the usual typographic signs: € – “ ” …): a character outside it (e.g. Cyrillic or
 * CJK in a customer's name) prints as `?`. With `fonts` (TrueType/OpenType bytes, e.g. from
 * TALLY_INVOICE_FONT), those fonts are embedded (subset) and every character they have prints.
 */
import PDFDocument from 'pdfkit';
import {
  addressLines,
  documentTitle,
  formatDate,
  formatMoney,
  formatPeriod,
  formatQuantity,
  formatStatus,
  formatUnitPrice,
  isZero,
} from './format';
import type { DocumentLine, InvoiceDocument } from './types';

// WinAnsi's characters above Latin-1's printable ASCII (its 0x80–0x9F block)
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/** `s` as the standard fonts can print it: NFC, whitespace runs as one space, other characters as `?`. */
export function pdfSafeText(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFC').replace(/\s+/g, ' ')) {
    const c = ch.codePointAt(0)!;
    out += (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || WIN_ANSI_EXTRA.has(ch) ? ch : '?';
  }
  return out;
}

const PAGE = { width: 595.28, height: 841.89, margin: 48 };
const FOOTER_H = 24;
const BOTTOM = PAGE.height - PAGE.margin - FOOTER_H;
const COLS = {
  desc: { x: PAGE.margin, w: 255 },
  qty: { x: PAGE.margin + 260, w: 70 },
  unit: { x: PAGE.margin + 335, w: 80 },
  amount: { x: PAGE.margin + 420, w: PAGE.width - 2 * PAGE.margin - 420 },
};
const RIGHT = PAGE.width - PAGE.margin;

const GREY = '#555555';

type Doc = PDFKit.PDFDocument;

/** Fonts to embed (TrueType/OpenType file bytes); `bold` defaults to `regular`. */
export interface PdfFonts {
  regular: Buffer;
  bold?: Buffer;
}

interface Faces {
  regular: string;
  bold: string;
  /** how text is printed: `pdfSafeText` with the standard fonts, NFC with embedded ones */
  clean: (s: string) => string;
}
const STANDARD: Faces = { regular: 'Helvetica', bold: 'Helvetica-Bold', clean: pdfSafeText };
/**
 * The faces of each document. (pdfkit re-reads a font on every `font()` call when a second registered name
 * maps to an already open font, so each font is given exactly one name.)
 */
const faces = new WeakMap<Doc, Faces>();
const facesOf = (doc: Doc) => faces.get(doc) ?? STANDARD;
const clean = (doc: Doc, s: string) => facesOf(doc).clean(s);
const FONT = (doc: Doc) => facesOf(doc).regular;
const BOLD = (doc: Doc) => facesOf(doc).bold;

interface Row {
  name: string;
  sub: string[];
  qty: string;
  unit: string;
  amount: string;
  detail: boolean;
}

function rows(l: DocumentLine, currency: string): Row[] {
  const sub = [l.description, formatPeriod(l.service_period)].filter((s): s is string => !!s);
  const main: Row = {
    name: l.name,
    sub,
    qty: formatQuantity(l.quantity),
    unit: l.unit_price === null ? '' : formatUnitPrice(l.unit_price, currency),
    amount: formatMoney(l.amount, currency),
    detail: false,
  };
  return [
    main,
    ...l.detailed_lines.map((d) => ({
      name: d.name,
      sub: [],
      qty: formatQuantity(d.quantity),
      unit: d.unit_price === null ? '' : formatUnitPrice(d.unit_price, currency),
      amount: formatMoney(d.amount, currency),
      detail: true,
    })),
  ];
}

const INDENT = 12;

function rowHeight(doc: Doc, r: Row): number {
  const w = COLS.desc.w - (r.detail ? INDENT : 0);
  doc.font(r.detail ? FONT(doc) : BOLD(doc)).fontSize(r.detail ? 8.5 : 9.5);
  let h = doc.heightOfString(clean(doc, r.name), { width: w });
  doc.font(FONT(doc)).fontSize(8);
  for (const s of r.sub) h += doc.heightOfString(clean(doc, s), { width: w });
  for (const [col, text] of [
    ['qty', r.qty],
    ['unit', r.unit],
    ['amount', r.amount],
  ] as const) {
    doc.fontSize(9.5);
    h = Math.max(h, doc.heightOfString(clean(doc, text), { width: COLS[col].w }));
  }
  return h + (r.detail ? 3 : 7);
}

function text(doc: Doc, s: string, x: number, y: number, opts: PDFKit.Mixins.TextOptions = {}): number {
  doc.text(clean(doc, s), x, y, { lineBreak: true, ...opts });
  return doc.y;
}

function tableHeader(doc: Doc, y: number): number {
  doc.font(BOLD(doc)).fontSize(8).fillColor(GREY);
  text(doc, 'DESCRIPTION', COLS.desc.x, y, { width: COLS.desc.w });
  text(doc, 'QUANTITY', COLS.qty.x, y, { width: COLS.qty.w, align: 'right' });
  text(doc, 'UNIT PRICE', COLS.unit.x, y, { width: COLS.unit.w, align: 'right' });
  text(doc, 'AMOUNT', COLS.amount.x, y, { width: COLS.amount.w, align: 'right' });
  const bottom = y + 12;
  doc.moveTo(PAGE.margin, bottom).lineTo(RIGHT, bottom).lineWidth(0.7).strokeColor('#999999').stroke();
  doc.fillColor('black');
  return bottom + 6;
}

function drawRow(doc: Doc, r: Row, y: number): void {
  const x = COLS.desc.x + (r.detail ? INDENT : 0);
  const w = COLS.desc.w - (r.detail ? INDENT : 0);
  doc
    .font(r.detail ? FONT(doc) : BOLD(doc))
    .fontSize(r.detail ? 8.5 : 9.5)
    .fillColor(r.detail ? '#333333' : 'black');
  let yy = text(doc, r.name, x, y, { width: w });
  doc.font(FONT(doc)).fontSize(8).fillColor(GREY);
  for (const s of r.sub) yy = text(doc, s, x, yy, { width: w });
  doc
    .font(FONT(doc))
    .fontSize(r.detail ? 8.5 : 9.5)
    .fillColor(r.detail ? '#333333' : 'black');
  text(doc, r.qty, COLS.qty.x, y, { width: COLS.qty.w, align: 'right' });
  text(doc, r.unit, COLS.unit.x, y, { width: COLS.unit.w, align: 'right' });
  text(doc, r.amount, COLS.amount.x, y, { width: COLS.amount.w, align: 'right' });
  doc.fillColor('black');
}

/** The first page's heading: title, status, invoice facts, supplier and customer. Returns the next y. */
function heading(doc: Doc, d: InvoiceDocument): number {
  const top = PAGE.margin;
  doc.font(BOLD(doc)).fontSize(18);
  text(doc, documentTitle(d), PAGE.margin, top, { width: 300 });
  doc.font(FONT(doc)).fontSize(9).fillColor(GREY);
  text(doc, `Status: ${formatStatus(d.status)}`, PAGE.margin, doc.y + 2, { width: 300 });
  doc.fillColor('black');

  const facts: [string, string][] = [['Invoice number', d.number]];
  if (d.issued_at) facts.push(['Issued', formatDate(d.issued_at)]);
  if (d.due_at) facts.push(['Due', formatDate(d.due_at)]);
  facts.push(['Service period', formatPeriod(d.service_period)]);
  facts.push(['Currency', d.currency]);
  let fy = top;
  for (const [k, v] of facts) {
    doc.font(FONT(doc)).fontSize(9).fillColor(GREY);
    text(doc, k, RIGHT - 230, fy, { width: 90 });
    doc.fillColor('black');
    fy = Math.max(doc.y, text(doc, v, RIGHT - 140, fy, { width: 140, align: 'right' })) + 1;
  }

  let y = Math.max(doc.y, fy) + 18;
  const block = (x: number, label: string, lines: { s: string; bold?: boolean }[]): number => {
    doc.font(BOLD(doc)).fontSize(8).fillColor(GREY);
    let yy = text(doc, label.toUpperCase(), x, y, { width: 230 });
    doc.fillColor('black');
    for (const l of lines) {
      doc.font(l.bold ? BOLD(doc) : FONT(doc)).fontSize(9.5);
      yy = text(doc, l.s, x, yy + 1, { width: 230 });
    }
    return yy;
  };
  let bottom = y;
  const s = d.supplier;
  if (s) {
    bottom = block(PAGE.margin, 'From', [
      ...(s.name ? [{ s: s.name, bold: true }] : []),
      ...addressLines(s.address).map((a) => ({ s: a })),
      ...(s.tax_id ? [{ s: `Tax ID: ${s.tax_id}` }] : []),
      ...(s.email ? [{ s: s.email }] : []),
    ]);
  }
  const c = d.customer;
  bottom = Math.max(
    bottom,
    block(s ? PAGE.margin + 265 : PAGE.margin, 'Bill to', [
      { s: c.name, bold: true },
      ...addressLines(c.billing_address).map((a) => ({ s: a })),
      ...(c.email ? [{ s: c.email }] : []),
      ...(c.key ? [{ s: `Customer ${c.key}` }] : []),
    ]),
  );
  y = bottom + 22;
  return y;
}

function continuation(doc: Doc, d: InvoiceDocument): number {
  doc.font(BOLD(doc)).fontSize(10);
  text(doc, `${documentTitle(d)} (continued)`, PAGE.margin, PAGE.margin, { width: 400 });
  return doc.y + 10;
}

function footers(doc: Doc, d: InvoiceDocument): void {
  const range = doc.bufferedPageRange();
  for (let i = 0; i < range.count; i++) {
    doc.switchToPage(range.start + i);
    // writing in the bottom margin must not start a new page
    const margin = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.font(FONT(doc)).fontSize(8).fillColor(GREY);
    const y = PAGE.height - PAGE.margin - 10;
    doc.text(clean(doc, d.number), PAGE.margin, y, { width: 200, lineBreak: false });
    doc.text(`Page ${i + 1} of ${range.count}`, RIGHT - 200, y, {
      width: 200,
      align: 'right',
      lineBreak: false,
    });
    doc.page.margins.bottom = margin;
  }
  doc.fillColor('black');
}

/** Throws unless `fonts` can be embedded (checked once, at start-up). */
export function checkPdfFonts(fonts: PdfFonts): void {
  const doc = new PDFDocument({ autoFirstPage: false });
  doc.registerFont('regular', fonts.regular);
  doc.font('regular');
  if (fonts.bold) {
    doc.registerFont('bold', fonts.bold);
    doc.font('bold');
  }
}

/** The document as a PDF. */
export function renderInvoicePdf(d: InvoiceDocument, opts: { fonts?: PdfFonts } = {}): Promise<Buffer> {
  const embedded = opts.fonts;
  const plain = (s: string) => s.normalize('NFC').replace(/\s+/g, ' ');
  const infoText = embedded ? plain : pdfSafeText;
  const doc = new PDFDocument({
    size: 'A4',
    margin: PAGE.margin,
    bufferPages: true,
    info: {
      Title: infoText(documentTitle(d)),
      ...(d.supplier?.name ? { Author: infoText(d.supplier.name) } : {}),
      Subject: infoText(`Invoice ${d.number} for ${d.customer.name}`),
      ...(d.issued_at ? { CreationDate: new Date(d.issued_at) } : {}),
    },
  });
  if (embedded) {
    const bold = embedded.bold && !embedded.bold.equals(embedded.regular) ? embedded.bold : undefined;
    doc.registerFont('regular', embedded.regular);
    if (bold) doc.registerFont('bold', bold);
    faces.set(doc, { regular: 'regular', bold: bold ? 'bold' : 'regular', clean: plain });
  }
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  try {
    const cur = d.currency;
    let y = tableHeader(doc, heading(doc, d));
    const blocks = d.lines.map((l) => rows(l, cur));
    if (blocks.length === 0) {
      doc.font(FONT(doc)).fontSize(9.5);
      y = text(doc, 'No lines', COLS.desc.x, y, { width: COLS.desc.w }) + 6;
    }
    const rule = (at: number) =>
      doc.moveTo(PAGE.margin, at).lineTo(RIGHT, at).lineWidth(0.3).strokeColor('#dddddd').stroke();
    let first = true;
    const newPage = () => {
      doc.addPage();
      y = tableHeader(doc, continuation(doc, d));
      first = true;
    };
    for (const block of blocks) {
      const heights = block.map((r) => rowHeight(doc, r));
      const total = heights.reduce((a, b) => a + b, 0);
      // a line and its tier breakdown stay on one page when they fit on one
      if (y + total > BOTTOM && total <= BOTTOM - PAGE.margin - 60) newPage();
      block.forEach((r, i) => {
        if (y + heights[i] > BOTTOM) newPage();
        // a rule above each line, none under the table header
        if (!r.detail && !first) rule(y - 4);
        drawRow(doc, r, y);
        y += heights[i];
        first = false;
      });
    }
    if (blocks.length > 0) rule(y - 2);

    const t = d.totals;
    const totals: [string, string, boolean][] = [['Subtotal', t.subtotal, false]];
    if (!isZero(t.discounts)) totals.push(['Discounts', t.discounts, false]);
    if (!isZero(t.taxes)) totals.push(['Taxes', t.taxes, false]);
    if (t.credits !== undefined && !isZero(t.credits)) totals.push(['Credits', t.credits, false]);
    totals.push([d.due_at ? `Total due ${formatDate(d.due_at)}` : 'Total', t.total, true]);
    const notesHeight = (d.notes ?? []).reduce(
      (h, n) =>
        h +
        doc
          .font(FONT(doc))
          .fontSize(9)
          .heightOfString(clean(doc, n), { width: RIGHT - PAGE.margin }) +
        4,
      0,
    );
    if (y + 10 + totals.length * 16 + notesHeight > BOTTOM) {
      doc.addPage();
      y = continuation(doc, d);
    }
    y += 10;
    for (const [label, amount, strong] of totals) {
      doc.font(strong ? BOLD(doc) : FONT(doc)).fontSize(strong ? 11 : 9.5);
      text(doc, label, RIGHT - 260, y, { width: 140 });
      text(doc, formatMoney(amount, cur), RIGHT - 120, y, { width: 120, align: 'right' });
      y += 16;
    }
    if (d.notes?.length) {
      y += 10;
      doc.font(FONT(doc)).fontSize(9).fillColor('#333333');
      for (const n of d.notes) y = text(doc, n, PAGE.margin, y, { width: RIGHT - PAGE.margin }) + 4;
      doc.fillColor('black');
    }
    footers(doc, d);
    doc.end();
  } catch (err) {
    doc.end();
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return done;
}
