/**
 * What catalog tells metering about the features built on a meter, so that metering refuses to delete a
 * meter or drop a dimension that features still use without reading the `features` table itself.
 * A leaf (only `db/sql`): metering imports it, catalog's service may import metering, no cycle.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';

/** Keys of the live (not archived) features measured by meter `meterId`, sorted. */
export async function liveFeatureKeysOfMeter(em: EntityManager, meterId: string): Promise<string[]> {
  const rows = await exec<{ key: string }>(
    em,
    new Sql().add('select key from features where meter_id = ? and deleted_at is null order by key', meterId),
  );
  return rows.map((r) => r.key);
}

/**
 * `feature.key (dimension)` for each feature of meter `meterId` (archived ones too: plans may still bill
 * them) whose meter filters name one of `dims`, sorted by feature key then dimension.
 */
export async function featureFiltersOnDimensions(
  em: EntityManager,
  meterId: string,
  dims: readonly string[],
): Promise<string[]> {
  if (!dims.length) return [];
  const rows = await exec<{ key: string; dim: string }>(
    em,
    new Sql().add(
      `select f.key, d.dim from features f, jsonb_object_keys(coalesce(f.meter_filters, '{}'::jsonb)) as d(dim)
        where f.meter_id = ? and d.dim in (select jsonb_array_elements_text(?::jsonb)) order by f.key, d.dim`,
      meterId,
      JSON.stringify(dims),
    ),
  );
  return rows.map((r) => `${r.key} (${r.dim})`);
}
