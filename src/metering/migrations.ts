import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

/**
 * Events are append-mostly and can reach tens of millions of rows, so indexes are few:
 * - primary key (source, id): deduplication (`insert ... on conflict do nothing`);
 * - (type, subject, time): every meter query filters on event_type, usually on a set of subjects
 *   (a customer's) and a half-open time range;
 * - (subject, time): event listing by subject / customer;
 * - (time): the default event listing (newest first, keyset pagination).
 */
export class MeteringInit extends Migration {
  override up(): void {
    this.addSql(`
      create table events (
        source text not null,
        id text not null,
        type text not null,
        subject text not null,
        time timestamptz not null,
        data jsonb,
        specversion text not null default '1.0',
        datacontenttype text,
        dataschema text,
        ingested_at timestamptz not null default now(),
        stored_at timestamptz not null default now(),
        seq bigint generated always as identity,
        primary key (source, id)
      )`);
    this.addSql('create index events_type_subject_time_idx on events (type, subject, time)');
    this.addSql('create index events_subject_time_idx on events (subject, time)');
    this.addSql('create index events_time_idx on events (time)');
    this.addSql(`
      create table meters (
        id text primary key,
        key text not null,
        name text not null,
        description text,
        labels jsonb,
        aggregation text not null
          check (aggregation in ('sum', 'count', 'unique_count', 'avg', 'min', 'max', 'latest')),
        event_type text not null,
        value_property text,
        dimensions jsonb not null default '{}'::jsonb,
        events_from timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    this.addSql('create unique index meters_key_live_uq on meters (key) where deleted_at is null');
    this.addSql('create index meters_created_at_idx on meters (created_at, id) where deleted_at is null');
  }

  override down(): void {
    this.addSql('drop table if exists meters');
    this.addSql('drop table if exists events');
  }
}

/**
 * Meter queries read `data` (the value and the dimensions) of every matching event. A large customer's
 * events are spread over the whole time-ordered heap (10% of the traffic → nearly every heap page of the
 * period), so fetching `data` from the heap dominated (`npm run bench -- query`, BENCHMARKS.md). The
 * (type, subject, time) index now carries `data`: a meter query becomes an index-only scan over the
 * customer's contiguous index range. It replaces the old index (same key columns), so ingestion still
 * maintains four indexes.
 *
 * On a large existing table, build the index beforehand without blocking ingestion —
 * `create index concurrently events_type_subject_time_data_idx on events (type, subject, time) include (data)`
 * — the migration then only drops the old one (migrations run in one transaction, where `concurrently` is
 * not allowed).
 */
export class MeteringCoveringIndex extends Migration {
  override up(): void {
    this.addSql(
      'create index if not exists events_type_subject_time_data_idx on events (type, subject, time) include (data)',
    );
    this.addSql('drop index if exists events_type_subject_time_idx');
  }

  override down(): void {
    this.addSql('create index events_type_subject_time_idx on events (type, subject, time)');
    this.addSql('drop index events_type_subject_time_data_idx');
  }
}

/**
 * A btree index entry holds at most ~2,704 bytes, so the covering index (type, subject, time) include (data)
 * could not take an event whose type, subject and data together were larger: its insert failed, and the
 * whole batch with it. Now each row says whether it is `wide` (set once, by the insert: type + subject +
 * data over 2,600 bytes uncompressed), and the index is split in two partial indexes:
 * - `events_narrow_type_subject_time_data_idx`: the covering index, for every row that is not wide
 *   (nearly all: meter queries stay index-only scans);
 * - `events_wide_type_subject_time_idx`: (type, subject, time) only, for the wide rows (their data is read
 *   from the heap). Type and subject are at most 1,024 bytes each, so this entry always fits.
 * A meter query reads both halves (`union all`, see `buildMeterQuery`). Every row stored before this
 * migration fitted the old index, so `wide = false` (the column default, no table rewrite) is right for it.
 *
 * On a large table, build the new indexes beforehand without blocking ingestion (after adding the column):
 * `create index concurrently events_narrow_type_subject_time_data_idx on events (type, subject, time)
 * include (data) where not wide` and `create index concurrently events_wide_type_subject_time_idx on events
 * (type, subject, time) where wide`; the migration then only drops the old index.
 */
export class MeteringWideEvents extends Migration {
  override up(): void {
    this.addSql('alter table events add column if not exists wide boolean not null default false');
    this.addSql(
      `create index if not exists events_narrow_type_subject_time_data_idx on events (type, subject, time)
         include (data) where not wide`,
    );
    this.addSql(
      'create index if not exists events_wide_type_subject_time_idx on events (type, subject, time) where wide',
    );
    this.addSql('drop index if exists events_type_subject_time_data_idx');
  }

  override down(): void {
    this.addSql(
      'create index events_type_subject_time_data_idx on events (type, subject, time) include (data)',
    );
    this.addSql('drop index events_wide_type_subject_time_idx');
    this.addSql('drop index events_narrow_type_subject_time_data_idx');
    this.addSql('alter table events drop column wide');
  }
}

/**
 * Exact rollups (`rollups.ts`): per meter, subject, hour (UTC) and the values of the meter's dimensions,
 * what every aggregation but `unique_count` needs to merge buckets exactly: the number of counted events
 * (`n`), their sum, minimum and maximum (`numeric`, exact), the earliest counted event's time (a query's
 * default `from`) and the latest one's value with its (time, seq). A meter query reads rollups for the
 * whole hours of its window that are covered, and raw events for the rest (`query.ts`).
 *
 * `meter_rollup_state` holds, per meter, the dimensions the rollup rows were built with (`dims_key`; a
 * meter whose dimensions changed is rebuilt, and until then queries read raw events), `roll_to` (an
 * ingested event older than this is added to the rollups by the ingest statement itself) and `covered_to`
 * (queries may use rollup hours before it). See `rollups.ts` for the protocol that makes them exact.
 */
export class MeteringRollups extends Migration {
  override up(): void {
    this.addSql(`
      create table meter_rollup_state (
        meter_id text primary key,
        event_type text not null,
        aggregation text not null,
        value_path text[],
        dim_paths text[] not null,
        dims_key text not null,
        events_from timestamptz,
        roll_to timestamptz not null default '-infinity',
        covered_to timestamptz not null default '-infinity',
        pending_seq bigint,
        purge boolean not null default false,
        updated_at timestamptz not null default now()
      )`);
    this.addSql('create index meter_rollup_state_type_idx on meter_rollup_state (event_type)');
    this.addSql(`
      create table meter_rollups (
        meter_id text not null,
        subject text not null,
        hour timestamptz not null,
        dims text[] not null,
        n bigint not null,
        s numeric,
        mn numeric,
        mx numeric,
        t_min timestamptz not null,
        l_time timestamptz,
        l_seq bigint,
        l_val numeric,
        primary key (meter_id, subject, hour, dims)
      ) with (fillfactor = 90)`);
  }

  override down(): void {
    this.addSql('drop table if exists meter_rollups');
    this.addSql('drop table if exists meter_rollup_state');
  }
}

/**
 * Exact `unique_count` rollups (`rollups.ts`): per meter, UTC calendar month, subject, dimension values and
 * distinct value (`data #>> value_property`, as the raw statement counts it), the hours of the month in
 * which at least one event carried that value (`hours`, bit i = hour i of the month, 744 bits: 31 days) and
 * the earliest such event's time. A window's distinct count is then the number of distinct values whose
 * bits meet the window's whole covered hours, plus the values of the raw events at its edges. The key
 * starts with the month so that a query over every subject seeks as well as one over a customer's.
 */
export class MeteringUniqueRollups extends Migration {
  override up(): void {
    this.addSql(`
      create table meter_rollup_values (
        meter_id text not null,
        month timestamptz not null,
        subject text not null,
        dims text[] not null,
        value text not null,
        hours bit(744) not null,
        t_min timestamptz not null,
        primary key (meter_id, month, subject, dims, value)
      ) with (fillfactor = 90)`);
  }

  override down(): void {
    this.addSql('drop table if exists meter_rollup_values');
  }
}

export const meteringMigrations: MigrationEntry[] = [
  { name: 'm2026112120_metering_init', class: MeteringInit },
  { name: 'm2026112121_metering_covering_index', class: MeteringCoveringIndex },
  { name: 'm2026120201_metering_wide_events', class: MeteringWideEvents },
  { name: 'm2026120320_metering_rollups', class: MeteringRollups },
  { name: 'm2026120402_metering_unique_rollups', class: MeteringUniqueRollups },
];
