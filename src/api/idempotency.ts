/**
 * `Idempotency-Key` on every POST under /v3/openmeter (Stripe's semantics; storage in src/idempotency):
 *
 * - The key is 1–255 printable ASCII characters (else 400). It is scoped to the bearer token (keys of two
 *   tokens never meet), and belongs to the first request that used it: its method, path (with the query)
 *   and body (compared as canonical JSON: key order and whitespace do not matter).
 * - The first request runs; its status, body and `Content-Type`/`Location` are stored before the response
 *   leaves, and a repeat of the same request gets them again with `Idempotent-Replayed: true`, without
 *   running anything.
 * - The same key with another method, path or body: 422 problem. A repeat while the first still runs
 *   (or whose server stopped before it finished: its outcome is unknown): 409 problem.
 * - 5xx responses are not stored: the key is released and the request may be retried with it.
 * - Kept `TALLY_IDEMPOTENCY_TTL` (default P1D, at least 24 h) after the response; expired keys are purged
 *   (at most once a minute, by the requests that carry a key) and an expired key may be used again.
 * Requests without the header, and other methods, pass through untouched.
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { minDurationMs } from '../catalog/periods';
import type { AppDeps } from '../deps';
import { createIdempotencyService, type IdempotentRequest } from '../idempotency/service';
import { logger } from '../lib/logger';
import { problemBody } from './problem';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
const KEY_RE = /^[\x20-\x7e]{1,255}$/;
/** responses larger than this are not stored (the key is released) */
export const MAX_STORED_BODY = 4 * 1024 * 1024;
const STORED_HEADERS = ['content-type', 'location'];
const PURGE_EVERY_MS = 60_000;

/** JSON with object keys sorted, so that two spellings of one body compare equal */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** The caller's identity: the SHA-256 of its bearer token (authentication already accepted it). */
function identityOf(req: Request): string {
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? '';
  return sha256(token);
}

function problem(res: Response, status: number, detail: string, req: Request): void {
  res
    .status(status)
    .type('application/problem+json')
    .json(problemBody(status, detail, req.originalUrl));
}

type End = (chunk?: unknown, encoding?: unknown, cb?: unknown) => Response;

export function idempotency(deps: Pick<AppDeps, 'orm' | 'config'>): RequestHandler {
  const svc = createIdempotencyService(deps);
  const ttlMs = minDurationMs(deps.config.TALLY_IDEMPOTENCY_TTL);
  let lastPurge = 0;

  const purge = () => {
    const now = Date.now();
    if (now - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = now;
    svc.purgeExpired().then(
      (n) => n > 0 && logger.debug({ purged: n }, 'expired idempotency keys purged'),
      (err: unknown) => logger.warn({ err }, 'purging expired idempotency keys failed'),
    );
  };

  return async (req, res, next) => {
    if (req.method !== 'POST') return next();
    const key = req.get(IDEMPOTENCY_HEADER);
    if (key === undefined) return next();
    if (!KEY_RE.test(key)) {
      problem(res, 400, `${IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters`, req);
      return;
    }
    purge();
    const r: IdempotentRequest = {
      identity: identityOf(req),
      key,
      method: req.method,
      path: req.originalUrl,
      fingerprint: sha256(canonicalJson(req.body ?? null)),
      ttlMs,
    };
    const outcome = await svc.begin(r);
    switch (outcome.kind) {
      case 'mismatch':
        problem(
          res,
          422,
          outcome.sameRequestLine
            ? `${IDEMPOTENCY_HEADER} ${JSON.stringify(key)} was used with another request body; use a new key for another request`
            : `${IDEMPOTENCY_HEADER} ${JSON.stringify(key)} was used for ${outcome.method} ${outcome.path}; use a new key for another request`,
          req,
        );
        return;
      case 'in_progress':
        res.set('Retry-After', '1');
        problem(
          res,
          409,
          `a request with ${IDEMPOTENCY_HEADER} ${JSON.stringify(key)} started at ${outcome.since.toISOString()} ` +
            'and has not finished; retry later (if it never finishes, its outcome is unknown until the key expires)',
          req,
        );
        return;
      case 'replay': {
        const { status, headers, body } = outcome.response;
        res.status(status);
        for (const [h, v] of Object.entries(headers)) res.set(h, v);
        res.set(REPLAYED_HEADER, 'true').send(body);
        return;
      }
      case 'run':
        capture(res, r);
        next();
    }
  };

  /** stores the response before it leaves (a repeat that follows the answer always finds it) */
  function capture(res: Response, r: IdempotentRequest): void {
    const origWrite = res.write.bind(res) as (...a: unknown[]) => boolean;
    const origEnd = res.end.bind(res) as End;
    const parts: Buffer[] = [];
    let size = 0;
    const keep = (chunk: unknown, encoding: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
        size = Infinity; // not a body we can keep: the answer is not stored
        return;
      }
      const b =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk);
      size += b.length;
      if (size <= MAX_STORED_BODY) parts.push(b);
    };
    res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
      keep(chunk, encoding);
      return origWrite(chunk, encoding, cb);
    }) as Response['write'];
    let ended = false;
    res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
      if (ended) return origEnd(chunk, encoding, cb);
      ended = true;
      keep(chunk, encoding);
      const status = res.statusCode;
      const storable = status < 500 && size <= MAX_STORED_BODY;
      const headers: Record<string, string> = {};
      for (const h of STORED_HEADERS) {
        const v = res.getHeader(h);
        if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      const store = storable
        ? svc.complete(r, { status, headers, body: Buffer.concat(parts) })
        : svc.release(r);
      store
        .catch((err: unknown) =>
          logger.error(
            { err, idempotency_key: r.key, path: r.path },
            'storing the idempotent response failed',
          ),
        )
        .finally(() => origEnd(chunk, encoding, cb));
      return res;
    }) as Response['end'];
  }
}
