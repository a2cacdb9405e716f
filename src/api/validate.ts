/** Validation at the edge: zod schemas, failures as 400 problem+json naming each bad field. */
import type { z } from 'zod';
import { badRequest, type InvalidParam } from './problem';

export function issuesToParams(issues: z.core.$ZodIssue[], root: string): InvalidParam[] {
  return issues.map((i) => {
    const field = i.path.reduce<string>(
      (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : `${acc}.${String(seg)}`),
      root,
    );
    return { field, reason: i.message };
  });
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw badRequest('request body is invalid', issuesToParams(r.error.issues, 'body'));
  return r.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const r = schema.safeParse(query);
  if (!r.success) throw badRequest('query parameters are invalid', issuesToParams(r.error.issues, 'query'));
  return r.data;
}
