/** Bulk seeding shared by the benchmarks (SQL `generate_series`, seconds for thousands of rows). */
import type { Connection } from '@mikro-orm/core';

/** `count` customers (`customer-<i>`, ids `BENCHC…<i>`) billed in `currency`, without subjects. */
export async function seedCustomers(conn: Connection, count: number, currency: string): Promise<void> {
  await conn.execute(
    `insert into customers (id, key, name, currency, created_at, updated_at)
     select 'BENCHC' || lpad(i::text, 20, '0'), 'customer-' || i, 'Customer ' || i, ?, now(), now()
     from generate_series(1, ?) i`,
    [currency, count],
  );
}

/**
 * `count` customers (`customer-<i>`, ids `BENCHC…<i>`), each with one subject key (`subject-<i>`) and one
 * active subscription row on `plan`, anchored (and started) at `anchor`, with the given current period
 * (null bounds when omitted).
 */
export async function seedCustomersWithSubscriptions(
  conn: Connection,
  opts: {
    count: number;
    plan: { id: string; key: string; version: number };
    anchor: string;
    period?: { from: string; to: string };
  },
): Promise<void> {
  const { count, plan, anchor, period } = opts;
  await conn.execute(
    `insert into customers (id, key, name, created_at, updated_at)
     select 'BENCHC' || lpad(i::text, 20, '0'), 'customer-' || i, 'Customer ' || i, now(), now()
     from generate_series(1, ?) i`,
    [count],
  );
  await conn.execute(
    `insert into customer_subjects (subject_key, customer_id)
     select 'subject-' || i, 'BENCHC' || lpad(i::text, 20, '0') from generate_series(1, ?) i`,
    [count],
  );
  await conn.execute(
    `insert into subscriptions (id, customer_id, customer_key, plan_id, plan_key, plan_version, status,
       billing_anchor, active_from, phase_key, phase_started_at, current_period_start, current_period_end,
       workflow_id)
     select 'BENCHS' || lpad(i::text, 20, '0'), 'BENCHC' || lpad(i::text, 20, '0'), 'customer-' || i,
       ?, ?, ?, 'active', ?::timestamptz, ?::timestamptz, 'default', ?::timestamptz, ?::timestamptz,
       ?::timestamptz, 'subscription-bench-' || i
     from generate_series(1, ?) i`,
    [
      plan.id,
      plan.key,
      plan.version,
      anchor,
      anchor,
      anchor,
      period?.from ?? null,
      period?.to ?? null,
      count,
    ],
  );
}
