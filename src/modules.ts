/**
 * The domain modules. Each owns its entities, migrations, service and routes (see src/<domain>/module.ts);
 * this list is the only place that knows them all.
 */
import type { EntitySchema } from '@mikro-orm/core';
import type { Router } from 'express';
import type { MigrationEntry } from './db/orm';
import type { AppDeps } from './deps';
import { customersModule } from './customers/module';
import { meteringModule } from './metering/module';
import { catalogModule } from './catalog/module';
import { subscriptionsModule } from './subscriptions/module';
import { billingModule } from './billing/module';
import { entitlementsModule } from './entitlements/module';

export interface DomainModule {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  entities: EntitySchema<any, any>[];
  migrations: MigrationEntry[];
  /** routes mounted under /v3/openmeter (authenticated) */
  routes?: (deps: AppDeps) => Router;
}

// Registered in dependency order (referenced tables first).
export const modules: DomainModule[] = [
  customersModule,
  meteringModule,
  catalogModule,
  subscriptionsModule,
  billingModule,
  entitlementsModule,
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const allEntities = (): EntitySchema<any, any>[] => modules.flatMap((m) => m.entities);
export const allMigrations = (): MigrationEntry[] => modules.flatMap((m) => m.migrations);
