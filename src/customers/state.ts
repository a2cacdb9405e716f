/**
 * For other domains that keep data per customer (billing profiles): whether a customer exists, was deleted
 * or never existed, and which of a set of ids are live customers.
 */
import type { EntityManager } from '@mikro-orm/core';
import { exec, Sql } from '../db/sql';
import { idOrKey } from '../lib/ids';
import { optionalInstant } from '../lib/time';

export interface CustomerState {
  id: string;
  key: string;
  /** set when the customer was deleted */
  deleted_at?: string;
}

/**
 * The customer named by `ref` (id or key, as `findCustomer` reads it), live or deleted; null when none ever
 * existed. By key: the live customer with that key, else the one that held it last.
 */
export async function findCustomerState(
  em: EntityManager,
  ref: string | { id: string } | { key: string },
): Promise<CustomerState | null> {
  const r = typeof ref === 'string' ? idOrKey(ref) : ref;
  const q = new Sql().add('select id, key, deleted_at from customers where ');
  if ('id' in r) q.add('id = ?', r.id.toUpperCase());
  else q.add('key = ? order by deleted_at desc nulls first, id desc', r.key);
  const [row] = await exec<{ id: string; key: string; deleted_at: Date | string | null }>(
    em,
    q.add(' limit 1'),
  );
  if (!row) return null;
  const deleted_at = optionalInstant(row.deleted_at);
  return { id: row.id, key: row.key, ...(deleted_at ? { deleted_at } : {}) };
}

/** The ids among `ids` that name live customers. */
export async function liveCustomerIds(em: EntityManager, ids: readonly string[]): Promise<string[]> {
  if (!ids.length) return [];
  const rows = await exec<{ id: string }>(
    em,
    new Sql()
      .add('select id from customers where deleted_at is null and id in ')
      .list(ids)
      .add(' order by id'),
  );
  return rows.map((r) => r.id);
}
