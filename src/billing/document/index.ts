/** Invoice documents: the printed invoice (`InvoiceDocument`), built from an invoice view, as HTML or PDF. */
export type * from './types';
export { invoiceDocumentFromView, type SourceInvoice } from './from-view';
export { renderInvoiceHtml, escapeHtml } from './html';
export { renderInvoicePdf, checkPdfFonts, type PdfFonts } from './pdf';
export { formatMoney, formatUnitPrice, formatQuantity, formatPeriod } from './format';
