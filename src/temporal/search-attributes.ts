/**
 * Custom search attributes set on every subscription and invoice workflow, so operators can find a customer's
 * subscription in the Temporal Web UI (e.g. `TallyCustomerKey = "acme-inc"`). Registered on the dev
 * server by `npm start` and the test environments, and in docker-compose. Workflow-safe module.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_CUSTOMER_KEY = defineSearchAttributeKey('TallyCustomerKey', SearchAttributeType.KEYWORD);
export const SA_PLAN_KEY = defineSearchAttributeKey('TallyPlanKey', SearchAttributeType.KEYWORD);
export const SA_PLAN_VERSION = defineSearchAttributeKey('TallyPlanVersion', SearchAttributeType.INT);
export const SA_STATUS = defineSearchAttributeKey('TallySubscriptionStatus', SearchAttributeType.KEYWORD);

/** the key of the invoice whose issuing keeps failing (absent when none): `TallyInvoiceFailing IS NOT NULL` */
export const SA_INVOICE_FAILING = defineSearchAttributeKey(
  'TallyInvoiceFailing',
  SearchAttributeType.KEYWORD,
);

/** on every invoice workflow (`invoice-<id>`, with TallyCustomerKey): its status and, once issued, its number */
export const SA_INVOICE_STATUS = defineSearchAttributeKey('TallyInvoiceStatus', SearchAttributeType.KEYWORD);
export const SA_INVOICE_NUMBER = defineSearchAttributeKey('TallyInvoiceNumber', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [
  SA_CUSTOMER_KEY,
  SA_PLAN_KEY,
  SA_PLAN_VERSION,
  SA_STATUS,
  SA_INVOICE_FAILING,
  SA_INVOICE_STATUS,
  SA_INVOICE_NUMBER,
];

/** `name=Type` as the Temporal CLI's `--search-attribute` flag takes it */
export const cliSearchAttributeFlags = (): string[] =>
  SEARCH_ATTRIBUTE_KEYS.flatMap((k) => [
    '--search-attribute',
    `${k.name}=${k.type === SearchAttributeType.INT ? 'Int' : 'Keyword'}`,
  ]);
