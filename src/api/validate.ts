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
  return issues.flatMap((i): InvalidParam[] =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({
          field: path([...i.path, k]),
          reason: 'unknown_property',
          rule: 'unknown_property',
        }))
      : [{ field: path(i.path), reason: i.message, ...ruleOf(i) }],
  );
}

const TYPE_RULES: Record<string, string> = {
  string: 'is_string',
  number: 'is_number',
  int: 'is_integer',
  boolean: 'is_boolean',
  object: 'is_object',
  array: 'is_array',
  null: 'is_null',
};

/** OpenMeter's `rule` (and its companion field) for a zod issue */
function ruleOf(i: z.core.$ZodIssue): Pick<InvalidParam, 'rule' | 'minimum' | 'maximum' | 'choices'> {
  if (i.message === 'unknown_property') return { rule: 'unknown_property' };
  switch (i.code) {
    case 'invalid_type':
      if (i.input === undefined) return { rule: 'required' };
      return { rule: TYPE_RULES[i.expected] ?? 'type' };
    case 'too_small': {
      const minimum = Number(i.minimum);
      const rule = i.origin === 'string' ? 'min_length' : i.origin === 'array' ? 'min_items' : 'min';
      return Number.isInteger(minimum) ? { rule, minimum } : { rule: 'invalid' };
    }
    case 'too_big': {
      const maximum = Number(i.maximum);
      const rule = i.origin === 'string' ? 'max_length' : i.origin === 'array' ? 'max_items' : 'max';
      return Number.isInteger(maximum) ? { rule, maximum } : { rule: 'invalid' };
    }
    case 'invalid_value':
      return i.values.length ? { rule: 'enum', choices: i.values } : { rule: 'invalid' };
    case 'invalid_format':
      if (i.format === 'datetime' || i.format === 'date') return { rule: 'is_date_time' };
      if (i.format === 'uuid') return { rule: 'is_uuid' };
      if (i.format === 'regex') return { rule: 'matches_regex' };
      return { rule: 'invalid' };
    default:
      return { rule: 'invalid' };
  }
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body, { reportInput: true });
  if (!r.success) throw badRequest('request body is invalid', issuesToParams(r.error.issues, 'body'));
  return r.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const r = schema.safeParse(query, { reportInput: true });
  if (!r.success) throw badRequest('query parameters are invalid', issuesToParams(r.error.issues, 'query'));
  return r.data;
}
