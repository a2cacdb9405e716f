/**
 * Meters: create, read, list, update and (soft) delete. Raw SQL on `meters` through the `Sql` builder;
 * rows become API views in `views.ts`. A meter's key is unique among live meters (409 otherwise); a meter
 * is found by id (ULID-shaped, any case) or else by key. Deleting a meter, or dropping a dimension, that
 * catalog's features still use is a 409 (asked of catalog: `catalog/meter-users.ts`).
 */
import { orderBy, whereFilter, whereLabels, type FieldFilter, type SortKey } from '../lib/list-query';
import type { EntityManager } from '@mikro-orm/core';
import { featureFiltersOnDimensions, liveFeatureKeysOfMeter } from '../catalog/meter-users';
import { exec, isUniqueViolation, Sql } from '../db/sql';
import { conflict, notFound } from '../lib/errors';
import { idOrKey, newId } from '../lib/ids';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { METER_COLS, meterView, type MeterDto, type MeterRow } from './views';

export type CreateMeterInput = Omit<MeterDto, 'id' | 'created_at' | 'updated_at' | 'deleted_at'>;

export interface UpdateMeterInput {
  name?: string;
  description?: string | null;
  labels?: Record<string, string> | null;
  dimensions?: Record<string, string>;
}

export async function createMeter(em: EntityManager, input: CreateMeterInput): Promise<MeterDto> {
  const q = new Sql().add(
    `insert into meters (id, key, name, description, labels, aggregation, event_type, value_property,
       dimensions, events_from)
     values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?::timestamptz)
     returning ${METER_COLS}`,
    newId(),
    input.key,
    input.name,
    input.description ?? null,
    input.labels ? JSON.stringify(input.labels) : null,
    input.aggregation,
    input.event_type,
    input.value_property ?? null,
    JSON.stringify(input.dimensions ?? {}),
    input.events_from ?? null,
  );
  try {
    const [row] = await exec<MeterRow>(em, q);
    return meterView(row);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`a meter with key ${input.key} already exists`);
    throw e;
  }
}

/** A live meter by id (shaped like a ULID, any case) or else key; 404 when missing or deleted. */
export async function getMeter(
  em: EntityManager,
  idOrKeyText: string,
  opts: { includeDeleted?: boolean } = {},
): Promise<MeterDto> {
  const q = new Sql().add(
    `select ${METER_COLS} from meters where ${opts.includeDeleted ? '' : 'deleted_at is null and '}`,
  );
  const ref = idOrKey(idOrKeyText);
  if ('id' in ref) q.add('id = ?', ref.id);
  else q.add('key = ?', ref.key);
  const [row] = await exec<MeterRow>(em, q);
  if (!row) throw notFound('meter', idOrKeyText);
  return meterView(row);
}

export interface MeterListFilter {
  key?: FieldFilter;
  name?: FieldFilter;
  labels?: Record<string, FieldFilter>;
  sort?: SortKey<MeterSortField>[];
}

export const METER_SORT_FIELDS = ['key', 'name', 'aggregation', 'created_at', 'updated_at'] as const;
export type MeterSortField = (typeof METER_SORT_FIELDS)[number];

export async function listMeters(
  em: EntityManager,
  filter: MeterListFilter,
  page: PageParams,
): Promise<Page<MeterDto>> {
  const where = new Sql().add(' from meters where deleted_at is null');
  if (filter.key) whereFilter(where.add(' and '), 'key', filter.key);
  if (filter.name) whereFilter(where.add(' and '), 'name', filter.name);
  if (filter.labels) whereLabels(where.add(' and '), 'labels', filter.labels);
  const { limit, offset } = pageOffset(page);
  const rows = await exec<MeterRow>(
    em,
    new Sql()
      .add(`select ${METER_COLS}`)
      .add(where.text, ...where.params)
      .add(
        orderBy(
          filter.sort,
          {
            key: 'key',
            name: 'name',
            aggregation: 'aggregation',
            created_at: 'created_at',
            updated_at: 'updated_at',
          },
          [{ field: 'created_at', desc: false }],
          'id',
        ),
      )
      .add(' limit ? offset ?', limit, offset),
  );
  const [{ n }] = await exec<{ n: string }>(
    em,
    new Sql().add('select count(*) as n').add(where.text, ...where.params),
  );
  return toPage(rows.map(meterView), Number(n), page);
}

export async function updateMeter(
  em: EntityManager,
  idOrKey: string,
  input: UpdateMeterInput,
): Promise<MeterDto> {
  const meter = await getMeter(em, idOrKey);
  const q = new Sql().add('update meters set updated_at = now()');
  if (input.name !== undefined) q.add(', name = ?', input.name);
  if (input.description !== undefined) q.add(', description = ?', input.description);
  if (input.labels !== undefined)
    q.add(', labels = ?::jsonb', input.labels === null ? null : JSON.stringify(input.labels));
  if (input.dimensions !== undefined) {
    const removed = Object.keys(meter.dimensions ?? {}).filter((d) => !(d in (input.dimensions ?? {})));
    const users = await featureFiltersOnDimensions(em, meter.id, removed);
    if (users.length) {
      throw conflict(
        `dimensions of meter ${meter.key} are still used by feature filters: ${users.join(', ')}`,
      );
    }
    q.add(', dimensions = ?::jsonb', JSON.stringify(input.dimensions));
  }
  q.add(` where id = ? and deleted_at is null returning ${METER_COLS}`, meter.id);
  const [row] = await exec<MeterRow>(em, q);
  if (!row) throw notFound('meter', idOrKey);
  return meterView(row);
}

export async function deleteMeter(em: EntityManager, idOrKey: string): Promise<void> {
  const meter = await getMeter(em, idOrKey);
  const features = await liveFeatureKeysOfMeter(em, meter.id);
  if (features.length) {
    throw conflict(`meter ${meter.key} is used by features ${features.join(', ')}: archive them first`);
  }
  await exec(
    em,
    new Sql().add('update meters set deleted_at = now(), updated_at = now() where id = ?', meter.id),
  );
}
