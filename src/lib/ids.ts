import { ulid } from 'ulid';

/** Resource ids are ULIDs (26 chars, time-ordered), as in OpenMeter. */
export const newId = (): string => ulid();

export const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const isUlid = (s: string): boolean => ULID_RE.test(s);
