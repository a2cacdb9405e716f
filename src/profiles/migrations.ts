import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

export class ProfilesInit extends Migration {
  override up(): void {
    this.addSql(`
      create table billing_profiles (
        id text primary key,
        name text not null,
        description text,
        labels jsonb,
        supplier jsonb not null,
        workflow jsonb not null,
        apps jsonb not null,
        is_default boolean not null default false,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    // exactly one default: at most one here, and the service never leaves none (see ensureDefaultProfile)
    this.addSql(
      'create unique index billing_profiles_default_uq on billing_profiles ((true)) where is_default and deleted_at is null',
    );
    this.addSql(
      'create index billing_profiles_live_idx on billing_profiles (created_at, id) where deleted_at is null',
    );
    this.addSql(`
      create table customer_billing_overrides (
        customer_id text primary key,
        profile_id text references billing_profiles (id),
        workflow jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql(
      'create index customer_billing_overrides_profile_idx on customer_billing_overrides (profile_id, customer_id)',
    );
  }

  override down(): void {
    this.addSql('drop table if exists customer_billing_overrides');
    this.addSql('drop table if exists billing_profiles');
  }
}

export const profilesMigrations: MigrationEntry[] = [
  { name: 'm2026120210_profiles_init', class: ProfilesInit },
];
