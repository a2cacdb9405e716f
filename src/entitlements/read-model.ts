/**
 * The entitlement access read model: a declared exception of the table-ownership check (its exception list).
 *
 * `loadAccessSources` is one SQL statement over tables of other domains: `customers` and
 * `customer_subjects` (customers), `subscriptions` (subscriptions), `plans` and `features` (catalog),
 * `meters` (metering); the customer's usage-attribution windows come from customers' `subjectWindowsSql`.
 * It is the API-gateway hot path (`POST /entitlement-access/query`, up to 100 customers per call), so it
 * stays ONE statement instead of one call per owner: going through each owner's exports would cost one
 * round trip per customer, subscription and feature.
 *
 * It reads, and never writes; it relies on these invariants of the owners:
 * - customers: a live customer has `deleted_at` null; a subject key names at most one live customer;
 * - subscriptions: `status = 'active'` and `active_from <= now < active_to` (active_to when set) is "in
 *   force", `phase_key` names the current phase of the plan version `plan_id` and `phase_started_at` when
 *   it began (the workflow's activities write these at the exact instant of each change);
 * - catalog: `plans.phases` is the jsonb array of `PlanPhase` (rate cards with `feature.id` and an
 *   optional `entitlement` template), features reference their meter by `meter_id`;
 * - metering: a meter's `aggregation`, `event_type`, `value_property`, `dimensions` and `events_from`
 *   are what the meter query (`buildMeterQuery`) needs to measure usage.
 * A change to one of these columns must update this statement (the entitlement integration tests cover it).
 */
import type { EntityManager } from '@mikro-orm/core';
import type { EntitlementTemplate, FeatureMeterFilter } from '../catalog/types';
import { usageFilters } from '../catalog/rate-cards';
import { subjectWindowsSql, windowsFromJson, type SubjectWindow } from '../customers/service';
import { execPrepared } from '../db/prepared';
import { Sql } from '../db/sql';
import { idOrKey } from '../lib/ids';
import type { Aggregation } from '../metering/entities';
import { normalizeTs, tsSql } from '../metering/time';
import type { EntitlementSource } from './evaluate';

/** How input keys name customers: `id_or_key` (the customer path) or `key_or_subject` (the access query). */
export type MatchMode = 'id_or_key' | 'key_or_subject';

export interface MeterInfo {
  id: string;
  key: string;
  aggregation: Aggregation;
  event_type: string;
  value_property: string | null;
  dimensions: Record<string, string> | null;
  events_from: string | null;
}

/** An entitlement template in force, with what measuring its usage needs. */
export interface LoadedSource extends EntitlementSource {
  /** when the subscription's current phase started (a usage period that starts before it is not a reset) */
  phase_started_at: Date;
  meter: MeterInfo | null;
  filters: Record<string, string[]> | undefined;
}

export interface LoadedCustomer {
  id: string;
  key: string;
  name: string;
  /** the customer row's own instants (OpenMeter's BillingCustomer requires them) */
  created_at: Date;
  updated_at: Date;
  /** the input keys that named this customer, in input order */
  matched: string[];
  /** the customer's names with their ownership windows: its usage */
  subjects: SubjectWindow[];
  sources: LoadedSource[];
}

interface Row {
  id: string;
  key: string;
  name: string;
  created_at: Date | string;
  updated_at: Date | string;
  matched: string[];
  subject_windows: Parameters<typeof windowsFromJson>[0];
  subscription_id: string | null;
  billing_anchor: string | null;
  active_from: string | null;
  phase_started_at: string | null;
  plan_cadence: string | null;
  rc_cadence: string | null;
  template: EntitlementTemplate | null;
  feature_key: string | null;
  meter_filters: Record<string, FeatureMeterFilter> | null;
  meter_id: string | null;
  meter_key: string | null;
  aggregation: Aggregation | null;
  event_type: string | null;
  value_property: string | null;
  dimensions: Record<string, string> | null;
  events_from: string | null;
}

const ts = (s: string): Date => new Date(normalizeTs(s));

/**
 * The customers named by `keys` with the entitlement sources in force at `now` (optionally only for
 * `featureKeys`), in input order. Unmatched keys simply name no customer. ONE SQL statement.
 */
