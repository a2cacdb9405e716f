import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

/**
 * features: a feature's key is unique among live (not archived) features; the meter is referenced by id
 * without a foreign key (the service checks it exists at create time).
 *
 * plans: one row per version. Partial unique indexes enforce at most one draft and at most one active
 * version per key, so concurrent creates / publishes cannot break the invariants.
 */
export class CatalogInit extends Migration {
  override up(): void {
    this.addSql(`
      create table features (
        id text primary key,
        key text not null,
        name text not null,
        description text,
        labels jsonb,
        meter_id text,
        meter_filters jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    this.addSql('create unique index features_key_live_uq on features (key) where deleted_at is null');
    this.addSql('create index features_meter_id_idx on features (meter_id)');
    this.addSql('create index features_created_at_idx on features (created_at, id) where deleted_at is null');
    this.addSql(`
      create table plans (
        id text primary key,
        key text not null,
        version integer not null check (version >= 1),
        status text not null check (status in ('draft', 'active', 'archived')),
        name text not null,
        description text,
        labels jsonb,
        currency char(3) not null,
        billing_cadence text not null,
        pro_rating_enabled boolean not null default true,
        phases jsonb not null,
        effective_from timestamptz,
        effective_to timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz,
        unique (key, version)
      )`);
    this.addSql(
      "create unique index plans_one_draft_per_key_uq on plans (key) where status = 'draft' and deleted_at is null",
    );
    this.addSql("create unique index plans_one_active_per_key_uq on plans (key) where status = 'active'");
    this.addSql('create index plans_created_at_idx on plans (created_at, id) where deleted_at is null');
  }

  override down(): void {
    this.addSql('drop table if exists plans');
    this.addSql('drop table if exists features');
  }
}

/** OpenMeter's `unit_cost` on a feature (issue 13): stored as sent and shown; Tally does not use it yet. */
export class CatalogFeatureUnitCost extends Migration {
  override up(): void {
    this.addSql('alter table features add column unit_cost jsonb');
  }

  override down(): void {
    this.addSql('alter table features drop column unit_cost');
  }
}

/**
 * A subscription's own plan versions (issue 13): a custom plan, a catalog version with overrides, an edit.
 * Status `custom`, owned by one subscription (`owner_subscription_id`, no foreign key: the version is
 * written before its subscription), derived from `base_plan_id` (the catalog version, null for a custom
 * plan), with each item's origin (`origins`). They keep their base's key and version number, so the
 * (key, version) uniqueness and the one-draft / one-active rules count catalog versions only.
 */
export class CatalogSubscriptionVersions extends Migration {
  override up(): void {
    this.addSql(
      'alter table plans add column owner_subscription_id text, add column base_plan_id text, add column origins jsonb',
    );
    this.addSql('alter table plans drop constraint if exists plans_status_check');
    this.addSql(
      "alter table plans add constraint plans_status_check check (status in ('draft', 'active', 'archived', 'custom'))",
    );
    this.addSql(
      "alter table plans add constraint plans_custom_owner_check check ((status = 'custom') = (owner_subscription_id is not null))",
    );
    this.addSql('alter table plans drop constraint if exists plans_key_version_key');
    this.addSql(
      'create unique index plans_key_version_uq on plans (key, version) where owner_subscription_id is null',
    );
    this.addSql(
      'create index plans_owner_subscription_idx on plans (owner_subscription_id) where owner_subscription_id is not null',
    );
    this.addSql('create index plans_base_plan_idx on plans (base_plan_id) where base_plan_id is not null');
  }

  override down(): void {
    this.addSql("delete from plans where status = 'custom'");
    this.addSql('drop index if exists plans_base_plan_idx');
    this.addSql('drop index if exists plans_owner_subscription_idx');
    this.addSql('drop index if exists plans_key_version_uq');
    this.addSql('alter table plans add constraint plans_key_version_key unique (key, version)');
    this.addSql('alter table plans drop constraint if exists plans_custom_owner_check');
    this.addSql('alter table plans drop constraint if exists plans_status_check');
    this.addSql(
      "alter table plans add constraint plans_status_check check (status in ('draft', 'active', 'archived'))",
    );
    this.addSql(
      'alter table plans drop column owner_subscription_id, drop column base_plan_id, drop column origins',
    );
  }
}

/**
 * Add-ons (issue 13), versioned like plans: one `addons` row per version, at most one draft and one active
 * version per key. `plan_addons`: which add-on version a plan version offers (one live row per pair).
 */
export class CatalogAddons extends Migration {
  override up(): void {
    this.addSql(`
      create table addons (
        id text primary key,
        key text not null,
        version integer not null check (version >= 1),
        status text not null check (status in ('draft', 'active', 'archived')),
        name text not null,
        description text,
        labels jsonb,
        instance_type text not null check (instance_type in ('single', 'multiple')),
        currency char(3) not null,
        rate_cards jsonb not null,
        effective_from timestamptz,
        effective_to timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz,
        unique (key, version)
      )`);
    this.addSql(
      "create unique index addons_one_draft_per_key_uq on addons (key) where status = 'draft' and deleted_at is null",
    );
    this.addSql("create unique index addons_one_active_per_key_uq on addons (key) where status = 'active'");
    this.addSql('create index addons_created_at_idx on addons (created_at, id) where deleted_at is null');
    this.addSql(`
      create table plan_addons (
        id text primary key,
        plan_id text not null references plans (id),
        addon_id text not null references addons (id),
        name text not null,
        description text,
        labels jsonb,
        from_plan_phase text not null,
        max_quantity integer check (max_quantity >= 1),
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    this.addSql(
      'create unique index plan_addons_live_uq on plan_addons (plan_id, addon_id) where deleted_at is null',
    );
    this.addSql('create index plan_addons_addon_idx on plan_addons (addon_id)');
  }

  override down(): void {
    this.addSql('drop table if exists plan_addons');
    this.addSql('drop table if exists addons');
  }
}

export const catalogMigrations: MigrationEntry[] = [
  { name: 'm2026112130_catalog_init', class: CatalogInit },
  { name: 'm2026120214_catalog_feature_unit_cost', class: CatalogFeatureUnitCost },
  { name: 'm2026120215_catalog_subscription_versions', class: CatalogSubscriptionVersions },
  { name: 'm2026120216_catalog_addons', class: CatalogAddons },
];
