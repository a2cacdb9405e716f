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

/**
 * `count` events of `type` spread uniformly over [from, to), each of a customer drawn from a continuous Zipf
 * (s = 1) over ranks 1..`customers` (customer-1 sends ln 2 / ln(N+1) ≈ 10 % of them for N = 1,000, the median
 * customer ~0.03 %), half under the customer key (`customer-<rank>`) and half under its usage-attribution
 * subject (`subject-<rank>`), with `data = {model}`. Deterministic (`setseed`); one statement per million.
 */
export async function seedZipfEvents(
  conn: Connection,
  opts: { count: number; customers: number; type: string; from: string; to: string },
  onChunk?: (done: number) => void,
): Promise<void> {
  const { count, customers, type, from, to } = opts;
  await conn.execute('select setseed(0.42)');
  const chunk = 1_000_000;
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk) - 1;
    // rank = floor((N+1)^u) is a continuous Zipf (s = 1) over 1..N (`+ i * 0`: a new draw per row)
    await conn.execute(
      `insert into events (source, id, type, subject, time, data, specversion)
       select 'bench', i::text, ?,
         case when i % 2 = 0 then 'customer-' else 'subject-' end || r.rank,
         ?::timestamptz + (?::timestamptz - ?::timestamptz) * (i::float8 / ?::float8),
         jsonb_build_object('model', case when i % 3 = 0 then 'large' else 'small' end), '1.0'
       from generate_series(?::bigint, ?::bigint) i,
         lateral (select least(?::int, floor(power(?::float8 + 1, random() + i * 0))::int) as rank) r`,
      [type, from, to, from, count, start, end, customers, customers],
    );
    onChunk?.(end + 1);
  }
}
