/** Column builders shared by the domain entities (MikroORM `defineEntity` property builders). */
import { p } from '@mikro-orm/core';

/** `created_at` / `updated_at` (timestamptz), set by the ORM on insert and update. */
export const timestamps = () => ({
  createdAt: p
    .datetime()
    .columnType('timestamptz')
    .onCreate(() => new Date()),
  updatedAt: p
    .datetime()
    .columnType('timestamptz')
    .onCreate(() => new Date())
    .onUpdate(() => new Date()),
});

/** `deleted_at` (timestamptz, null while live): soft deletion. */
export const softDelete = () => ({
  deletedAt: p.datetime().columnType('timestamptz').nullable(),
});
