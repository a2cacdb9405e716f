import type { DomainModule } from '../modules';
import { FeatureEntity, PlanEntity } from './entities';
import { catalogMigrations } from './migrations';
import { catalogRoutes } from './routes';

export const catalogModule: DomainModule = {
  name: 'catalog',
  entities: [FeatureEntity, PlanEntity],
  migrations: catalogMigrations,
  routes: catalogRoutes,
};
