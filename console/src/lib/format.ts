export const CADENCES: { value: string; label: string }[] = [
  { value: 'PT1M', label: '1 minute' },
  { value: 'PT1H', label: '1 hour' },
  { value: 'P1D', label: '1 day' },
  { value: 'P1W', label: '1 week' },
  { value: 'P1M', label: '1 month' },
  { value: 'P3M', label: '3 months' },
  { value: 'P6M', label: '6 months' },
  { value: 'P1Y', label: '1 year' },
];

export function cadenceLabel(iso: string | null | undefined): string {
  if (!iso) return '—';
  return CADENCES.find((c) => c.value === iso)?.label ?? iso;
}

export function when(t: string | null | undefined): string {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

export function money(amount: string | null | undefined, currency?: string): string {
  if (amount === null || amount === undefined) return '—';
  return currency ? `${amount} ${currency}` : amount;
}

function meta(name: string): string | undefined {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content || undefined;
}

/** the Temporal UI address: the console's setting, else the API's TALLY_TEMPORAL_UI_URL, else npm start's */
export function temporalUiUrl(): string {
  return (
    localStorage.getItem('tally.temporalUiUrl') || meta('tally-temporal-ui-url') || 'http://localhost:8233'
  );
}

/** the Temporal UI page of a subscription's workflow (`subscription-<id>`) */
export function workflowUrl(subscriptionId: string): string {
  const ns = encodeURIComponent(meta('tally-temporal-namespace') ?? 'default');
  return `${temporalUiUrl().replace(/\/$/, '')}/namespaces/${ns}/workflows/subscription-${subscriptionId}`;
}

/** the Temporal UI page of an invoice's workflow (`invoice-<id>`) */
export function invoiceWorkflowUrl(invoiceId: string): string {
  const ns = encodeURIComponent(meta('tally-temporal-namespace') ?? 'default');
  return `${temporalUiUrl().replace(/\/$/, '')}/namespaces/${ns}/workflows/invoice-${invoiceId}`;
}
