/**
 * REST: an invoice's printable documents, `GET /billing/invoices/{invoiceId}/pdf` and `/html`, rendered from
 * the invoice view (`getInvoice`) by `./document`. 404 problem for an unknown invoice.
 */
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config';
import type { AppDeps } from '../deps';
import {
  checkPdfFonts,
  invoiceDocumentFromView,
  renderInvoiceHtml,
  renderInvoicePdf,
  type InvoiceDocument,
  type PdfFonts,
  type SourceInvoice,
} from './document';
import { getInvoice } from './service';

/** The document of invoice `id`, from its API view (supplier and customer snapshots, lines, totals). */
export async function loadInvoiceDocument(em: EntityManager, id: string): Promise<InvoiceDocument> {
  const source: SourceInvoice = await getInvoice(em, id);
  return invoiceDocumentFromView(source);
}

/** `INV-000042.pdf`; anything but letters, digits, `-` and `_` becomes `_` */
export function documentFileName(number: string, ext: 'pdf' | 'html'): string {
  const safe = number.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || 'invoice';
  return `${safe}.${ext}`;
}

function readFont(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${variable}: cannot read the font file ${file}: ${(e as Error).message}`);
  }
}

/** The fonts TALLY_INVOICE_FONT(_BOLD) name, read and checked once; undefined for the standard fonts. */
export function invoiceFonts(
  config: Pick<Config, 'TALLY_INVOICE_FONT' | 'TALLY_INVOICE_FONT_BOLD'>,
): PdfFonts | undefined {
  if (!config.TALLY_INVOICE_FONT) {
    if (config.TALLY_INVOICE_FONT_BOLD) throw new Error('TALLY_INVOICE_FONT_BOLD needs TALLY_INVOICE_FONT');
    return undefined;
  }
  const fonts: PdfFonts = {
    regular: readFont('TALLY_INVOICE_FONT', config.TALLY_INVOICE_FONT),
    ...(config.TALLY_INVOICE_FONT_BOLD
      ? { bold: readFont('TALLY_INVOICE_FONT_BOLD', config.TALLY_INVOICE_FONT_BOLD) }
      : {}),
  };
  try {
    checkPdfFonts(fonts);
  } catch (e) {
    throw new Error(
      `TALLY_INVOICE_FONT(_BOLD): not a usable TrueType/OpenType font: ${(e as Error).message}`,
    );
  }
  return fonts;
}

export function documentRoutes(deps: AppDeps): Router {
  const r = Router();
  const em = () => deps.orm.em.fork();
  const fonts = invoiceFonts(deps.config);

  r.get('/billing/invoices/:invoiceId/pdf', async (req, res) => {
    const doc = await loadInvoiceDocument(em(), req.params.invoiceId);
    const pdf = await renderInvoicePdf(doc, fonts ? { fonts } : {});
    res
      .status(200)
      .type('application/pdf')
      .set('Content-Disposition', `inline; filename="${documentFileName(doc.number, 'pdf')}"`)
      .send(pdf);
  });

  r.get('/billing/invoices/:invoiceId/html', async (req, res) => {
    const doc = await loadInvoiceDocument(em(), req.params.invoiceId);
    res
      .status(200)
      .type('text/html; charset=utf-8')
      // the page holds customer data: no script, no external resource, no framing by another site
      .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
      .set('Content-Disposition', `inline; filename="${documentFileName(doc.number, 'html')}"`)
      .send(renderInvoiceHtml(doc));
  });

  return r;
}
