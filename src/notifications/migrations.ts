import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

export class NotificationsInit extends Migration {
  override up(): void {
    this.addSql(`
      create table notification_channels (
        id text primary key,
        type text not null default 'webhook',
        name text not null,
        url text not null,
        signing_secret text not null,
        custom_headers jsonb not null default '{}'::jsonb,
        disabled boolean not null default false,
        metadata jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    this.addSql(`
      create table notification_rules (
        id text primary key,
        type text not null,
        name text not null,
        disabled boolean not null default false,
        channel_ids text[] not null,
        feature_keys text[],
        thresholds jsonb,
        metadata jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    // recordEvent's lookup: the live, enabled rules of one event type
    this.addSql(
      'create index notification_rules_type_idx on notification_rules (type) where deleted_at is null and not disabled',
    );
    this.addSql(`
      create table notification_events (
        id text primary key,
        type text not null,
        rule_id text not null references notification_rules (id),
        payload jsonb not null,
        feature_key text,
        customer_id text,
        created_at timestamptz not null default now()
      )`);
    this.addSql('create index notification_events_created_idx on notification_events (created_at, id)');
    this.addSql(`
      create table notification_deliveries (
        id text primary key,
        event_id text not null references notification_events (id),
        channel_id text not null references notification_channels (id),
        state text not null default 'pending',
        reason text,
        generation int not null default 1,
        dispatched_at timestamptz,
        attempts int not null default 0,
        attempt_log jsonb not null default '[]'::jsonb,
        last_status_code int,
        last_response text,
        next_attempt_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (event_id, channel_id)
      )`);
    // the dispatcher's and the sweeper's work list: deliveries whose workflow is not started yet
    this.addSql(
      'create index notification_deliveries_undispatched_idx on notification_deliveries (created_at) where dispatched_at is null',
    );
    // one balance-threshold event per rule × subscription × feature × usage period × threshold
    this.addSql(`
      create table notification_threshold_marks (
        rule_id text not null references notification_rules (id),
        subscription_id text not null,
        feature_key text not null,
        period_from timestamptz not null,
        threshold text not null,
        event_id text not null,
        created_at timestamptz not null default now(),
        primary key (rule_id, subscription_id, feature_key, period_from, threshold)
      )`);
  }

  override down(): void {
    for (const t of [
      'notification_threshold_marks',
      'notification_deliveries',
      'notification_events',
      'notification_rules',
      'notification_channels',
    ])
      this.addSql(`drop table if exists ${t}`);
  }
}

/** `entitlements.reset`: one row per subscription × feature × usage period that rolled over (issue 12). */
export class NotificationResetMarks extends Migration {
  override up(): void {
    this.addSql(`
      create table notification_reset_marks (
        subscription_id text not null,
        feature_key text not null,
        period_from timestamptz not null,
        created_at timestamptz not null default now(),
        primary key (subscription_id, feature_key, period_from)
      )`);
  }

  override down(): void {
    this.addSql('drop table if exists notification_reset_marks');
  }
}

export const notificationsMigrations: MigrationEntry[] = [
  { name: 'm2026120250_notifications_init', class: NotificationsInit },
  { name: 'm2026120260_notifications_reset_marks', class: NotificationResetMarks },
];
