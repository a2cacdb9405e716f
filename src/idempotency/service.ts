/**
 * Idempotency-Key storage (Stripe's semantics; the HTTP side is src/api/idempotency.ts).
 *
 * - `begin` inserts an in-flight row for (identity, key). The primary key decides between concurrent
 *   requests: exactly one insert wins and runs the handler; every other request finds the row and gets its
 *   stored response (`replay`), `in_progress` while the first runs, or `mismatch` when it differs from the
 *   first request (method, path or body). A row past `expires_at` is replaced in the same statement.
 * - `complete` stores the response and keeps it for the TTL from then; `release` deletes the in-flight row
 *   (5xx or a response that cannot be stored), so the key may be retried.
 * - `purgeExpired` deletes the rows past `expires_at`.
 * A request whose process died before `complete` leaves its row `running` until it expires: its outcome is
 * unknown, so a retry is refused (409) rather than run a second time.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import { exec, Sql } from '../db/sql';

export interface IdempotentRequest {
  identity: string;
  key: string;
  method: string;
  path: string;
  fingerprint: string;
  /** how long the key is kept, in milliseconds */
  ttlMs: number;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type BeginOutcome =
  | { kind: 'run' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in_progress'; since: Date }
  | { kind: 'mismatch'; method: string; path: string; sameRequestLine: boolean };

interface Row {
  method: string;
  path: string;
  fingerprint: string;
  state: 'running' | 'done';
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: Buffer | null;
  created_at: Date;
}

const secs = (ms: number) => ms / 1000;

export async function begin(em: EntityManager, r: IdempotentRequest, attempt = 0): Promise<BeginOutcome> {
  const inserted = await exec<{ key: string }>(
    em,
    new Sql().add(
      `insert into idempotency_keys (identity, key, method, path, fingerprint, state, created_at, expires_at)
       values (?, ?, ?, ?, ?, 'running', now(), now() + make_interval(secs => ?))
       on conflict (identity, key) do update
         set method = excluded.method, path = excluded.path, fingerprint = excluded.fingerprint,
             state = 'running', response_status = null, response_headers = null, response_body = null,
             created_at = excluded.created_at, completed_at = null, expires_at = excluded.expires_at
         where idempotency_keys.expires_at <= now()
       returning key`,
      r.identity,
      r.key,
      r.method,
      r.path,
      r.fingerprint,
      secs(r.ttlMs),
    ),
  );
  if (inserted.length > 0) return { kind: 'run' };
  const [row] = await exec<Row>(
    em,
    new Sql().add(
      `select method, path, fingerprint, state, response_status, response_headers, response_body, created_at
         from idempotency_keys where identity = ? and key = ?`,
      r.identity,
      r.key,
    ),
  );
  // deleted between the two statements (purged or released): try once more
  if (!row) {
    if (attempt >= 3) throw new Error(`idempotency key row keeps vanishing: ${r.key}`);
    return begin(em, r, attempt + 1);
  }
  if (row.method !== r.method || row.path !== r.path || row.fingerprint !== r.fingerprint)
    return {
      kind: 'mismatch',
      method: row.method,
      path: row.path,
      sameRequestLine: row.method === r.method && row.path === r.path,
    };
  if (row.state === 'running') return { kind: 'in_progress', since: new Date(row.created_at) };
  return {
    kind: 'replay',
    response: { status: row.response_status!, headers: row.response_headers ?? {}, body: row.response_body! },
  };
}

export async function complete(
  em: EntityManager,
  r: Pick<IdempotentRequest, 'identity' | 'key' | 'ttlMs'>,
  res: StoredResponse,
): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `update idempotency_keys
          set state = 'done', response_status = ?, response_headers = ?::jsonb, response_body = ?,
              completed_at = now(), expires_at = now() + make_interval(secs => ?)
        where identity = ? and key = ? and state = 'running'`,
      res.status,
      JSON.stringify(res.headers),
      res.body,
      secs(r.ttlMs),
      r.identity,
      r.key,
    ),
  );
}

export async function release(
  em: EntityManager,
  r: Pick<IdempotentRequest, 'identity' | 'key'>,
): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `delete from idempotency_keys where identity = ? and key = ? and state = 'running'`,
      r.identity,
      r.key,
    ),
  );
}

/** Deletes the keys past their expiry; returns how many. */
export async function purgeExpired(em: EntityManager): Promise<number> {
  const rows = await exec<{ n: number }>(
    em,
    new Sql().add(
      `with d as (delete from idempotency_keys where expires_at <= now() returning 1)
       select count(*)::int as n from d`,
    ),
  );
  return rows[0]?.n ?? 0;
}

export interface IdempotencyService {
  begin(r: IdempotentRequest): Promise<BeginOutcome>;
  complete(r: Pick<IdempotentRequest, 'identity' | 'key' | 'ttlMs'>, res: StoredResponse): Promise<void>;
  release(r: Pick<IdempotentRequest, 'identity' | 'key'>): Promise<void>;
  purgeExpired(): Promise<number>;
}

/** Bound to an ORM: each call on its own EntityManager fork. */
export function createIdempotencyService(deps: Pick<AppDeps, 'orm'>): IdempotencyService {
  const em = () => deps.orm.em.fork();
  return {
    begin: (r) => begin(em(), r),
    complete: (r, res) => complete(em(), r, res),
    release: (r) => release(em(), r),
    purgeExpired: () => purgeExpired(em()),
  };
}
