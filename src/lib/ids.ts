import { ulid } from 'ulid';

/** Resource ids are ULIDs (26 chars, time-ordered), as in OpenMeter. */
export const newId = (): string => ulid();

/**
 * ULIDs are case-insensitive (Crockford base 32): any 26 characters of that alphabet, in either case, are
 * shaped like an id. No resource key may have this shape (see `assertNotIdShaped` in the routes), so a
 * path segment or reference that looks like an id is only ever looked up as an id, and never as a key.
 */
export const ULID_SHAPE_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/i;
export const looksLikeId = (s: string): boolean => ULID_SHAPE_RE.test(s);

/** Why a key is refused when it is shaped like an id (one message for every resource). */
export const KEY_IS_ID_SHAPED =
  'must not be shaped like an id (26 characters of the ULID alphabet, any case)';

/**
 * How an "id or key" path segment or reference is looked up: as an id (upper-cased, ULIDs being
 * case-insensitive) when it is shaped like one, else as a key. Never both.
 */
export function idOrKey(s: string): { id: string } | { key: string } {
  return looksLikeId(s) ? { id: s.toUpperCase() } : { key: s };
}
