/**
 * `entitlements.reset`: a metered entitlement's usage period rolled over. The subscription's resets
 * workflow (workflows/entitlement-resets.ts) wakes at each rollover and calls `recordEntitlementResets`,
 * which looks at the subscription's metered entitlements in force at the workflow's `at` and, for each one
 * whose current usage period started by then and is a rollover (it starts after the subscription's start
 * and not before its current phase's: a period that was already running when the entitlement began is
 * not a reset), writes a mark and records the event in one transaction. The mark's primary key
 * (subscription × feature × period start) makes it once per entitlement and period, across retried
 * activities, worker restarts and concurrent runs.
 *
 * Tally has no manual reset of an entitlement's usage (entitlements are derived from the subscription), so
 * the rollover is the only reset. A rollover missed entirely while the worker was down longer than a whole
 * usage period is reported once, for the period in force when it looks again.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import { meteredEntitlementsOf } from '../entitlements/service';
import { recordEvent } from './outbox';
import { entitlementPayload } from './payloads';
import { isRollover } from './reset-rules';
import type { EntitlementResetsResult } from './types';

export async function recordEntitlementResets(
  em: EntityManager,
  input: { subscriptionId: string; customerId: string; at?: string },
): Promise<EntitlementResetsResult> {
  const at = input.at ? new Date(input.at) : new Date();
  const ents = (await meteredEntitlementsOf(em, [input.customerId], at, 'id_or_key')).filter(
    (e) => e.subscription_id === input.subscriptionId && e.entry.current_usage_period,
  );
  if (ents.length === 0) return { recorded: 0, nextResetAt: null };
  const next = ents.map((e) => new Date(e.entry.current_usage_period!.to)).reduce((a, b) => (b < a ? b : a));
  const rollovers = ents.filter((e) =>
    isRollover(e.entry.current_usage_period, e.active_from, e.phase_started_at, at),
  );
  let recorded = 0;
  if (rollovers.length) {
    // no live rule for the type: nothing to mark (a rule created later starts with the next rollover)
    const [rule] = await exec(
      em,
      new Sql().add(
        `select 1 from notification_rules where type = 'entitlements.reset' and deleted_at is null and not disabled
          limit 1`,
      ),
    );
    if (rule)
      for (const e of rollovers)
        recorded += await em.transactional(async (tem) => {
          const marked = await exec(
            tem,
            new Sql().add(
              `insert into notification_reset_marks (subscription_id, feature_key, period_from) values (?, ?, ?)
                 on conflict do nothing returning subscription_id`,
              e.subscription_id,
              e.entry.feature_key,
              e.entry.current_usage_period!.from,
            ),
          );
          if (!marked.length) return 0;
          await recordEvent(tem, 'entitlements.reset', entitlementPayload(e), {
            featureKey: e.entry.feature_key,
            customerId: e.customer.id,
            now: at,
          });
          return 1;
        });
  }
  return { recorded, nextResetAt: next.toISOString() };
}
