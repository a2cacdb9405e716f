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

/** the billing profile the subscription's customer bills under (its default profile when none is set) */
export const SA_BILLING_PROFILE = defineSearchAttributeKey(
  'TallyBillingProfileId',
  SearchAttributeType.KEYWORD,
);
/**
 * the next billing boundary (the current period's end; `active_from` while scheduled; absent once it has
 * ended): `TallyNextBillingAt < "2026-12-03T11:00:00Z"` is everything that bills within the hour
 */
export const SA_NEXT_BILLING_AT = defineSearchAttributeKey(
  'TallyNextBillingAt',
  SearchAttributeType.DATETIME,
);

export const SEARCH_ATTRIBUTE_KEYS = [
  SA_CUSTOMER_KEY,
  SA_PLAN_KEY,
  SA_PLAN_VERSION,
  SA_STATUS,
  SA_BILLING_PROFILE,
  SA_NEXT_BILLING_AT,
  SA_INVOICE_FAILING,
  SA_INVOICE_STATUS,
  SA_INVOICE_NUMBER,
];

type Key = (typeof SEARCH_ATTRIBUTE_KEYS)[number];

/** the type's name as the Temporal CLI takes it (`--search-attribute Name=Type`, `--type Type`) */
export const cliTypeName = (k: Key): 'Int' | 'Keyword' | 'Datetime' =>
  k.type === SearchAttributeType.INT
    ? 'Int'
    : k.type === SearchAttributeType.DATETIME
      ? 'Datetime'
      : 'Keyword';

/** the type's number in the operator service's `IndexedValueType` (KEYWORD 2, INT 3, DATETIME 6) */
export const indexedValueType = (k: Key): number =>
  k.type === SearchAttributeType.INT ? 3 : k.type === SearchAttributeType.DATETIME ? 6 : 2;

/** `name=Type` as the Temporal CLI's `--search-attribute` flag takes it */
export const cliSearchAttributeFlags = (): string[] =>
  SEARCH_ATTRIBUTE_KEYS.flatMap((k) => ['--search-attribute', `${k.name}=${cliTypeName(k)}`]);
