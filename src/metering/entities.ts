/**
 * Metering tables: `events` (CloudEvents, deduplicated on (source, id)) and `meters`.
 * Services use raw SQL for events (bulk ingest, aggregation); the entities exist for the ORM's metadata
 * and for simple lookups by other modules.
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { softDelete, timestamps } from '../db/columns';

export const AGGREGATIONS = ['sum', 'count', 'unique_count', 'avg', 'min', 'max', 'latest'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const MeterEvent = defineEntity({
  name: 'MeterEvent',
  tableName: 'events',
  properties: {
    source: p.string().primary().columnType('text'),
    id: p.string().primary().columnType('text'),
    type: p.string().columnType('text'),
    subject: p.string().columnType('text'),
    time: p.datetime().columnType('timestamptz'),
    data: p.json<Record<string, unknown>>().columnType('jsonb').nullable(),
    specversion: p.string().columnType('text'),
    datacontenttype: p.string().columnType('text').nullable(),
    dataschema: p.string().columnType('text').nullable(),
    /** when Tally received the request */
    ingestedAt: p.datetime().columnType('timestamptz'),
    /** when the row was written */
    storedAt: p.datetime().columnType('timestamptz'),
  },
});

export const Meter = defineEntity({
  name: 'Meter',
  tableName: 'meters',
  properties: {
    id: p.string().primary().columnType('text'),
    key: p.string().columnType('text'),
    name: p.string().columnType('text'),
    description: p.string().columnType('text').nullable(),
    labels: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    aggregation: p.string().columnType('text'),
    eventType: p.string().columnType('text'),
    valueProperty: p.string().columnType('text').nullable(),
    dimensions: p.json<Record<string, string>>().columnType('jsonb'),
    eventsFrom: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps(),
    ...softDelete(),
  },
});

export type MeterEventEntity = InferEntity<typeof MeterEvent>;
export type MeterEntity = InferEntity<typeof Meter>;
