/**
 * The version rules plans and add-ons share (one key, versions 1, 2, 3…; at most one draft and one active
 * version per key; only drafts change): numbering a new draft, publishing, archiving. Each step runs under
 * the key's advisory lock, so numbering and publishing are serialized per key.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec, isUniqueViolation, Sql } from '../db/sql';
import { conflict } from '../lib/errors';

/** a versioned catalog table: its name, the noun its errors use, and which rows are catalog versions */
export interface VersionedKind {
  table: 'plans' | 'addons';
  /** `plan`, `add-on` */
  noun: string;
  /** extra condition of the rows numbered under a key (plans: not a subscription's own version) */
  catalogOnly?: string;
}

export const PLAN_KIND: VersionedKind = {
  table: 'plans',
  noun: 'plan',
  catalogOnly: 'owner_subscription_id is null',
};
export const ADDON_KIND: VersionedKind = { table: 'addons', noun: 'add-on' };

interface Versioned {
  key: string;
  version: number;
  status: string;
}

/** Serializes version numbering and publishing per key, for the rest of the transaction. */
export const lockKey = (tx: EntityManager, kind: VersionedKind, key: string) =>
  exec(tx, new Sql().add('select pg_advisory_xact_lock(hashtext(?))', `${kind.table}:${key}`));

export function assertDraft(kind: VersionedKind, v: Versioned, action: string): void {
  if (v.status !== 'draft')
    throw conflict(`${kind.noun} ${v.key} version ${v.version} is ${v.status}: only drafts can be ${action}`);
}

/**
 * The version number of a new draft of `key` (under the key's lock, taken here): 409 while the key already
 * has a draft.
 */
export async function nextDraftVersion(tx: EntityManager, kind: VersionedKind, key: string): Promise<number> {
  await lockKey(tx, kind, key);
  const [draft] = await exec<{ id: string; version: number }>(
    tx,
    new Sql().add(
      `select id, version from ${kind.table} where key = ? and status = 'draft' and deleted_at is null`,
      key,
    ),
  );
  if (draft)
    throw conflict(
      `${kind.noun} ${key} already has a draft (version ${String(draft.version)}, id ${draft.id}); ` +
        'publish or delete it first',
    );
  const [{ next }] = await exec<{ next: number }>(
    tx,
    new Sql().add(
      `select coalesce(max(version), 0) + 1 as next from ${kind.table} where key = ?` +
        (kind.catalogOnly ? ` and ${kind.catalogOnly}` : ''),
      key,
    ),
  );
  return next;
}

/**
 * draft → active (effective_from = now); the previously active version of the key is archived, in one
 * transaction under the key's lock. The caller checked that `current` is a draft.
 */
export async function publishVersion(
  em: EntityManager,
  kind: VersionedKind,
  current: Versioned & { id: string },
): Promise<void> {
  try {
    await em.transactional(async (tx) => {
      await lockKey(tx, kind, current.key);
      await exec(
        tx,
        new Sql().add(
          `update ${kind.table} set status = 'archived', effective_to = now(), updated_at = now()
            where key = ? and status = 'active'`,
          current.key,
        ),
      );
      const res = await exec(
        tx,
        new Sql().add(
          `update ${kind.table} set status = 'active', effective_from = now(), effective_to = null, updated_at = now()
           where id = ? and status = 'draft' and deleted_at is null returning id`,
          current.id,
        ),
      );
      if (!res.length) throw conflict(`${kind.noun} ${current.id} is no longer a draft`);
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`${kind.noun} ${current.key} was published concurrently`);
    throw e;
  }
}

/** active → archived (effective_to = now); 409 for any other status. */
export async function archiveVersion(
  em: EntityManager,
  kind: VersionedKind,
  current: Versioned & { id: string },
): Promise<void> {
  if (current.status !== 'active')
    throw conflict(
      `${kind.noun} ${current.key} version ${current.version} is ${current.status}: only active ${kind.noun}s can be archived`,
    );
  await exec(
    em,
    new Sql().add(
      `update ${kind.table} set status = 'archived', effective_to = now(), updated_at = now()
        where id = ? and status = 'active'`,
      current.id,
    ),
  );
}
