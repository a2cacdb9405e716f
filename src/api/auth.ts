/**
 * Bearer-token authentication for everything under /v3/openmeter.
 *
 * - Tokens are compared as SHA-256 digests with `timingSafeEqual`, against every configured token without
 *   an early exit, so neither a token's length nor the position of a first wrong character, nor which
 *   configured token matched, shows in the timing.
 * - Failed authentications are counted per client address: after `maxFailures` within `windowMs` the
 *   client gets 429 with `Retry-After` (for every request, a right token included, until the window ends),
 *   so tokens cannot be guessed at speed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { problemBody } from './problem';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** true when `token` equals one of `digests`; always compares against all of them */
export function matchesAny(digests: readonly Buffer[], token: string): boolean {
  const d = digest(token);
  let ok = 0;
  for (const t of digests) ok |= timingSafeEqual(t, d) ? 1 : 0;
  return ok === 1;
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

export function bearerAuth(tokens: readonly string[], limit: AuthLimit): RequestHandler {
  const digests = tokens.map(digest);
  const limiter = new FailureLimiter(limit);
  return (req, res, next) => {
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
    if (token && matchesAny(digests, token)) {
      next();
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
