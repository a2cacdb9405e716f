/**
 * Installed apps: the catalog, install (with the type's settings), list/get/update/uninstall.
 *
 * Invariants:
 * - Secrets (API keys, webhook signing secrets) live in `apps.secrets`, written here and read only by
 *   `appSecrets` (state.ts) for the app's own calls: no view, response or log line carries them.
 * - An app a live billing profile names cannot be uninstalled (409): the uninstall locks the app row
 *   `for update` before looking for profiles; creating a profile locks the apps it names `for share`.
 * - The sandbox app is installed by the migration with its fixed id (SANDBOX_APP_ID).
 * - A custom-invoicing app's callback token is stored as its SHA-256 digest only (`apps.secrets`); the
 *   token itself is in the one answer that set or generated it (install, or an update that rotates it).
 */
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec, Sql } from '../db/sql';
import type { AppDeps } from '../deps';
import { conflict, gone, notFound } from '../lib/errors';
import { newId } from '../lib/ids';
import { logger } from '../lib/logger';
import { pageOffset, toPage, type Page, type PageParams } from '../lib/pagination';
import { profilesUsingApp } from '../profiles/service';
import { AppEntity, type AppRow } from './entities';
import { callbackTokenSecrets, newCallbackToken } from './custominvoicing';
import { connectStripe, disconnectStripe } from './stripe/install';
import { CATALOG, catalogItem, type AppType, type CapabilityType, type CatalogItem } from './types';
import { appView, type AppView } from './views';

export type { AppView } from './views';

export interface InstallInput {
  type: AppType;
  name: string;
  /** stripe: the secret key */
  api_key?: string;
  /** stripe: the webhook signing secret, when Stripe does not return one (stripe-mock) */
  webhook_secret?: string;
  /** custom_invoicing: the invoice waits for the external system's draft / issuing report */
  enable_draft_sync_hook?: boolean;
  enable_issuing_sync_hook?: boolean;
  /** custom_invoicing: the callbacks' own token (generated when absent) */
  callback_token?: string;
}

export interface UpdateInput {
  type: AppType;
  name: string;
  description?: string | null;
  labels?: Record<string, string> | null;
  /** stripe: a new secret key (checked like at install) */
  secret_api_key?: string;
  enable_draft_sync_hook?: boolean;
  enable_issuing_sync_hook?: boolean;
  /** custom_invoicing: replaces the callback token with this one */
  callback_token?: string;
  /** custom_invoicing: replaces the callback token with a new generated one */
  rotate_callback_token?: boolean;
}

export function listCatalog(page: PageParams): Page<CatalogItem> {
  const { limit, offset } = pageOffset(page);
  return toPage(CATALOG.slice(offset, offset + limit), CATALOG.length, page);
}

export function getCatalogItem(type: string): CatalogItem {
  const item = catalogItem(type);
  if (!item) throw notFound('app type', type);
  return item;
}

async function loadRow(em: EntityManager, id: string, lock?: LockMode): Promise<AppRow> {
  const row = await em.findOne(
    AppEntity,
    { id: id.toUpperCase() },
    { refresh: true, ...(lock ? { lockMode: lock } : {}) },
  );
  if (!row) throw notFound('app', id);
  if (row.deletedAt) throw gone('app', row.id);
  return row;
}

async function writeSecrets(em: EntityManager, id: string, secrets: Record<string, string>): Promise<void> {
  await exec(
    em,
    new Sql().add('update apps set secrets = secrets || ?::jsonb where id = ?', JSON.stringify(secrets), id),
  );
}

export async function installApp(
  deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>,
  em: EntityManager,
  input: InstallInput,
): Promise<{ app: AppView; default_for_capability_types: CapabilityType[] }> {
  getCatalogItem(input.type);
  const id = newId();
  let settings: Record<string, unknown> = {};
  let secrets: Record<string, string> = {};
  if (input.type === 'stripe') {
    // checks the key (a call), registers the webhook endpoint; throws InvalidError naming body.api_key
    const c = await connectStripe(deps, id, input.api_key ?? '', input.webhook_secret);
    settings = c.settings;
    secrets = c.secrets;
  }
  let callbackToken: string | undefined;
  if (input.type === 'custom_invoicing') {
    settings = {
      enable_draft_sync_hook: input.enable_draft_sync_hook ?? false,
      enable_issuing_sync_hook: input.enable_issuing_sync_hook ?? false,
    };
    // the callbacks' own credential: kept as a digest only, shown once in this answer
    callbackToken = input.callback_token ?? newCallbackToken();
    secrets = callbackTokenSecrets(callbackToken);
  }
  const now = new Date();
  const row = em.create(AppEntity, {
    id,
    type: input.type,
    name: input.name,
    description: null,
    labels: null,
    status: 'ready',
    settings,
    createdAt: now,
    updatedAt: now,
  });
  await em.transactional(async (tem) => {
    tem.persist(row);
    await tem.flush();
    if (Object.keys(secrets).length) await writeSecrets(tem, id, secrets);
  });
  logger.info({ app_id: id, app_type: input.type }, 'app installed');
  return {
    app: { ...appView(row), ...(callbackToken ? { callback_token: callbackToken } : {}) },
    default_for_capability_types: [],
  };
}

