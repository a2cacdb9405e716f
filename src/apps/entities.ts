/** Installed apps (`apps`). `secrets` is write-only: it is not mapped here (read
 * only by `appSecrets` in service.ts, for the app's own calls), so no entity and no view carries it. */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { softDelete, timestamps } from '../db/columns';

export const AppEntity = defineEntity({
  name: 'App',
  tableName: 'apps',
  properties: {
    id: p.string().primary().columnType('text'),
    type: p.string().columnType('text'),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    status: p.string().columnType('text'),
    settings: p.json<Record<string, unknown>>().columnType('jsonb'),
    ...timestamps(),
    ...softDelete(),
  },
});

export type AppRow = InferEntity<typeof AppEntity>;
