import type { DomainModule } from '../modules';
import { Customer, CustomerSubject } from './entities';
import { customersMigrations } from './migrations';
import { customerRoutes } from './routes';

export const customersModule: DomainModule = {
  name: 'customers',
  entities: [Customer, CustomerSubject],
  migrations: customersMigrations,
  routes: customerRoutes,
};
