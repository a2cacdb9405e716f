import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

/**
 * Subscription add-ons (issue 13): an add-on bought by a subscription (`subscription_addons`, with how its
 * rate cards apply to each phase) and its quantity timeline (`subscription_addon_quantities`: one row per
 * change, in force from `active_from`, with the subscription's own plan version that carries it). The
 * add-on version is referenced by id without a foreign key (catalog's table; the service checks it).
 */
export class SubscriptionAddons extends Migration {
  override up(): void {
    this.addSql(`
      create table subscription_addons (
        id text primary key,
        subscription_id text not null references subscriptions (id) on delete cascade,
        addon_id text not null,
        plan_addon_id text,
        labels jsonb,
        application jsonb not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql(
      'create unique index subscription_addons_one_per_addon_uq on subscription_addons (subscription_id, addon_id)',
    );
    this.addSql(`
      create table subscription_addon_quantities (
        subscription_addon_id text not null references subscription_addons (id) on delete cascade,
        active_from timestamptz not null,
        quantity integer not null check (quantity >= 0),
        plan_version_id text not null,
        created_at timestamptz not null default now(),
        primary key (subscription_addon_id, active_from)
      )`);
  }

  override down(): void {
    this.addSql('drop table if exists subscription_addon_quantities');
    this.addSql('drop table if exists subscription_addons');
  }
}

export const subscriptionAddonMigrations: MigrationEntry[] = [
  { name: 'm2026120217_subscription_addons', class: SubscriptionAddons },
];
