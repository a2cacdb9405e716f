/**
 * One webhook delivery attempt (run by the delivery workflow's activity): the event's payload POSTed to the
 * channel's URL, signed per Standard Webhooks with the `standardwebhooks` library (`webhook-id` = the event
 * id, stable across retries and resends, `webhook-timestamp`, `webhook-signature`), and the outcome recorded
 * on the delivery row. A disabled or deleted channel, a deleted event or a superseded resend generation
 * stops the retries; a URL that now resolves to a refused address is refused again here (after DNS
 * resolution, connecting to the checked address only).
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { EntityManager } from '@mikro-orm/core';
import { Webhook } from 'standardwebhooks';
import { exec, Sql } from '../db/sql';
import { retryDelayMs } from './backoff';
import { resolveTarget, type AllowList, type ResolvedTarget } from './ssrf';
import type { AttemptResult, DeliveryAttemptInput as AttemptInput } from './types';

/** how long one POST may take (connect + response) */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** how much of the receiver's answer is kept */
const RESPONSE_EXCERPT = 1000;
/** attempts kept in `attempt_log` (the newest) */
const LOG_LENGTH = 20;

export interface PostResult {
  statusCode: number | null;
  body: string;
  error?: string;
  durationMs: number;
}

/** Signs `body` for `secret` (Standard Webhooks): the three headers. */
export function signedHeaders(
  secret: string,
  eventId: string,
  at: Date,
  body: string,
): Record<string, string> {
  const signature = new Webhook(secret).sign(eventId, at, body);
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

/** POSTs `body` to the resolved target, connecting to the checked address only. */
export function postTo(
  target: ResolvedTarget,
  headers: Record<string, string>,
  body: string,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<PostResult> {
  const t0 = Date.now();
  const lookup: LookupFunction = (_host, opts, cb) => {
    if (opts.all) cb(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const mod = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = mod.request(
      target.url,
      {
        method: 'POST',
        lookup,
        timeout: timeoutMs,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body).toString(),
          'user-agent': 'Tally-Webhooks/1',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < RESPONSE_EXCERPT * 4) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode ?? null,
            body: Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_EXCERPT),
            durationMs: Date.now() - t0,
          }),
        );
        res.on('error', (e) =>
          resolve({
            statusCode: res.statusCode ?? null,
            body: '',
            error: e.message,
            durationMs: Date.now() - t0,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) =>
      resolve({ statusCode: null, body: '', error: e.message, durationMs: Date.now() - t0 }),
    );
    req.end(body);
  });
}

interface DeliveryRow {
  id: string;
  state: string;
  generation: number;
  event_id: string;
  payload: unknown;
  channel_id: string;
  url: string;
  signing_secret: string;
  custom_headers: Record<string, string>;
  disabled: boolean;
  channel_deleted: boolean;
}

export type { AttemptResult, AttemptInput };

async function finish(
  em: EntityManager,
  id: string,
  generation: number,
  state: string,
  reason: string | null,
): Promise<void> {
  await exec(
    em,
    new Sql().add(
      `update notification_deliveries set state = ?, reason = ?, next_attempt_at = null, updated_at = now()
        where id = ? and generation = ?`,
      state,
      reason,
      id,
      generation,
    ),
  );
}

/**
 * One attempt of `input.deliveryId`. Idempotent as far as the receiver can tell: every attempt carries the
 * same `webhook-id`, so a receiver that dedupes by it acts once.
 */
export async function attemptDelivery(
  em: EntityManager,
  input: AttemptInput,
  allow: AllowList,
  now: Date = new Date(),
): Promise<AttemptResult> {
  const rows = await exec<DeliveryRow>(
    em,
    new Sql().add(
      `select d.id, d.state, d.generation, d.event_id, e.payload, c.id as channel_id, c.url, c.signing_secret,
          c.custom_headers, c.disabled, c.deleted_at is not null as channel_deleted
         from notification_deliveries d
         join notification_events e on e.id = d.event_id
         join notification_channels c on c.id = d.channel_id
        where d.id = ?`,
      input.deliveryId,
    ),
  );
  const d = rows[0];
  if (!d || d.generation !== input.generation) return { result: 'stop' };
  if (d.state === 'success') return { result: 'success' };
  // stopped (its channel was disabled or deleted meanwhile): only a resend (a new generation) sends again
  if (d.state === 'failed') return { result: 'stop' };
  if (d.channel_deleted || d.disabled) {
    await finish(
      em,
      d.id,
      d.generation,
      'failed',
      d.channel_deleted ? 'channel deleted' : 'channel disabled',
    );
    return { result: 'stop' };
  }
  await exec(
    em,
    new Sql().add(
      "update notification_deliveries set state = 'sending', updated_at = now() where id = ? and generation = ?",
      d.id,
      d.generation,
    ),
  );
  const resolved = await resolveTarget(d.url, allow);
  if (!resolved.ok && resolved.refused) {
    // the URL is refused (SSRF guard): no request is made, and retrying cannot help
    await exec(
      em,
      new Sql().add(
        `update notification_deliveries set state = 'failed', reason = ?, next_attempt_at = null, updated_at = now()
          where id = ? and generation = ?`,
        `url ${resolved.reason}`,
        d.id,
        d.generation,
      ),
    );
    return { result: 'stop' };
  }
  let res: PostResult;
  if (!resolved.ok) res = { statusCode: null, body: '', error: `url ${resolved.reason}`, durationMs: 0 };
  else {
    const body = JSON.stringify(d.payload);
    const headers = { ...d.custom_headers, ...signedHeaders(d.signing_secret, d.event_id, now, body) };
    res = await postTo(resolved.target, headers, body);
  }
  const ok = res.statusCode !== null && res.statusCode >= 200 && res.statusCode < 300;
  // the window counts in workflow time (equal to the wall clock in production, not under time skipping)
  const at = input.at ? new Date(input.at) : now;
  const elapsed = at.getTime() - Date.parse(input.startedAt);
  const delay = ok ? null : retryDelayMs(input.attempt, Math.max(0, elapsed));
  const state = ok ? 'success' : delay === null ? 'failed' : 'pending';
  const reason = ok
    ? null
    : `${res.error ?? `receiver answered ${res.statusCode}`}${delay === null ? ' (gave up: retried for three days)' : ''}`;
  const entry = {
    state: ok ? 'success' : 'failed',
    timestamp: at.toISOString(),
    status_code: res.statusCode,
    duration_ms: res.durationMs,
    ...(res.error ? { error: res.error } : {}),
  };
  await exec(
    em,
    new Sql().add(
      `update notification_deliveries set state = ?, reason = ?, attempts = attempts + 1,
          attempt_log = (select coalesce(jsonb_agg(x order by o), '[]'::jsonb) from (
            select x, o from jsonb_array_elements(attempt_log || jsonb_build_array(?::jsonb)) with ordinality as t(x, o)
            order by o desc limit ${LOG_LENGTH}) l),
          last_status_code = ?, last_response = ?, next_attempt_at = ?, updated_at = now()
        where id = ? and generation = ?`,
      state,
      reason,
      JSON.stringify(entry),
      res.statusCode,
      res.error && !res.body ? res.error : res.body,
      delay === null ? null : new Date(at.getTime() + delay),
      d.id,
      d.generation,
    ),
  );
  if (ok) return { result: 'success' };
  return delay === null ? { result: 'stop' } : { result: 'retry', retryInMs: delay };
}
