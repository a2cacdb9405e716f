/**
 * Bearer-token authentication for everything under /v3/openmeter.
 *
 * - Tokens are compared as SHA-256 digests with `timingSafeEqual`, against every configured token without
 *   an early exit, so neither a token's length nor the position of a first wrong character, nor which
 *   configured token matched, shows in the timing.
 * - Failed authentications are counted per client address: after `maxFailures` within `windowMs` the
 *   client gets 429 with `Retry-After` (for every request, a right token included, until the window ends),
 *   so tokens cannot be guessed at speed.
 * - Each token holds scopes (src/lib/token-scopes.ts); which scopes an operation accepts is read from the
 *   served OpenAPI document. A right token outside its scope answers 403 (not counted as a failure).
 *   Operations marked `x-tally-auth: signature` skip the bearer check: their handlers verify the request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import {
  allowed,
  matchOperation,
  operationPolicies,
  parseTokenEntry,
  scopesByToken,
  type Scope,
} from '../lib/token-scopes';
import { problemBody } from './problem';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** true when `token` equals one of `digests`; always compares against all of them */
export function matchesAny(digests: readonly Buffer[], token: string): boolean {
  const d = digest(token);
  let ok = 0;
  for (const t of digests) ok |= timingSafeEqual(t, d) ? 1 : 0;
  return ok === 1;
}

/** the scopes of the configured token equal to `token` (empty when none); compares against all of them */
export function scopesOf(tokens: readonly { digest: Buffer; scopes: ReadonlySet<Scope> }[], token: string) {
  const d = digest(token);
  const held = new Set<Scope>();
  for (const t of tokens) {
    const hit = timingSafeEqual(t.digest, d);
    for (const s of t.scopes) if (hit) held.add(s);
  }
  return held;
}

export interface AuthLimit {
  /** failed authentications a client may make per window */
  maxFailures: number;
  windowMs: number;
}

interface Window {
  start: number;
  failures: number;
}

/** fixed-window failure counts per client; bounded so a flood of addresses cannot grow it without end */
export class FailureLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit: AuthLimit,
    private readonly maxClients = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  private current(client: string): Window | undefined {
    const w = this.windows.get(client);
    if (w && this.now() - w.start >= this.limit.windowMs) {
      this.windows.delete(client);
      return undefined;
    }
    return w;
  }

  /** clients remembered now */
  get size(): number {
    return this.windows.size;
  }

  /** seconds until `client` may try again, or 0 when it is not blocked */
  blockedFor(client: string): number {
    const w = this.current(client);
    if (!w || w.failures < this.limit.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.start + this.limit.windowMs - this.now()) / 1000));
  }

  fail(client: string): void {
    const w = this.current(client);
    if (w) {
      w.failures++;
      return;
    }
    if (this.windows.size >= this.maxClients) this.evictExpired();
    if (this.windows.size >= this.maxClients) {
      // still full: drop the oldest entry (Map iterates in insertion order)
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(client, { start: this.now(), failures: 1 });
  }

  private evictExpired(): void {
    const t = this.now();
    for (const [k, w] of this.windows) if (t - w.start >= this.limit.windowMs) this.windows.delete(k);
  }
}

export function bearerAuth(
  entries: readonly string[],
  limit: AuthLimit,
  doc: { paths?: Record<string, unknown> },
  prefix: string,
): RequestHandler {
  const tokens = [...scopesByToken(entries.map(parseTokenEntry))].map(([t, scopes]) => ({
    digest: digest(t),
    scopes,
  }));
  const policies = operationPolicies(doc, prefix);
  const limiter = new FailureLimiter(limit);
  return (req, res, next) => {
    const op = matchOperation(policies, req.method, req.path);
    // authenticated by its own signature (e.g. a Stripe webhook): its handler verifies the request
    if (op?.ownAuth) {
      next();
      return;
    }
    const client = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.blockedFor(client);
    if (wait > 0) {
      res
        .status(429)
        .set('Retry-After', String(wait))
        .type('application/problem+json')
        .json(
          problemBody(
            429,
            `too many failed authentications from this client (limit ${limit.maxFailures} per ` +
              `${Math.round(limit.windowMs / 1000)} s); retry after ${wait} s`,
            req.originalUrl,
          ),
        );
      return;
    }
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const token = m?.[1]?.trim();
    const held = token ? scopesOf(tokens, token) : new Set<Scope>();
    if (held.size > 0) {
      if (allowed(held, op, req.method)) {
        next();
        return;
      }
      const what = op ? `${op.method} ${prefix}${op.path}` : `${req.method} ${req.path}`;
      const accepts = op ? [...op.scopes].join(', ') : req.method === 'GET' ? 'admin, read' : 'admin';
      res
        .status(403)
        .type('application/problem+json')
        .json(
          problemBody(
            403,
            `this token's scopes (${[...held].join(', ')}) do not allow ${what}; it needs one of: ${accepts}`,
            req.originalUrl,
          ),
        );
      return;
    }
    limiter.fail(client);
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="tally"')
      .type('application/problem+json')
      .json(
        problemBody(
          401,
          token ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token> header',
          req.originalUrl,
        ),
      );
  };
}
