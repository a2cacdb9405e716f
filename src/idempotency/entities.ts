/**
 * Idempotency keys (table `idempotency_keys`): one row per (token identity, key) while the key is kept.
 * Written with raw SQL by the service (an insert that a unique conflict decides); mapped here for the schema
 * registry and for reading.
 */
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const IdempotencyKeyEntity = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    /** SHA-256 (hex) of the bearer token: keys of two tokens never meet; the token itself is not stored */
    identity: p.string().primary().columnType('text'),
    key: p.string().primary().columnType('text'),
    method: p.string().columnType('text'),
    path: p.string().columnType('text'),
    /** SHA-256 (hex) of the request body (canonical JSON) */
    fingerprint: p.string().columnType('text'),
    /** `running` until the first request's response is stored, then `done` */
    state: p.string().columnType('text'),
    responseStatus: p.integer().nullable(),
    responseHeaders: p.json<Record<string, string>>().columnType('jsonb').nullable(),
    responseBody: p.blob().columnType('bytea').nullable(),
    createdAt: p.datetime().columnType('timestamptz'),
    completedAt: p.datetime().columnType('timestamptz').nullable(),
    expiresAt: p.datetime().columnType('timestamptz'),
  },
});

export type IdempotencyKeyRow = InferEntity<typeof IdempotencyKeyEntity>;
