/**
 * The invoice document as one self-contained HTML page: inline CSS (screen and print), no script, no
 * external resource, every value escaped. Pure.
 */
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

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text and attribute-value escaping (`&<>"'`). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const e = escapeHtml;

const CSS = `
*{box-sizing:border-box}
body{font-family:"Helvetica Neue",Helvetica,Arial,sans-serif;color:#1a1a1a;margin:0;padding:32px;font-size:13px;line-height:1.45}
.invoice{max-width:800px;margin:0 auto}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:24px;margin-bottom:24px}
h1{font-size:22px;margin:0 0 4px}
.status{display:inline-block;padding:1px 8px;border-radius:10px;background:#eef;font-size:11px;text-transform:uppercase;letter-spacing:.04em}
.parties{display:flex;justify-content:space-between;gap:24px;margin-bottom:24px}
.party h2,.meta h2{font-size:11px;text-transform:uppercase;color:#666;margin:0 0 4px;letter-spacing:.04em}
.party p{margin:0}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-size:11px;text-transform:uppercase;color:#666;border-bottom:1px solid #999;padding:6px 4px}
td{padding:6px 4px;vertical-align:top;border-bottom:1px solid #e5e5e5}
.num{text-align:right;white-space:nowrap}
.period,.desc{color:#666;font-size:11px}
tr.detail td{border-bottom:none;padding-top:0;color:#444;font-size:12px}
tr.detail td:first-child{padding-left:20px}
.totals{margin-left:auto;margin-top:16px;width:320px}
.totals td{border:none;padding:3px 4px}
.totals tr.total td{font-weight:bold;border-top:1px solid #999;font-size:15px}
dl.meta{display:grid;grid-template-columns:auto auto;gap:2px 12px;margin:0}
dl.meta dt{color:#666}
dl.meta dd{margin:0;text-align:right}
.notes{margin-top:24px;color:#444}
@media print{body{padding:0}thead{display:table-header-group}tr{page-break-inside:avoid}.status{border:1px solid #999}}
@page{size:A4;margin:16mm}
`;

function addressHtml(lines: string[]): string {
  return lines.map((l) => `<p>${e(l)}</p>`).join('');
}

function lineRows(l: DocumentLine, currency: string): string {
  const main = `<tr class="line">
<td><div class="name">${e(l.name)}</div>${l.description ? `<div class="desc">${e(l.description)}</div>` : ''}<div class="period">${e(formatPeriod(l.service_period))}</div></td>
<td class="num">${e(formatQuantity(l.quantity))}</td>
<td class="num">${l.unit_price === null ? '' : e(formatUnitPrice(l.unit_price, currency))}</td>
<td class="num">${e(formatMoney(l.amount, currency))}</td>
</tr>`;
  const details = l.detailed_lines.map(
    (d) => `<tr class="detail">
<td>${e(d.name)}</td>
<td class="num">${e(formatQuantity(d.quantity))}</td>
<td class="num">${d.unit_price === null ? '' : e(formatUnitPrice(d.unit_price, currency))}</td>
<td class="num">${e(formatMoney(d.amount, currency))}</td>
</tr>`,
  );
  return [main, ...details].join('\n');
}

/** The document as a complete HTML page (UTF-8). */
export function renderInvoiceHtml(doc: InvoiceDocument): string {
  const cur = doc.currency;
  const title = documentTitle(doc);
  const s = doc.supplier;
  const supplier = s
    ? `<div class="party supplier"><h2>From</h2>${s.name ? `<p><strong>${e(s.name)}</strong></p>` : ''}${addressHtml(addressLines(s.address))}${s.tax_id ? `<p>Tax ID: ${e(s.tax_id)}</p>` : ''}${s.email ? `<p>${e(s.email)}</p>` : ''}</div>`
    : '';
  const c = doc.customer;
  const customer = `<div class="party customer"><h2>Bill to</h2><p><strong>${e(c.name)}</strong></p>${addressHtml(addressLines(c.billing_address))}${c.email ? `<p>${e(c.email)}</p>` : ''}${c.key ? `<p class="period">Customer ${e(c.key)}</p>` : ''}</div>`;
  const meta: [string, string][] = [['Invoice number', doc.number]];
  if (doc.issued_at) meta.push(['Issued', formatDate(doc.issued_at)]);
  if (doc.due_at) meta.push(['Due', formatDate(doc.due_at)]);
  meta.push(['Service period', formatPeriod(doc.service_period)]);
  meta.push(['Currency', cur]);
  const t = doc.totals;
  const totals: [string, string, string?][] = [['Subtotal', t.subtotal]];
  if (!isZero(t.discounts)) totals.push(['Discounts', t.discounts]);
  if (!isZero(t.taxes)) totals.push(['Taxes', t.taxes]);
  if (t.credits !== undefined && !isZero(t.credits)) totals.push(['Credits', t.credits]);
  totals.push([doc.due_at ? `Total due ${formatDate(doc.due_at)}` : 'Total', t.total, 'total']);
  const body = doc.lines.length
    ? doc.lines.map((l) => lineRows(l, cur)).join('\n')
    : '<tr><td colspan="4">No lines</td></tr>';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main class="invoice">
<header>
<div><h1>${e(title)}</h1><span class="status">${e(formatStatus(doc.status))}</span></div>
<dl class="meta">${meta.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>
</header>
<section class="parties">${supplier}${customer}</section>
<table class="lines">
<thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Unit price</th><th class="num">Amount</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
<table class="totals"><tbody>
${totals.map(([k, v, cls]) => `<tr${cls ? ` class="${cls}"` : ''}><td>${e(k)}</td><td class="num">${e(formatMoney(v, cur))}</td></tr>`).join('\n')}
</tbody></table>
${doc.notes?.length ? `<section class="notes">${doc.notes.map((n) => `<p>${e(n)}</p>`).join('')}</section>` : ''}
</main>
</body>
</html>
`;
}
