import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

/**
 * Idempotency keys of POST requests (see README.md in this folder). The primary key (identity, key) is what
 * decides between two concurrent requests with one key: the one whose insert wins runs, the other finds the
 * row. `expires_at` is indexed for the purge.
 */
export class IdempotencyInit extends Migration {
  override up(): void {
    this.addSql(`
      create table idempotency_keys (
        identity text not null,
        key text not null,
        method text not null,
        path text not null,
        fingerprint text not null,
        state text not null check (state in ('running', 'done')),
        response_status int,
        response_headers jsonb,
        response_body bytea,
        created_at timestamptz not null default now(),
        completed_at timestamptz,
        expires_at timestamptz not null,
        primary key (identity, key),
        check (state = 'running' or (response_status is not null and response_body is not null))
      )`);
    this.addSql('create index idempotency_keys_expires_at_idx on idempotency_keys (expires_at)');
  }

  override down(): void {
    this.addSql('drop table if exists idempotency_keys');
  }
}

export const idempotencyMigrations: MigrationEntry[] = [
  { name: 'm2026120210_idempotency_init', class: IdempotencyInit },
];
