/** API shapes of installed apps (OpenMeter's BillingAppSandbox / BillingAppStripe). Never a secret. */
import { instant, optionalInstant } from '../lib/time';
import type { AppRow } from './entities';
import { catalogItem, type CatalogItem } from './types';

export interface AppView {
  id: string;
  type: string;
  name: string;
  description?: string;
  labels?: Record<string, string>;
  created_at: string;
  updated_at: string;
  deleted_at?: string;
  definition: CatalogItem;
  status: string;
  account_id?: string;
  livemode?: boolean;
  masked_api_key?: string;
  enable_draft_sync_hook?: boolean;
  enable_issuing_sync_hook?: boolean;
  /** custom invoicing: only in the answer that set or generated it (write-only afterwards) */
  callback_token?: string;
}

export function appView(r: AppRow): AppView {
  const s = r.settings as { account_id?: string; livemode?: boolean; masked_api_key?: string };
  const deleted = optionalInstant(r.deletedAt);
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    ...(r.description ? { description: r.description } : {}),
    ...(r.labels && Object.keys(r.labels).length ? { labels: r.labels } : {}),
    created_at: instant(r.createdAt),
    updated_at: instant(r.updatedAt),
    ...(deleted ? { deleted_at: deleted } : {}),
    definition: catalogItem(r.type)!,
    status: r.status,
    ...(r.type === 'stripe'
      ? {
          account_id: s.account_id ?? '',
          livemode: s.livemode ?? false,
          masked_api_key: s.masked_api_key ?? '',
        }
      : {}),
    ...(r.type === 'custom_invoicing'
      ? {
          enable_draft_sync_hook: r.settings.enable_draft_sync_hook === true,
          enable_issuing_sync_hook: r.settings.enable_issuing_sync_hook === true,
        }
      : {}),
  };
}

/** `sk_test_***abcd`: the key's kind and its last four characters, nothing a caller could use. */
export function maskKey(key: string): string {
  const kind = /^(sk|rk)_(test|live)_/.exec(key)?.[0] ?? '';
  return `${kind}***${key.slice(-4)}`;
}
