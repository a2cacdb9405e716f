import { Migration } from '@mikro-orm/migrations';
import type { MigrationEntry } from '../db/migration';

/**
 * subscriptions: one row per subscription, kept in step with its workflow (`workflow_id`). `plan_id` is the
 * plan version row in force now; billing's preview reads customer_id, plan_id, status, active_from,
 * current_period_start/end and phase_key.
 */
export class SubscriptionsInit extends Migration {
  override up(): void {
    this.addSql(`
      create table subscriptions (
        id text primary key,
        customer_id text not null references customers (id),
        customer_key text not null,
        plan_id text not null references plans (id),
        plan_key text not null,
        plan_version integer not null,
        status text not null check (status in ('active', 'canceled')),
        billing_anchor timestamptz not null,
        active_from timestamptz not null,
        active_to timestamptz,
        phase_key text not null,
        phase_started_at timestamptz not null,
        current_period_start timestamptz,
        current_period_end timestamptz,
        pending_change jsonb,
        workflow_id text not null unique,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql('create index subscriptions_customer_idx on subscriptions (customer_id, active_from, id)');
    this.addSql('create index subscriptions_plan_key_idx on subscriptions (plan_key, active_from, id)');
    this.addSql('create index subscriptions_active_from_idx on subscriptions (active_from, id)');
  }

  override down(): void {
    this.addSql('drop table if exists subscriptions');
  }
}

/**
 * `next_period_end`: set by the workflow when the current period will simply roll over into the next one
 * (same plan, phase and status, nothing scheduled). The workflow then skips waking at the boundary and
 * records the new period together with the invoice, after the collection period; until then readers roll
 * the period forward themselves (`currentPeriodOf`). Null when something happens at the boundary.
 */
export class SubscriptionsNextPeriodEnd extends Migration {
  override up(): void {
    this.addSql('alter table subscriptions add column next_period_end timestamptz');
  }

  override down(): void {
    this.addSql('alter table subscriptions drop column next_period_end');
  }
}

/**
 * `invoice_failure`: set by the workflow while issuing one of the subscription's invoices keeps failing
 * (invoice key, failed tries, since, last error, next try), cleared when it is issued (issue 9, item 1).
 */
export class SubscriptionsInvoiceFailure extends Migration {
  override up(): void {
    this.addSql('alter table subscriptions add column invoice_failure jsonb');
  }

  override down(): void {
    this.addSql('alter table subscriptions drop column invoice_failure');
  }
}

/**
 * OpenMeter's `labels`, `settlement_mode` and `cost_basis_mode` on a subscription (issue 13): stored as sent
 * and shown; Tally bills every subscription the same way whatever the two modes say (see the README).
 */
export class SubscriptionsLabels extends Migration {
  override up(): void {
    this.addSql(
      'alter table subscriptions add column labels jsonb, add column settlement_mode text, add column cost_basis_mode text',
    );
  }

  override down(): void {
    this.addSql(
      'alter table subscriptions drop column labels, drop column settlement_mode, drop column cost_basis_mode',
    );
  }
}

/** `scheduled` (issue 13): created with `active_from` in the future; the workflow activates it then. */
export class SubscriptionsScheduled extends Migration {
  override up(): void {
    this.addSql('alter table subscriptions drop constraint if exists subscriptions_status_check');
    this.addSql(
      "alter table subscriptions add constraint subscriptions_status_check check (status in ('scheduled', 'active', 'canceled'))",
    );
  }

  override down(): void {
    this.addSql('alter table subscriptions drop constraint if exists subscriptions_status_check');
    this.addSql(
      "alter table subscriptions add constraint subscriptions_status_check check (status in ('active', 'canceled'))",
    );
  }
}

/**
 * `plan_since` (issue 13): when the current plan version took effect (the start, a change, a migration or
 * an edit), written by the workflow; the timeline shows an edit's items from then on.
 */
export class SubscriptionsPlanSince extends Migration {
  override up(): void {
    this.addSql('alter table subscriptions add column plan_since timestamptz');
  }

  override down(): void {
    this.addSql('alter table subscriptions drop column plan_since');
  }
}

/**
 * `subscription_plan_segments` (issue 13, the timeline): which plan version was in force from when. One row
 * per version switch (the start, a change, a migration, an edit), keyed by its instant `since`, with the
 * phase in force at that instant and when that phase started (a migration or an edit keeps the phase and
 * its start). Written with the row: at creation by the API, at each switch by the workflow's
 * `recordPeriod` (idempotent: a retried or replayed activity writes the same row). A segment runs until
 * the next one's `since`. Subscriptions from before this table have none until their version changes.
 */
export class SubscriptionPlanSegments extends Migration {
  override up(): void {
    this.addSql(`
      create table subscription_plan_segments (
        subscription_id text not null references subscriptions (id) on delete cascade,
        since timestamptz not null,
        plan_id text not null references plans (id),
        phase_key text not null,
        phase_started_at timestamptz not null,
        created_at timestamptz not null default now(),
        primary key (subscription_id, since)
      )`);
  }

  override down(): void {
    this.addSql('drop table if exists subscription_plan_segments');
  }
}

export const subscriptionsMigrations: MigrationEntry[] = [
  { name: 'm2026112140_subscriptions_init', class: SubscriptionsInit },
  { name: 'm2026112141_subscriptions_next_period_end', class: SubscriptionsNextPeriodEnd },
  { name: 'm2026120203_subscriptions_invoice_failure', class: SubscriptionsInvoiceFailure },
  { name: 'm2026120213_subscriptions_labels', class: SubscriptionsLabels },
  { name: 'm2026120214_subscriptions_scheduled', class: SubscriptionsScheduled },
  { name: 'm2026120216_subscriptions_plan_since', class: SubscriptionsPlanSince },
  { name: 'm2026120310_subscription_plan_segments', class: SubscriptionPlanSegments },
];
