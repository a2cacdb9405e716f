/** The migration list's entry type: a leaf, so that each domain's migrations.ts can name it without the ORM. */
import type { MigrationObject } from '@mikro-orm/core';

/** `name` sorts globally: `mYYYYMMDDNN_<domain>_<what>`; `class` extends `Migration` from @mikro-orm/migrations */
export type MigrationEntry = MigrationObject;
