import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

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

/**
 * Ownership windows (issue 9 item 6): when a customer's key or subject was owned by an earlier customer,
 * the new owner owns it only from the instant the earlier owner let it go. `owned_from` (NULL = first owner)
 * on `customers` (for the key) and `customer_subjects`; the ended windows of released subjects in
 * `customer_subject_releases`; a deleted customer's key window ends at its `deleted_at`.
 * Back-fill: keys and live subjects that a deleted customer held as its key are owned from that
 * customer's deletion (subjects released before this migration left no trace and stay unbounded).
 */
export class CustomersOwnership extends Migration {
  override up(): void {
    this.addSql('alter table customers add column owned_from timestamptz');
    this.addSql('alter table customer_subjects add column owned_from timestamptz');
    this.addSql(`
      create table customer_subject_releases (
        customer_id text not null references customers (id) on delete cascade,
        subject_key text not null,
        owned_from timestamptz,
        released_at timestamptz not null
      )`);
    this.addSql(
      'create index customer_subject_releases_subject_idx on customer_subject_releases (subject_key, released_at)',
    );
    this.addSql(
      'create index customer_subject_releases_customer_idx on customer_subject_releases (customer_id)',
    );
    this.addSql(
      'create index customers_key_deleted_idx on customers (key, deleted_at) where deleted_at is not null',
    );
    this.addSql(`
      update customers c set owned_from = (
        select max(o.deleted_at) from customers o
         where o.key = c.key and o.id <> c.id and o.deleted_at is not null and o.deleted_at <= c.created_at)`);
    this.addSql(`
      update customer_subjects s set owned_from = (
        select max(o.deleted_at) from customers o where o.key = s.subject_key and o.deleted_at is not null)`);
  }

  override down(): void {
    this.addSql('drop index if exists customers_key_deleted_idx');
    this.addSql('drop table if exists customer_subject_releases');
    this.addSql('alter table customer_subjects drop column owned_from');
    this.addSql('alter table customers drop column owned_from');
  }
}

export const customersMigrations: MigrationEntry[] = [
  { name: 'm2026112110_customers_init', class: CustomersInit },
  { name: 'm2026120202_customers_ownership', class: CustomersOwnership },
];
