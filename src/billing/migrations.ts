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

/**
 * The invoice lifecycle (issue 11): an invoice is created as a draft by the subscription's hand-over and
 * carried to paid by its own workflow (`invoice-<id>`). Additive:
 * - statuses as OpenMeter (`draft` … `voided`, plus `deleted` for deleted drafts); `failure` holds the step
 *   that failed (`issuing`, `payment`) with its message, shown as `status_details.failed`.
 * - `number` is the issued number, null until issued; a draft carries `draft_number` (`DRAFT-000001`, from a
 *   sequence: drafts may skip numbers, issued invoices never do).
 * - `invoice_number_counter`: one row per billing profile (`name` = the profile id) with its `prefix`; the
 *   existing row becomes the default profile's (`default`). A number is unique within its profile
 *   (`unique (profile_id, number)`): profiles tell their invoices apart by their prefixes.
 * - snapshots taken at creation: `profile_id`, `supplier`, `workflow`, `apps`; `source` is what the
 *   subscription handed over (the billed periods), so that a draft's usage lines can be re-rated.
 * - the dates (`draft_until`, `issued_at` now nullable, `due_at`, `collection_at`, `sent_to_customer_at`,
 *   `quantity_snapshotted_at`, `voided_at`, `paid_at`), `payment_handed_over_at` (the hand-over to the
 *   payment app, recorded before anything else happens to it: it happens once), `description`, `labels`,
 *   `external_references`, `validation_issues`.
 * - lines: `manual` (added by a user on a draft), `rate_card` (snapshot), `detailed_lines` (one per tier or
 *   flat part, from the pricer).
 * Existing invoices stay `issued`: their quantities count as snapshotted when they were issued, their
 * workflow snapshot is the default profile's (auto advance, no draft period, charged automatically), and
 * they count as handed over (`payment_handed_over_at` = `issued_at`), so that no payment app charges them
 * now: they can still be voided (their workflow is started on the first action).
 */
export class BillingInvoiceLifecycle extends Migration {
  override up(): void {
    this.addSql(`alter table invoices drop constraint if exists invoices_status_check`);
    this.addSql(`
      alter table invoices
        add constraint invoices_status_check check (status in ('draft', 'issuing', 'issued',
          'payment_processing', 'paid', 'overdue', 'uncollectible', 'voided', 'deleted')),
        alter column number drop not null,
        alter column issued_at drop not null,
        add column draft_number text unique,
        add column profile_id text not null default 'default',
        add column supplier jsonb not null default '{}'::jsonb,
        add column workflow jsonb,
        add column apps jsonb,
        add column source jsonb,
        add column draft_until timestamptz,
        add column due_at timestamptz,
        add column collection_at timestamptz,
        add column sent_to_customer_at timestamptz,
        add column quantity_snapshotted_at timestamptz,
        add column voided_at timestamptz,
        add column paid_at timestamptz,
        add column deleted_at timestamptz,
        add column payment_handed_over_at timestamptz,
        add column description text,
        add column labels jsonb not null default '{}'::jsonb,
        add column external_references jsonb not null default '{}'::jsonb,
        add column validation_issues jsonb not null default '[]'::jsonb,
        add column failure jsonb`);
    this.addSql(`
      update invoices set
        quantity_snapshotted_at = issued_at,
        collection_at = issued_at,
        payment_handed_over_at = issued_at,
        workflow = '{"collection": {"alignment": {"type": "subscription"}, "interval": "PT1H"},
          "invoicing": {"auto_advance": true, "draft_period": "P0D"},
          "payment": {"collection_method": "charge_automatically"}}'::jsonb
      where workflow is null`);
    this.addSql(`alter table invoices add constraint invoices_issued_numbered check (
      (number is null) = (issued_at is null) and (number is not null or draft_number is not null))`);
    // numbers are unique within their profile's sequence (each profile counts from 1 with its own prefix)
    this.addSql('alter table invoices drop constraint invoices_number_key');
    this.addSql(
      'alter table invoices add constraint invoices_profile_number_key unique (profile_id, number)',
    );
    this.addSql('create index invoices_status_idx on invoices (status, created_at, id)');
    this.addSql('create index invoices_issued_at_idx on invoices (issued_at, id)');
    this.addSql('create sequence invoice_draft_number_seq start 1');
    this.addSql(`alter table invoice_number_counter add column prefix text not null default 'INV-'`);
    this.addSql(`update invoice_number_counter set name = 'default' where name = 'invoices'`);
    this.addSql(`
      alter table invoice_lines
        add column manual boolean not null default false,
        add column rate_card jsonb,
        add column detailed_lines jsonb not null default '[]'::jsonb`);
    this.addSql(`
      update invoice_lines set rate_card = jsonb_strip_nulls(jsonb_build_object('price', price,
          'feature_key', feature_key))
       where rate_card is null`);
  }

