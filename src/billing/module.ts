import type { DomainModule } from '../modules';
import { Invoice, InvoiceLine } from './entities';
import { billingMigrations } from './migrations';
import { billingRoutes } from './routes';

export const billingModule: DomainModule = {
  name: 'billing',
  entities: [Invoice, InvoiceLine],
  migrations: billingMigrations,
  routes: billingRoutes,
};