export async function loadAccessSources(
  em: EntityManager,
  keys: string[],
  mode: MatchMode,
  now: Date,
  featureKeys?: string[],
): Promise<LoadedCustomer[]> {
  const input = [...new Set(keys)];
  if (input.length === 0) return [];
  // id_or_key: a key shaped like an id names the id only (upper-cased), any other key the key only
  const ref = (k: string) => (mode === 'id_or_key' ? idOrKey(k) : { key: k });
  const q = new Sql().add('with input (k, id, key, ord) as (values ');
  input.forEach((k, i) => {
    const r = ref(k);
    const [id, key] = 'id' in r ? [r.id, null] : [null, r.key];
    q.add(i === 0 ? '(?::text, ?::text, ?::text, ?::int)' : ', (?, ?, ?, ?)', k, id, key, i);
  });
  q.add(`), m as materialized (
      select i.k, i.ord, c.id as customer_id from input i
        join customers c on c.key = i.key and c.deleted_at is null`);
  if (mode === 'key_or_subject')
    q.add(`
      union
      select i.k, i.ord, s.customer_id from input i join customer_subjects s on s.subject_key = i.key
        join customers c on c.id = s.customer_id and c.deleted_at is null`);
  else
    q.add(`
      union
      select i.k, i.ord, c.id from input i join customers c on c.id = i.id and c.deleted_at is null`);
  q.add(
    `
    ), cust as (
      select c.id, c.key, c.name, c.created_at, c.updated_at, min(m.ord) as ord, array_agg(m.k order by m.ord) as matched,
        (select jsonb_agg(to_jsonb(sw) order by sw.subject, sw.owned_from nulls first)
          from ${subjectWindowsSql('c.id')} sw) as subject_windows
      from m join customers c on c.id = m.customer_id
      group by c.id
    ), ent as materialized (
      select s.customer_id, s.id as subscription_id, s.active_from as active_from_ts,
        ${tsSql('s.billing_anchor')} as billing_anchor, ${tsSql('s.active_from')} as active_from,
        ${tsSql('s.phase_started_at')} as phase_started_at, p.billing_cadence as plan_cadence, rc.value->>'billing_cadence' as rc_cadence,
        rc.value->'entitlement' as template, f.key as feature_key, f.meter_filters,
        mt.id as meter_id, mt.key as meter_key, mt.aggregation, mt.event_type, mt.value_property,
        mt.dimensions, ${tsSql('mt.events_from')} as events_from
      from subscriptions s
        join plans p on p.id = s.plan_id
        cross join lateral jsonb_array_elements(p.phases) ph
        cross join lateral jsonb_array_elements(ph.value->'rate_cards') rc
        join features f on f.id = rc.value->'feature'->>'id'
        left join meters mt on mt.id = f.meter_id
      where s.customer_id in (select id from cust)
        and s.status = 'active'
        and s.active_from <= ?::timestamptz
        and (s.active_to is null or s.active_to > ?::timestamptz)
        and ph.value->>'key' = s.phase_key
        and jsonb_typeof(rc.value->'entitlement') = 'object'`,
    now.toISOString(),
    now.toISOString(),
  );
  if (featureKeys) q.add(' and f.key in ').list([...new Set(featureKeys)]);
  q.add(`
    )
    select cust.id, cust.key, cust.name, cust.created_at, cust.updated_at, cust.matched, cust.subject_windows, ent.subscription_id,
      ent.billing_anchor, ent.active_from, ent.phase_started_at, ent.plan_cadence, ent.rc_cadence, ent.template, ent.feature_key,
      ent.meter_filters, ent.meter_id, ent.meter_key, ent.aggregation, ent.event_type, ent.value_property,
      ent.dimensions, ent.events_from
    from cust left join ent on ent.customer_id = cust.id
    order by cust.ord, cust.id, ent.active_from_ts, ent.subscription_id, ent.feature_key`);
  const rows = await execPrepared<Row>(em, q);

  const out = new Map<string, LoadedCustomer>();
  for (const r of rows) {
    let c = out.get(r.id);
    if (!c) {
      c = {
        id: r.id,
        key: r.key,
        name: r.name,
        created_at: new Date(r.created_at),
        updated_at: new Date(r.updated_at),
        matched: r.matched,
        subjects: windowsFromJson(r.subject_windows),
        sources: [],
      };
      out.set(r.id, c);
    }
    if (!r.subscription_id || !r.template || !r.feature_key) continue;
    const meter: MeterInfo | null =
      r.meter_id && r.aggregation && r.event_type
        ? {
            id: r.meter_id,
            key: r.meter_key ?? r.meter_id,
            aggregation: r.aggregation,
            event_type: r.event_type,
            value_property: r.value_property,
            dimensions: r.dimensions,
            events_from: r.events_from,
          }
        : null;
    c.sources.push({
      subscription_id: r.subscription_id,
      feature_key: r.feature_key,
      template: r.template,
      rate_card_cadence: r.rc_cadence,
      plan_cadence: r.plan_cadence ?? 'P1M',
      billing_anchor: ts(r.billing_anchor ?? r.active_from ?? now.toISOString()),
      active_from: ts(r.active_from ?? now.toISOString()),
      phase_started_at: ts(r.phase_started_at ?? r.active_from ?? now.toISOString()),
      meter,
      filters: usageFilters(r.meter_filters),
    });
  }
  return [...out.values()];
}
