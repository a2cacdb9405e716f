/** Bearer-token authentication for everything under /v3/openmeter. */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { problemBody } from './problem';

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function bearerAuth(tokens: readonly string[]): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const token = m?.[1]?.trim();
    if (token && tokens.some((t) => safeEqual(t, token))) {
      next();
      return;
    }
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
