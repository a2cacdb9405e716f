import type { DomainModule } from '../modules';
import { Meter, MeterEvent } from './entities';
import { meteringMigrations } from './migrations';
import { meteringRoutes } from './routes';

export const meteringModule: DomainModule = {
  name: 'metering',
  entities: [MeterEvent, Meter],
  migrations: meteringMigrations,
  routes: meteringRoutes,
};
