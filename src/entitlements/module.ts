import type { DomainModule } from '../modules';
import { entitlementRoutes } from './routes';

/** Entitlements are derived from subscriptions and plans: no tables of their own. */
export const entitlementsModule: DomainModule = {
  name: 'entitlements',
  entities: [],
  migrations: [],
  routes: entitlementRoutes,
};
