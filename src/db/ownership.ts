/**
 * Table ownership: the ONE list of declared exceptions. Each table belongs to the domain that registers its
 * entity or creates it in its migrations (`src/db/schema.ts`); a domain's SQL names only its own tables and
 * reads other domains' data through what those domains export. `test/unit/table-ownership.test.ts` scans
 * every `.ts` file under `src/<domain>/` (and `activities/`, `workflows/`) and fails on any foreign table
 * not listed here, and on any entry here that no longer matches a reference (a stale exception).
 *
 * Pure data, a leaf: imported by the check only.
 */
export interface OwnershipException {
  /** the folder under `src/` whose SQL names the table */
  domain: string;
  /** the foreign table it names */
  table: string;
  /** only this file (project-relative) is excused; absent = the whole domain */
  file?: string;
  reason: string;
}

/**
 * The entitlement access query (`loadAccessSources` in `src/entitlements/read-model.ts`) is a declared read model:
 * customers (by key, subject or id) + their active subscriptions + the current phase's rate cards + features
 * + meters in ONE statement, so that `/entitlements` answers in two round trips for up to a hundred
 * customers. Its second statement (usage) is metering's own meter query, so `events` is named by metering
 * only. Entitlements owns no table.
 */
const ACCESS_QUERY =
  'the entitlement access query: one statement over customers, subjects, subscriptions, plans, features and meters (declared read model, for speed)';

export const ownershipExceptions: readonly OwnershipException[] = [
  ...['customers', 'customer_subjects', 'subscriptions', 'plans', 'features', 'meters'].map((table) => ({
    domain: 'entitlements',
    table,
    file: 'src/entitlements/read-model.ts',
    reason: ACCESS_QUERY,
  })),
  // a foreign key is a schema relation, not a read: a subscription's customer and plan version exist
  ...['customers', 'plans'].map((table) => ({
    domain: 'subscriptions',
    table,
    file: 'src/subscriptions/migrations.ts',
    reason:
      'a foreign key of subscriptions.customer_id, subscriptions.plan_id, subscription_plan_segments.plan_id',
  })),
];
