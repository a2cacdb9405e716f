/**
 * What other domains read of the installed apps (no import of another domain: profiles import it).
 */
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec, Sql } from '../db/sql';
import { AppEntity, type AppRow } from './entities';
import type { SyncHooks } from '../billing/contract';
import { catalogItem, type CapabilityType } from './types';

/** The live app (any case), optionally locked `for share` (an uninstall locks it `for update`). */
export async function findInstalledApp(em: EntityManager, id: string, lock = false): Promise<AppRow | null> {
  return em.findOne(
    AppEntity,
    { id: id.toUpperCase(), deletedAt: null },
    { refresh: true, ...(lock ? { lockMode: LockMode.PESSIMISTIC_READ } : {}) },
  );
}

/** Why `id` cannot fill a role needing `capability` ('' when it can); locks the app row for share. */
export async function appUnusableReason(
  em: EntityManager,
  id: string,
  capability: CapabilityType,
): Promise<string> {
  const app = await findInstalledApp(em, id, true);
  if (!app) return 'no installed app has this id (GET /v3/openmeter/apps)';
  if (!catalogItem(app.type)?.capabilities.some((c) => c.type === capability))
    return `the ${app.type} app has no ${capability} capability`;
  return '';
}

/** The app's write-only secrets, for its own calls (never shown, never logged). */
export async function appSecrets(em: EntityManager, id: string): Promise<Record<string, string>> {
  const rows = await exec<{ secrets: Record<string, string> }>(
    em,
    new Sql().add('select secrets from apps where id = ?', id.toUpperCase()),
  );
  return rows[0]?.secrets ?? {};
}

/** The sync hooks an invoice of this app waits for (custom invoicing's settings; none for other apps). */
export async function syncHooksOf(em: EntityManager, appId: string): Promise<SyncHooks | undefined> {
  const app = await findInstalledApp(em, appId);
  if (!app || app.type !== 'custom_invoicing') return undefined;
  const s = app.settings as { enable_draft_sync_hook?: boolean; enable_issuing_sync_hook?: boolean };
  const hooks = { draft: s.enable_draft_sync_hook === true, issuing: s.enable_issuing_sync_hook === true };
  return hooks.draft || hooks.issuing ? hooks : undefined;
}
