import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';
import { SANDBOX_APP_ID } from './types';

/**
 * Installed apps and what they keep.
 * - `apps`: one row per installed app (soft-deleted: invoices keep naming an uninstalled app). `settings` is
 *   what the API shows; `secrets` (API keys, webhook signing secrets) is write-only: no view reads it.
 *   The sandbox app is installed here with its fixed id (profiles and invoices already name it).
 * - `app_customer_data`: per app and customer (the Stripe customer id, its default payment method).
 * - `app_invoice_sync`: per app and invoice, how far the app's side of the invoice got (the Stripe invoice,
 *   finalized, collected): each step is checked here before it calls out, so it calls once.
 * - `app_webhook_events`: the provider's events already applied (by event id): a duplicate changes nothing.
 */
export class AppsInit extends Migration {
  override up(): void {
    this.addSql(`
      create table apps (
        id text primary key,
        type text not null,
        name text not null,
        description text,
        labels jsonb,
        status text not null default 'ready',
        settings jsonb not null default '{}'::jsonb,
        secrets jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    this.addSql('create index apps_live_idx on apps (created_at, id) where deleted_at is null');
    this.addSql(
      `insert into apps (id, type, name, description) values ('${SANDBOX_APP_ID}', 'sandbox', 'Sandbox',
        'The built-in sandbox app: invoices and payments without a payment provider')`,
    );
    this.addSql(`
      create table app_customer_data (
        app_id text not null references apps (id),
        customer_id text not null,
        data jsonb not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (app_id, customer_id)
      )`);
    this.addSql(`
      create table app_invoice_sync (
        app_id text not null references apps (id),
        invoice_id text not null,
        external_id text,
        lines_added_at timestamptz,
        finalized_at timestamptz,
        collected_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (app_id, invoice_id)
      )`);
    this.addSql('create unique index app_invoice_sync_external_uq on app_invoice_sync (app_id, external_id)');
    this.addSql(`
      create table app_webhook_events (
        app_id text not null references apps (id),
        event_id text not null,
        type text not null,
        invoice_id text,
        outcome text not null,
        received_at timestamptz not null default now(),
        primary key (app_id, event_id)
      )`);
  }

  override down(): void {
    this.addSql('drop table if exists app_webhook_events');
    this.addSql('drop table if exists app_invoice_sync');
    this.addSql('drop table if exists app_customer_data');
    this.addSql('drop table if exists apps');
  }
}

export const appsMigrations: MigrationEntry[] = [{ name: 'm2026120212_apps_init', class: AppsInit }];
