import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/orm';

export class CustomersInit extends Migration {
  override up(): void {
    this.addSql(`
      create table customers (
        id text primary key,
        key text not null,
        name text not null,
        description text,
        primary_email text,
        currency char(3),
        billing_address jsonb,
        labels jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        deleted_at timestamptz
      )`);
    this.addSql('create unique index customers_key_live_uq on customers (key) where deleted_at is null');
    this.addSql('create index customers_name_idx on customers (name, id) where deleted_at is null');
    this.addSql(`
      create table customer_subjects (
        subject_key text primary key,
        customer_id text not null references customers (id) on delete cascade
      )`);
    this.addSql('create index customer_subjects_customer_id_idx on customer_subjects (customer_id)');
  }

  override down(): void {
    this.addSql('drop table if exists customer_subjects');
    this.addSql('drop table if exists customers');
  }
}

export const customersMigrations: MigrationEntry[] = [
  { name: 'm2026112110_customers_init', class: CustomersInit },
];
