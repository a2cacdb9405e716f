/**
 * The database layer's registry: every domain's entities and migrations, and nothing else (no routes,
 * services or workflows), so that loading the ORM loads neither Express nor a router. Imported only by
 * src/db/orm.ts, the database layer's composition root.
 */
import type { EntitySchema } from '@mikro-orm/core';
import type { MigrationEntry } from './migration';
import { AppEntity } from '../apps/entities';
import { appsMigrations } from '../apps/migrations';
import { Invoice, InvoiceLine } from '../billing/entities';
import { billingMigrations } from '../billing/migrations';
import { AddonEntity, FeatureEntity, PlanAddonEntity, PlanEntity } from '../catalog/entities';
import { IdempotencyKeyEntity } from '../idempotency/entities';
import { idempotencyMigrations } from '../idempotency/migrations';
import { catalogMigrations } from '../catalog/migrations';
import { Customer, CustomerSubject } from '../customers/entities';
import { customersMigrations } from '../customers/migrations';
import { Meter, MeterEvent } from '../metering/entities';
import { meteringMigrations } from '../metering/migrations';
import { NotificationChannelEntity, NotificationRuleEntity } from '../notifications/entities';
import { notificationsMigrations } from '../notifications/migrations';
import { BillingProfileEntity, CustomerBillingOverride } from '../profiles/entities';
import { profilesMigrations } from '../profiles/migrations';
import { Subscription, SubscriptionPlanSegment } from '../subscriptions/entities';
import { subscriptionsMigrations } from '../subscriptions/migrations';
import { SubscriptionAddonEntity, SubscriptionAddonQuantityEntity } from '../subscriptions/addon-entities';
import { subscriptionAddonMigrations } from '../subscriptions/addon-migrations';

export interface DomainSchema {
  domain: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  entities: EntitySchema<any, any>[];
  migrations: MigrationEntry[];
}

// In dependency order (referenced tables first). Entitlements are derived from subscriptions and plans:
// no tables of their own.
export const schema: DomainSchema[] = [
  { domain: 'customers', entities: [Customer, CustomerSubject], migrations: customersMigrations },
  {
    domain: 'profiles',
    entities: [BillingProfileEntity, CustomerBillingOverride],
    migrations: profilesMigrations,
  },
  { domain: 'apps', entities: [AppEntity], migrations: appsMigrations },
  { domain: 'metering', entities: [MeterEvent, Meter], migrations: meteringMigrations },
  {
    domain: 'catalog',
    entities: [FeatureEntity, PlanEntity, AddonEntity, PlanAddonEntity],
    migrations: catalogMigrations,
  },
  {
    domain: 'subscriptions',
    entities: [
      Subscription,
      SubscriptionPlanSegment,
      SubscriptionAddonEntity,
      SubscriptionAddonQuantityEntity,
    ],
    migrations: [...subscriptionsMigrations, ...subscriptionAddonMigrations],
  },
  { domain: 'billing', entities: [Invoice, InvoiceLine], migrations: billingMigrations },
  { domain: 'idempotency', entities: [IdempotencyKeyEntity], migrations: idempotencyMigrations },
  {
    domain: 'notifications',
    entities: [NotificationChannelEntity, NotificationRuleEntity],
    migrations: notificationsMigrations,
  },
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const allEntities = (): EntitySchema<any, any>[] => schema.flatMap((s) => s.entities);
export const allMigrations = (): MigrationEntry[] => schema.flatMap((s) => s.migrations);
