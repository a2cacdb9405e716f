/**
 * The JSON parser keeps each request's raw bytes (after content decoding) next to the parsed body, so a
 * route may pass them on unchanged (event ingestion stores a validated batch without serializing it again).
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';

const RAW = Symbol('rawBody');

type WithRaw = IncomingMessage & { [RAW]?: Buffer };

/** `verify` option of express.json: remembers the buffer it is about to parse */
export function keepRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  (req as WithRaw)[RAW] = buf;
}

/**
 * The request's JSON text as UTF-8 bytes exactly as parsed into `req.body`, or undefined when the bytes
 * are not that (another charset, invalid UTF-8 that the decoder replaced) or were not kept.
 */
export function rawJsonBody(req: Request): Buffer | undefined {
  let buf = (req as unknown as WithRaw)[RAW];
  if (!buf) return undefined;
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return undefined;
  // the decoder drops a byte order mark before JSON.parse; PostgreSQL's JSON parser would not
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
  return isUtf8(buf) ? buf : undefined;
}
