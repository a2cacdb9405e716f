/**
 * Schemas of OpenMeter's shared types, used by every router that takes them (one rule each).
 */
import { z } from 'zod';
import { isRfc3339 } from '../lib/time';

const LABEL_KEY = /^[a-z0-9A-Z]([a-z0-9A-Z\-._]*[a-z0-9A-Z]+)?$/;
/** OpenMeter's well-known labels (`openmeter.io/…`, e.g. the sandbox app's `openmeter.io/sandbox/target-payment-status`) */
const OPENMETER_LABEL = /^openmeter\.io\/[a-z0-9-]+(\/[a-z0-9-]+)*$/;
const RESERVED_LABEL_PREFIXES = ['kong', 'konnect', 'mesh', 'kic', '_'];

/**
 * OpenMeter's `Labels`: at most 50; keys of 1-63 characters of the label alphabet that do not start with a
 * reserved prefix (`kong`, `konnect`, `mesh`, `kic`, `_`), or OpenMeter's well-known `openmeter.io/…` keys; values strings of at most 1,024 characters.
 * Each bad key is named on its own (`body.labels.<key>`).
 */
export const labels = z.record(z.string(), z.string().max(1024)).superRefine((obj, ctx) => {
  const keys = Object.keys(obj);
  if (keys.length > 50) ctx.addIssue({ code: 'custom', message: 'at most 50 labels are allowed' });
  for (const k of keys) {
    if (OPENMETER_LABEL.test(k)) continue;
    if (k.length > 63 || !LABEL_KEY.test(k))
      ctx.addIssue({ code: 'custom', path: [k], message: 'invalid label key' });
    else if (RESERVED_LABEL_PREFIXES.some((p) => k.toLowerCase().startsWith(p)))
      ctx.addIssue({ code: 'custom', path: [k], message: 'label keys may not use a reserved prefix' });
  }
});

/** OpenMeter's `Address` (every field optional; the country an ISO 3166-1 alpha-2 code). */
export const postalAddress = z.strictObject({
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code')
    .optional(),
  postal_code: z.string().max(256).optional(),
  state: z.string().max(256).optional(),
  city: z.string().max(256).optional(),
  line1: z.string().max(256).optional(),
  line2: z.string().max(256).optional(),
  phone_number: z.string().max(256).optional(),
});

/**
 * An RFC 3339 date-time (offset required) with a real calendar date and an offset PostgreSQL can read
 * (at most ±15:59): the one rule for every instant a request carries.
 */
export const dateTime = z.string().refine(isRfc3339, { message: 'must be an RFC 3339 date-time' });
