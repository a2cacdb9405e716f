/** Validation at the edge: zod schemas, failures as 400 problem+json naming each bad field. */
import type { z } from 'zod';
import { badRequest, type InvalidParam } from './problem';

/**
 * `body.phases[0].rate_cards[1].price`-style field names; each unknown property named on its own. Query
 * fields keep the query string's own spelling below the first level: `query.filter[key]`, `query.page[size]`.
 */
export function issuesToParams(issues: z.core.$ZodIssue[], root: string): InvalidParam[] {
  const path = (segs: PropertyKey[]) =>
    segs.reduce<string>((acc, seg, i) => {
      if (typeof seg === 'number') return `${acc}[${seg}]`;
      return root === 'query' && i > 0 ? `${acc}[${String(seg)}]` : `${acc}.${String(seg)}`;
    }, root);
  return issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ field: path([...i.path, k]), reason: 'unknown_property' }))
      : [{ field: path(i.path), reason: i.message }],
  );
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