export async function listApps(em: EntityManager, page: PageParams): Promise<Page<AppView>> {
  const { limit, offset } = pageOffset(page);
  const [rows, total] = await em.findAndCount(
    AppEntity,
    { deletedAt: null },
    { orderBy: { createdAt: 'asc', id: 'asc' }, limit, offset, refresh: true },
  );
  return toPage(rows.map(appView), total, page);
}

export async function getApp(em: EntityManager, id: string): Promise<AppView> {
  return appView(await loadRow(em, id));
}

export async function updateApp(
  deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>,
  em: EntityManager,
  id: string,
  input: UpdateInput,
): Promise<AppView> {
  const current = await loadRow(em, id);
  if (current.type !== input.type)
    throw conflict(`app ${current.id} is a ${current.type} app: its type cannot change`);
  let rotated: { settings: Record<string, unknown>; secrets: Record<string, string> } | undefined;
  if (input.secret_api_key !== undefined && current.type === 'stripe')
    rotated = await connectStripe(deps, current.id, input.secret_api_key, undefined, { keyOnly: true });
  const callbackToken =
    current.type !== 'custom_invoicing'
      ? undefined
      : (input.callback_token ?? (input.rotate_callback_token ? newCallbackToken() : undefined));
  return em.transactional(async (tem) => {
    const row = await loadRow(tem, id, LockMode.PESSIMISTIC_WRITE);
    tem.assign(row, {
      name: input.name,
      description: input.description ?? null,
      labels: input.labels ?? null,
      ...(rotated ? { settings: { ...row.settings, ...rotated.settings }, status: 'ready' } : {}),
      // custom invoicing: invoices started from now on wait for the hooks enabled here
      ...(row.type === 'custom_invoicing'
        ? {
            settings: {
              ...row.settings,
              ...(input.enable_draft_sync_hook !== undefined
                ? { enable_draft_sync_hook: input.enable_draft_sync_hook }
                : {}),
              ...(input.enable_issuing_sync_hook !== undefined
                ? { enable_issuing_sync_hook: input.enable_issuing_sync_hook }
                : {}),
            },
          }
        : {}),
      updatedAt: new Date(),
    });
    await tem.flush();
    if (rotated) await writeSecrets(tem, row.id, rotated.secrets);
    if (callbackToken) await writeSecrets(tem, row.id, callbackTokenSecrets(callbackToken));
    return { ...appView(row), ...(callbackToken ? { callback_token: callbackToken } : {}) };
  });
}

/** Soft delete; 409 while a live billing profile names the app. */
export async function uninstallApp(
  deps: Pick<AppDeps, 'config' | 'stripeHttpClient'>,
  em: EntityManager,
  id: string,
): Promise<void> {
  const row = await em.transactional(async (tem) => {
    const r = await loadRow(tem, id, LockMode.PESSIMISTIC_WRITE);
    const users = await profilesUsingApp(tem, r.id, 5);
    if (users.length)
      throw conflict(
        `app ${r.id} is used by billing profile${users.length > 1 ? 's' : ''} ${users.join(', ')}: ` +
          'create a profile with other apps and move its customers there, then delete these profiles first',
        { profiles: users },
      );
    tem.assign(r, { deletedAt: new Date(), updatedAt: new Date() });
    await tem.flush();
    return r;
  });
  if (row.type === 'stripe') await disconnectStripe(deps, em, row);
  logger.info({ app_id: row.id, app_type: row.type }, 'app uninstalled');
}

export function createAppsService(deps: Pick<AppDeps, 'orm' | 'config' | 'stripeHttpClient'>) {
  const em = (): EntityManager => deps.orm.em;
  return {
    catalog: listCatalog,
    catalogItem: getCatalogItem,
    install: (input: InstallInput) => installApp(deps, em(), input),
    list: (page: PageParams) => listApps(em(), page),
    get: (id: string) => getApp(em(), id),
    update: (id: string, input: UpdateInput) => updateApp(deps, em(), id, input),
    uninstall: (id: string) => uninstallApp(deps, em(), id),
  };
}
