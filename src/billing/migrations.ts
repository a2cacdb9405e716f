import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/orm';

/**
 * Invoices and their lines.
 * - `invoice_key` is the issuer's idempotency key (unique): a retried or replayed workflow activity finds the
 *   invoice it already issued instead of issuing another one.
 * - `number` comes from a sequence (`INV-000001`, …).
 * - No foreign keys to customers/subscriptions: an invoice is a legal record that must outlive them; the
 *   customer is snapshotted in `customer`.
 */
export class BillingInit extends Migration {
  override up(): void {
    this.addSql('create sequence invoice_number_seq start 1');
    this.addSql(`
      create table invoices (
        id text primary key,
        number text not null unique,
        invoice_key text not null unique,
        customer_id text not null,
        subscription_id text,
        currency text not null,
        status text not null default 'issued' check (status in ('draft', 'issued', 'paid', 'voided')),
        service_period_from timestamptz not null,
        service_period_to timestamptz not null,
        issued_at timestamptz not null,
        amount numeric not null,
        charges_total numeric not null default 0,
        discounts_total numeric not null default 0,
        taxes_total numeric not null default 0,
        credits_total numeric not null default 0,
        total numeric not null,
        customer jsonb not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql('create index invoices_customer_idx on invoices (customer_id, created_at, id)');
    this.addSql('create index invoices_subscription_idx on invoices (subscription_id, created_at)');
    this.addSql('create index invoices_created_at_idx on invoices (created_at, id)');
    this.addSql(`
      create table invoice_lines (
        id text primary key,
        invoice_id text not null references invoices (id) on delete cascade,
        position int not null,
        name text not null,
        feature_key text,
        rate_card_key text not null,
        kind text not null check (kind in ('usage', 'flat')),
        quantity numeric not null,
        unit_price numeric,
        price jsonb not null,
        service_period_from timestamptz not null,
        service_period_to timestamptz not null,
        amount numeric not null,
        total numeric not null,
        detail jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (invoice_id, position)
      )`);
  }

  override down(): void {
    this.addSql('drop table if exists invoice_lines');
    this.addSql('drop table if exists invoices');
    this.addSql('drop sequence if exists invoice_number_seq');
  }
}

export const billingMigrations: MigrationEntry[] = [{ name: 'm2026112150_billing_init', class: BillingInit }];
