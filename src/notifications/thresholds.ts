/**
 * `entitlements.balance.threshold`, evaluated after ingest. The ingest route hands the batch's subjects to
 * `noteIngested` (no waiting: the 202 is not delayed, and ingest throughput is kept); within
 * THRESHOLD_FLUSH_MS the subjects seen meanwhile are evaluated together, and only when a live threshold
 * rule exists: the metered entitlements of those subjects' customers only (two statements per hundred
 * subjects; never all entitlements), each rule's reached thresholds, and for each one not yet marked for
 * that rule × subscription × feature × usage period a mark and an event, in one transaction. The mark's
 * primary key makes it once per threshold per period, across processes and concurrent flushes.
 *
 * Reached, not crossed: a flush lost with its process (a crash within the window) is made up at the
 * subject's next ingest, which finds the threshold reached and still unmarked.
 */
import type { AppDeps } from '../deps';
import { exec, Sql } from '../db/sql';
import { meteredEntitlementsOf } from '../entitlements/service';
import { recordEvent } from './outbox';
import { entitlementPayload } from './payloads';
import { reachedThresholds, thresholdKey } from './threshold-rules';
import type { ThresholdValue } from './types';

/** subjects are evaluated at most this long after the ingest that named them */
export const THRESHOLD_FLUSH_MS = 500;
const CHUNK = 100;

interface ThresholdRule {
  id: string;
  feature_keys: string[] | null;
  thresholds: ThresholdValue[];
}

type Deps = Pick<AppDeps, 'orm' | 'logger'>;

interface State {
  subjects: Set<string>;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}
const states = new WeakMap<Deps['orm'], State>();

/** Called by the ingest route with the stored batch's subjects; returns at once. */
export function noteIngested(deps: Deps, subjects: Iterable<string>): void {
  let st = states.get(deps.orm);
  if (!st) states.set(deps.orm, (st = { subjects: new Set() }));
  for (const s of subjects) st.subjects.add(s);
  if (st.timer || st.subjects.size === 0) return;
  const state = st;
  state.timer = setTimeout(() => {
    state.timer = undefined;
    void flush(deps, state);
  }, THRESHOLD_FLUSH_MS);
}

/** Evaluates what is pending now (tests; shutdown). */
export async function flushThresholds(deps: Deps): Promise<void> {
  const st = states.get(deps.orm);
  if (!st) return;
  if (st.timer) clearTimeout(st.timer);
  st.timer = undefined;
  await st.running;
  await flush(deps, st);
}

async function flush(deps: Deps, st: State): Promise<void> {
  if (st.running) await st.running;
  const subjects = [...st.subjects];
  st.subjects.clear();
  if (subjects.length === 0) return;
  st.running = (async () => {
    try {
      await evaluateThresholds(deps, subjects);
    } catch (err) {
      // made up at the subjects' next ingest (reached, not crossed)
      deps.logger.warn({ err, subjects: subjects.length }, 'balance threshold evaluation failed');
    } finally {
      st.running = undefined;
    }
  })();
  await st.running;
}

/** Evaluates the threshold rules for the customers of `subjects` now. */
export async function evaluateThresholds(
  deps: Deps,
  subjects: string[],
  now: Date = new Date(),
): Promise<number> {
  const em = deps.orm.em.fork();
  const rules = await exec<ThresholdRule>(
    em,
    new Sql().add(
      `select id, feature_keys, thresholds from notification_rules
        where type = 'entitlements.balance.threshold' and deleted_at is null and not disabled order by id`,
    ),
  );
  if (rules.length === 0) return 0;
  let recorded = 0;
  for (let i = 0; i < subjects.length; i += CHUNK) {
    const ents = await meteredEntitlementsOf(em, subjects.slice(i, i + CHUNK), now);
    for (const e of ents) {
      const { entry } = e;
      if (entry.usage === undefined || !entry.current_usage_period) continue;
      for (const rule of rules) {
        if (rule.feature_keys && !rule.feature_keys.includes(entry.feature_key)) continue;
        for (const t of reachedThresholds(rule.thresholds, entry.usage, entry.limit)) {
          recorded += await em.transactional(async (tem) => {
            const marked = await exec(
              tem,
              new Sql().add(
                `insert into notification_threshold_marks (rule_id, subscription_id, feature_key, period_from,
                   threshold, event_id) values (?, ?, ?, ?, ?, '') on conflict do nothing returning rule_id`,
                rule.id,
                e.subscription_id,
                entry.feature_key,
                entry.current_usage_period!.from,
                thresholdKey(t),
              ),
            );
            if (!marked.length) return 0;
            const [eventId] = await recordEvent(
              tem,
              'entitlements.balance.threshold',
              { ...entitlementPayload(e), threshold: t },
              { ruleIds: [rule.id], featureKey: entry.feature_key, customerId: e.customer.id, now },
            );
            if (eventId)
              await exec(
                tem,
                new Sql().add(
                  `update notification_threshold_marks set event_id = ? where rule_id = ? and subscription_id = ?
                     and feature_key = ? and period_from = ? and threshold = ?`,
                  eventId,
                  rule.id,
                  e.subscription_id,
                  entry.feature_key,
                  entry.current_usage_period!.from,
                  thresholdKey(t),
                ),
              );
            return 1;
          });
        }
      }
    }
  }
  return recorded;
}
