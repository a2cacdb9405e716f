/**
 * The `GET /events` page cursor: the position (time, source, id) of a page's last event, as base64url
 * JSON. Decoding accepts only what the encoder writes (a real instant, text PostgreSQL can hold, the
 * canonical spelling); anything else is a 400 naming `query.page[after]`. No I/O.
 */
import { invalid } from '../lib/errors';
import { textProblem } from '../lib/text';

export interface Cursor {
  time: string;
  source: string;
  id: string;
}

export const encodeCursor = (c: Cursor): string =>
  Buffer.from(JSON.stringify([c.time, c.source, c.id]), 'utf8').toString('base64url');

const CURSOR_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;
const CURSOR_PART_MAX = 1024;

/** a real instant in years 1..9999 (what PostgreSQL's timestamptz and our encoder produce) */
function isCursorTime(t: string): boolean {
  const m = CURSOR_TIME.exec(t);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** PostgreSQL text cannot hold NUL nor unpaired surrogates; the encoder never produces them */
const isCursorText = (x: string): boolean => x.length <= CURSOR_PART_MAX && textProblem(x) === undefined;

/**
 * The position `encodeCursor` wrote. Anything else, including a forged cursor of the right shape that
 * carries an impossible date, NUL or non-canonical base64, is a 400 naming `query.page[after]`.
 */
export function decodeCursor(s: string, field = 'query.page[after]'): Cursor {
  try {
    const buf = Buffer.from(s, 'base64url');
    // Buffer.from ignores characters outside the alphabet: accept only the canonical spelling
    if (buf.length > 0 && buf.toString('base64url') === s) {
      const v = JSON.parse(buf.toString('utf8')) as unknown;
      if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'string')) {
        const [time, source, id] = v as [string, string, string];
        if (isCursorTime(time) && isCursorText(source) && isCursorText(id)) return { time, source, id };
      }
    }
  } catch {
    // fall through
  }
  throw invalid('query parameters are invalid', [{ field, reason: 'is not a valid cursor' }]);
}