  override down(): void {
    this.addSql(
      'alter table invoice_lines drop column manual, drop column rate_card, drop column detailed_lines',
    );
    this.addSql(`update invoice_number_counter set name = 'invoices' where name = 'default'`);
    this.addSql(`delete from invoice_number_counter where name <> 'invoices'`);
    this.addSql('alter table invoice_number_counter drop column prefix');
    this.addSql('drop sequence if exists invoice_draft_number_seq');
    this.addSql(`delete from invoices where number is null`);
    this.addSql('alter table invoices drop constraint invoices_profile_number_key');
    this.addSql('alter table invoices add constraint invoices_number_key unique (number)');
    this.addSql(
      `update invoices set status = 'issued' where status not in ('draft', 'issued', 'paid', 'voided')`,
    );
    this.addSql(`
      alter table invoices drop constraint invoices_issued_numbered, drop constraint invoices_status_check,
        add constraint invoices_status_check check (status in ('draft', 'issued', 'paid', 'voided')),
        alter column number set not null, alter column issued_at set not null,
        drop column draft_number, drop column profile_id, drop column supplier, drop column workflow,
        drop column apps, drop column source, drop column draft_until, drop column due_at,
        drop column collection_at, drop column sent_to_customer_at, drop column quantity_snapshotted_at,
        drop column voided_at, drop column paid_at, drop column deleted_at, drop column payment_handed_over_at,
        drop column description, drop column labels, drop column external_references,
        drop column validation_issues, drop column failure`);
    this.addSql('drop index if exists invoices_status_idx');
    this.addSql('drop index if exists invoices_issued_at_idx');
  }
}

/**
 * Consolidation (issue 11): the customer's pending lines (a subscription's billed period handed over, a
 * one-off charge), gathered by the customer's collection workflow onto one draft per currency.
 * - `line_key` is the idempotency key (`<subscription>:<period start>`, a charge's id): a retried or
 *   replayed hand-over finds its line.
 * - `collect_at`: when the line is gathered (its `invoice_at` by the customer's collection alignment, plus
 *   the collection interval); `invoice_id` once gathered (a line rides on one invoice only).
 * - Invoice lines say which pending line and subscription they came from (`source_key`, `subscription_id`):
 *   a gathered invoice holds several subscriptions' lines.
 */
export class BillingPendingLines extends Migration {
  override up(): void {
    this.addSql(`
      create table billing_pending_lines (
        id text primary key,
        line_key text not null unique,
        customer_id text not null,
        kind text not null check (kind in ('subscription', 'charge')),
        currency text not null,
        subscription_id text,
        invoice_at timestamptz not null,
        collect_at timestamptz not null,
        source jsonb,
        name text,
        description text,
        amount numeric,
        service_period_from timestamptz,
        service_period_to timestamptz,
        invoice_id text,
        deleted_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql(`create index billing_pending_lines_due_idx on billing_pending_lines (customer_id, collect_at)
      where invoice_id is null and deleted_at is null`);
    this.addSql('alter table invoice_lines add column source_key text, add column subscription_id text');
  }

  override down(): void {
    this.addSql('alter table invoice_lines drop column source_key, drop column subscription_id');
    this.addSql('drop table if exists billing_pending_lines');
  }
}

/** A payment that did not go through (failed, action required), shown while the invoice awaits payment. */
export class BillingPaymentIssue extends Migration {
  override up(): void {
    this.addSql('alter table invoices add column payment_issue jsonb');
  }

  override down(): void {
    this.addSql('alter table invoices drop column payment_issue');
  }
}

/**
 * A one-off charge takes OpenMeter's whole `CreateChargeFlatFeeRequest` (issue 13): its `labels`, and in
 * `charge_terms` the fields Tally stores and shows without acting on them (`settlement_mode`, `payment_term`,
 * `proration_configuration`, `tax_config`, `discounts`, `unique_reference_id`, `feature_id`,
 * `full_service_period`, `billing_period`; only those given). Both null on a subscription's line.
 */
export class BillingChargeTerms extends Migration {
  override up(): void {
    this.addSql('alter table billing_pending_lines add column labels jsonb, add column charge_terms jsonb');
  }

  override down(): void {
    this.addSql('alter table billing_pending_lines drop column labels, drop column charge_terms');
  }
}

/**
 * A charge's `unique_reference_id` names at most one live charge (OpenMeter's, per namespace: here per Tally
 * instance): a client that retries a charge with the same reference gets a 409 naming the charge it already
 * made, never a second charge billed. A deleted charge frees its reference.
 */
export class BillingChargeUniqueReference extends Migration {
  override up(): void {
    this.addSql(`create unique index billing_pending_lines_charge_ref_uq
      on billing_pending_lines ((charge_terms->>'unique_reference_id'))
      where kind = 'charge' and deleted_at is null and charge_terms->>'unique_reference_id' is not null`);
  }

  override down(): void {
    this.addSql('drop index if exists billing_pending_lines_charge_ref_uq');
  }
}

/**
 * A line's `description` and `labels` (OpenMeter's `UpdateInvoiceStandardLine`): stored and shown. A line
 * priced by the rate card an update gave keeps its `tax_config` and `discounts` in `rate_card`.
 */
export class BillingLineLabels extends Migration {
  override up(): void {
    this.addSql(
      "alter table invoice_lines add column description text, add column labels jsonb not null default '{}'::jsonb",
    );
  }

  override down(): void {
    this.addSql('alter table invoice_lines drop column description, drop column labels');
  }
}

export const billingMigrations: MigrationEntry[] = [
  { name: 'm2026112150_billing_init', class: BillingInit },
  { name: 'm2026120203_billing_invoice_number_counter', class: BillingInvoiceNumberCounter },
  { name: 'm2026120210_billing_invoice_lifecycle', class: BillingInvoiceLifecycle },
  { name: 'm2026120213_billing_payment_issue', class: BillingPaymentIssue },
  { name: 'm2026120220_billing_pending_lines', class: BillingPendingLines },
  { name: 'm2026120310_billing_charge_terms', class: BillingChargeTerms },
  { name: 'm2026120311_billing_charge_unique_reference', class: BillingChargeUniqueReference },
  { name: 'm2026120312_billing_line_labels', class: BillingLineLabels },
];
