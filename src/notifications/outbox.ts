/**
 * The notification outbox: other domains call `recordEvent(em, type, data)` inside the transaction of the
 * write that causes the event. It stores one event per matching rule (live, enabled, and for its features)
 * and one pending delivery per live, enabled channel of that rule, in that same transaction: the event
 * exists if and only if the write committed. Delivery starts right after the commit (the dispatcher,
 * `dispatch.ts`, is told through `onEventsCommitted`), and the sweeper starts whatever was left behind.
 *
 * With no rule for the type (the usual case), it costs one indexed lookup and writes nothing.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import { newId } from '../lib/ids';
import type { NotificationEventType } from './types';

export interface RecordOptions {
  /** the feature the event is about (rules that name features match only these) */
  featureKey?: string;
  /** the customer the event is about (for listing) */
  customerId?: string;
  /** only these rules (the threshold evaluator decides per rule) */
  ruleIds?: string[];
  now?: Date;
}

/** The envelope every webhook carries (OpenMeter's event payload): `data` is the resource's API view. */
export interface EventPayload {
  id: string;
  type: NotificationEventType;
  timestamp: string;
  data: unknown;
}

// transactions (root MikroORM contexts) that recorded events: told to the dispatcher when they commit
const recordedIn = new WeakSet<object>();
let recordedInNested = false;
const listeners = new Set<() => void>();

/** `fn` runs after a transaction that recorded events commits (or right after a write outside one). */
export function onEventsCommitted(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(): void {
  for (const fn of listeners) fn();
}

/** Called by the dispatcher's ORM subscriber after every root transaction commit. */
export function transactionCommitted(ctx: unknown): void {
  if (ctx && typeof ctx === 'object' && recordedIn.has(ctx)) {
    recordedIn.delete(ctx);
    notify();
  } else if (recordedInNested) {
    recordedInNested = false;
    notify();
  }
}

interface MatchRow {
  rule_id: string;
  channel_ids: string[];
}

/**
 * Records `type` with `data` for every matching rule, in `em`'s transaction. Returns the new event ids.
 * `data` may be a function returning the payload (a promise): it runs only when a rule matches, so a write
 * with no rule for its type builds no view.
 */
export async function recordEvent(
  em: EntityManager,
  type: NotificationEventType,
  data: unknown,
  opts: RecordOptions = {},
): Promise<string[]> {
  const q = new Sql().add(
    `select r.id as rule_id, array(select c.id from notification_channels c
         where c.id = any(r.channel_ids) and c.deleted_at is null and not c.disabled order by c.id) as channel_ids
       from notification_rules r
      where r.type = ? and r.deleted_at is null and not r.disabled`,
    type,
  );
  if (opts.featureKey !== undefined)
    q.add(' and (r.feature_keys is null or ? = any(r.feature_keys))', opts.featureKey);
  if (opts.ruleIds) {
    if (opts.ruleIds.length === 0) return [];
    q.add(' and r.id in ').list(opts.ruleIds);
  }
  q.add(' order by r.id');
  const rules = await exec<MatchRow>(em, q);
  if (rules.length === 0) return [];
  if (typeof data === 'function') data = await (data as () => Promise<unknown>)();
  const now = opts.now ?? new Date();
  const events = new Sql().add(
    'insert into notification_events (id, type, rule_id, payload, feature_key, customer_id, created_at) values ',
  );
  const deliveries: unknown[][] = [];
  const ids: string[] = [];
  rules.forEach((r, i) => {
    const id = newId();
    ids.push(id);
    const payload: EventPayload = { id, type, timestamp: now.toISOString(), data };
    events.add(
      `${i ? ', ' : ''}(?, ?, ?, ?::jsonb, ?, ?, ?)`,
      id,
      type,
      r.rule_id,
      JSON.stringify(payload),
      opts.featureKey ?? null,
      opts.customerId ?? null,
      now,
    );
    for (const c of r.channel_ids) deliveries.push([newId(), id, c, now, now]);
  });
  await exec(em, events);
  if (deliveries.length) {
    const d = new Sql().add(
      'insert into notification_deliveries (id, event_id, channel_id, created_at, updated_at) values ',
    );
    deliveries.forEach((v, i) => d.add(`${i ? ', ' : ''}(?, ?, ?, ?, ?)`, ...v));
    await exec(em, d);
  }
  if (deliveries.length) markForDispatch(em);
  return ids;
}

/** Deliveries written on `em` are to be started once its transaction commits (at once outside one). */
export function markForDispatch(em: EntityManager): void {
  const ctx: unknown = em.getTransactionContext();
  if (!ctx || typeof ctx !== 'object') {
    setImmediate(notify);
    return;
  }
  recordedIn.add(ctx);
  // a nested transaction (savepoint) has no commit hook of its own: the next root commit tells
  recordedInNested = true;
}
