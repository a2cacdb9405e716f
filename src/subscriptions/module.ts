import type { DomainModule } from '../modules';
import { Subscription } from './entities';
import { subscriptionsMigrations } from './migrations';
import { subscriptionRoutes } from './routes';

export const subscriptionsModule: DomainModule = {
  name: 'subscriptions',
  entities: [Subscription],
  migrations: subscriptionsMigrations,
  routes: subscriptionRoutes,
};
