/**
 * The JSON the subscription workflow writes to its `subscriptions` row (through activities). Pure type
 * declarations, a leaf: the entity, the service, the activities and the workflow all name them from here.
 */

export interface PendingChangeRecord {
  /** `edit`: to the subscription's own version derived from the current one (the phase position is kept) */
  kind: 'cancel' | 'change' | 'migrate' | 'edit';
  /** `next_billing_cycle` or an ISO instant */
  at: string;
  plan?: { id: string; key: string; version: number };
}

/** The invoice whose issuing keeps failing (written by the workflow; machine.ts InvoiceFailure + key). */
export interface InvoiceFailureRecord {
  invoiceKey: string;
  tries: number;
  since: string;
  lastError: string;
  retryAt: string;
}

export interface PeriodRecord {
  subscriptionId: string;
  /** `scheduled` until its `active_from`; absent: active */
  status?: 'scheduled' | 'active';
  plan: { id: string; key: string; version: number };
  /** when the current plan version took effect (an edit's instant) */
  planSince?: string;
  phaseKey: string;
  phaseStartedAt: string;
  periodStart: string;
  periodEnd: string;
  /** the end of the next period when the current one will simply roll over into it, else null/absent */
  nextPeriodEnd?: string | null;
  pendingChange: PendingChangeRecord | null;
}

/** What recording a period tells the workflow back (for its search attributes). */
export interface PeriodRecorded {
  /** the billing profile the customer bills under now (its own, else the default) */
  billingProfileId?: string;
}
