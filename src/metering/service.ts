/**
 * Metering's service: what other domains, the routes, tests and benchmarks import. The work lives in
 * topic files — `meters.ts` (meter CRUD), `event-log.ts` (ingest and listing, with `validation-errors.ts`
 * and `cursor.ts`), `query.ts` (the meter query and `aggregateUsage`), `values.ts` (the value rule) —
 * and the API views in `views.ts`. See README.md for the tables it owns and its invariants.
 */
import type { EntityManager } from '@mikro-orm/core';
import type { AppDeps } from '../deps';
import type { IngestEvent } from './events';
import { ingestEvents, listEvents, type EventListQuery } from './event-log';
import {
  createMeter,
  deleteMeter,
  getMeter,
  listMeters,
  updateMeter,
  type CreateMeterInput,
  type MeterListFilter,
  type UpdateMeterInput,
} from './meters';
import { queryMeter, type MeterQuery } from './query';
import type { PageParams } from '../lib/pagination';

export { decodeCursor, encodeCursor } from './cursor';
export { ingestEvents, listEvents, mergeWindows, type EventListQuery } from './event-log';
export {
  createMeter,
  deleteMeter,
  getMeter,
  listMeters,
  updateMeter,
  type CreateMeterInput,
  type MeterListFilter,
  type UpdateMeterInput,
} from './meters';
export {
  aggregateUsage,
  buildMeterQuery,
  queryMeter,
  RESERVED_DIMENSIONS,
  type AggregateUsageInput,
  type DimensionFilter,
  type Granularity,
  type MeterQuery,
} from './query';
export { eventValidationErrors } from './validation-errors';
export {
  checkRollups,
  resetRollups,
  rollForward,
  rolledMeters,
  rollupState,
  startRollups,
  type RollupState,
} from './rollups';
export {
  billableUsage,
  inRangeSql,
  rawValueSql,
  VALUE_MAX_ABS,
  VALUE_MAX_SCALE,
  valueProblemSql,
  type ValueProblem,
} from './values';
export type { EventValidationError, IngestedEventDto, MeterDto, MeterQueryRow } from './views';

/**
 * The service the routes use. Each call runs on the request's entity manager (`deps.orm.em` inside the API's
 * `RequestContext`; the rule is in `src/db/README.md`); ingestion writes through its own pool (`ingest.ts`).
 */
export function createMeteringService(deps: Pick<AppDeps, 'orm'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    ingest: (
      events: IngestEvent[],
      receivedAt: Date,
      raw?: Buffer | string,
      opts: { single?: boolean } = {},
    ) => ingestEvents(em(), events, receivedAt, raw, opts),
    listEvents: (q: EventListQuery) => listEvents(em(), q),
    createMeter: (input: CreateMeterInput) => createMeter(em(), input),
    listMeters: (filter: MeterListFilter, page: PageParams) => listMeters(em(), filter, page),
    getMeter: (idOrKey: string) => getMeter(em(), idOrKey),
    updateMeter: (idOrKey: string, input: UpdateMeterInput) => updateMeter(em(), idOrKey, input),
    deleteMeter: (idOrKey: string) => deleteMeter(em(), idOrKey),
    /** the live meter `idOrKey` (404 otherwise), queried */
    queryMeter: async (idOrKey: string, q: MeterQuery) => {
      const e = em();
      return queryMeter(e, await getMeter(e, idOrKey), q);
    },
  };
}

export type MeteringService = ReturnType<typeof createMeteringService>;
