import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

/**
 * Invoices and their lines.
 * - `invoice_key` is the issuer's idempotency key (unique): a retried or replayed workflow activity finds the
 *   invoice it already issued instead of issuing another one.
 * - `number` (`INV-000001`, …) came from a sequence; since m2026120203 from a counter row (gapless).
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

/**
 * Gapless invoice numbers (issue 9): a sequence value is spent by a transaction that rolls back (a worker
 * killed mid-issue), so numbers skipped. The number now comes from one counter row, incremented in the
 * same transaction (the same statement) as the invoice insert: a rollback undoes the increment too.
 * The counter starts at the highest number issued so far; the sequence is dropped.
 */
export class BillingInvoiceNumberCounter extends Migration {
  override up(): void {
    this.addSql(`
      create table invoice_number_counter (
        name text primary key,
        last_value bigint not null check (last_value >= 0)
      )`);
    this.addSql(`
      insert into invoice_number_counter (name, last_value)
      select 'invoices', coalesce(max(substring(number from 5)::bigint), 0)
        from invoices where number ~ '^INV-[0-9]+$'`);
    this.addSql('drop sequence if exists invoice_number_seq');
  }

  override down(): void {
    this.addSql('create sequence invoice_number_seq start 1');
    this.addSql(`
      select setval('invoice_number_seq', last_value, last_value > 0)
        from invoice_number_counter where name = 'invoices' and last_value > 0`);
    this.addSql('drop table if exists invoice_number_counter');
  }
}

export const billingMigrations: MigrationEntry[] = [
  { name: 'm2026112150_billing_init', class: BillingInit },
  { name: 'm2026120203_billing_invoice_number_counter', class: BillingInvoiceNumberCounter },
];
