/**
 * The JSON parser keeps each request's raw bytes (after content decoding) next to the parsed body, so a
 * route may pass them on unchanged (event ingestion stores a validated batch without serializing it again).
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import iconv from 'iconv-lite';

const RAW = Symbol('rawBody');

type WithRaw = IncomingMessage & { [RAW]?: Buffer };

/** `verify` option of express.json: remembers the buffer it is about to parse */
export function keepRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  (req as WithRaw)[RAW] = buf;
}

/**
 * The request's JSON text exactly as parsed into `req.body`: its UTF-8 bytes when they are valid UTF-8
 * (the common case: passed on without copying), otherwise the text the parser decoded (another charset, or
 * invalid UTF-8 with replacement characters), decoded the same way (iconv-lite, as body-parser does).
 * Undefined when the bytes were not kept.
 */
export function rawJsonBody(req: Request): Buffer | string | undefined {
  let buf = (req as unknown as WithRaw)[RAW];
  if (!buf) return undefined;
  const charset =
    /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase() ?? 'utf-8';
  if (charset === 'utf-8' || charset === 'utf8') {
    // the decoder drops a byte order mark before JSON.parse; PostgreSQL's JSON parser would not
    if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    if (isUtf8(buf)) return buf;
  }
  return iconv.decode(buf, charset);
}
