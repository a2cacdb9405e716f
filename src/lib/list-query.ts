/**
 * OpenMeter's list query forms, parsed once for every list: `filter[<field>]` in each of its filter types
 * (StringFieldFilter, StringFieldFilterExact, ULIDFieldFilter, DateTimeFieldFilter) — a bare value or the
 * deepObject form `filter[f][eq]=…`, `[neq]`, `[oeq]=a,b`, `[contains]`, `[ocontains]`, `[gt]`… — Tally's
 * label filter `filter[labels.<key>]` (an extension: OpenMeter defines none), and `sort=field [asc|desc],…`.
 * `whereFilter` and `orderBy` turn them into SQL with the `Sql` builder.
 */
import { z } from 'zod';
import { isRfc3339 } from './time';
import { Sql } from '../db/sql';

export type FieldFilter =
  | { op: 'eq' | 'neq' | 'contains' | 'gt' | 'gte' | 'lt' | 'lte'; value: string }
  | { op: 'oeq' | 'ocontains'; values: string[] }
  | { op: 'exists'; value: boolean };

export type FilterOp = FieldFilter['op'];

/** the operators each of OpenMeter's filter types allows */
export const FILTER_OPS = {
  /** StringFieldFilter */
  string: ['eq', 'neq', 'contains', 'ocontains', 'oeq', 'gt', 'gte', 'lt', 'lte', 'exists'],
  /** StringFieldFilterExact */
  exact: ['eq', 'oeq', 'neq'],
  /** ULIDFieldFilter */
  ulid: ['eq', 'oeq', 'neq'],
  /** DateTimeFieldFilter */
  datetime: ['eq', 'lt', 'lte', 'gt', 'gte'],
} as const satisfies Record<string, readonly FilterOp[]>;

export type FilterKind = keyof typeof FILTER_OPS;

const dateTime = z.string().refine(isRfc3339, { message: 'must be an RFC 3339 date-time' });

/**
 * A zod schema for one `filter[field]`: a bare value (`eq`) or an object with exactly one of the kind's
 * operators. `oeq`/`ocontains` split on commas; `exists` is `true` or `false`. Datetime values are checked.
 * `values`, when given, restricts what `eq`/`neq`/`oeq` may name (e.g. a status enum).
 */
export function fieldFilter(kind: FilterKind, values?: readonly string[]) {
  const ops: readonly FilterOp[] = FILTER_OPS[kind];
  const shape: Record<string, z.ZodType> = {};
  for (const op of ops) shape[op] = op === 'exists' ? z.enum(['true', 'false']) : z.string();
  return z
    .union([z.string(), z.array(z.string()), z.strictObject(shape).partial()])
    .transform((v, ctx): FieldFilter => {
      // a repeated `filter[f]=a&filter[f]=b` is `oeq`
      const obj = (
        typeof v === 'string'
          ? { eq: v }
          : Array.isArray(v)
            ? { [ops.includes('oeq') ? 'oeq' : 'eq']: v.join(',') }
            : v
      ) as Record<string, string | undefined>;
      const given = ops.filter((op) => obj[op] !== undefined);
      if (given.length !== 1) {
        ctx.addIssue({ code: 'custom', message: `exactly one operator of ${ops.join(', ')} is required` });
        return z.NEVER;
      }
      const op = given[0];
      const raw = obj[op]!;
      if (op === 'exists') return { op, value: raw === 'true' };
      const list = op === 'oeq' || op === 'ocontains' ? raw.split(',').map((s) => s.trim()) : [raw];
      for (const x of list) {
        if (kind === 'datetime' && !dateTime.safeParse(x).success) {
          ctx.addIssue({ code: 'custom', message: 'must be an RFC 3339 date-time' });
          return z.NEVER;
        }
        if (values && (op === 'eq' || op === 'neq' || op === 'oeq') && !values.includes(x)) {
          ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}` });
          return z.NEVER;
        }
      }
      if (op === 'oeq' || op === 'ocontains') return { op, values: list };
      return { op, value: list[0] };
    });
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Appends `col <op> value` for one filter. `col` is trusted SQL (a column, or an expression such as
 * `labels->>?` whose own params are `colParams`); values are always bound. Text comparisons are on text:
 * a timestamptz column is compared as an instant (`?::timestamptz`) when `instant` is set.
 */
export function whereFilter(
  q: Sql,
  col: string,
  f: FieldFilter,
  opts: { instant?: boolean; colParams?: unknown[] } = {},
): Sql {
  const c = (text: string, ...values: unknown[]) => {
    // the column expression may hold placeholders of its own: repeat its params wherever it appears
    const cp = opts.colParams ?? [];
    const parts = text.split('#');
    const params: unknown[] = [];
    let vi = 0;
    let out = '';
    parts.forEach((part, i) => {
      if (i > 0) {
        out += col;
        params.push(...cp);
      }
      out += part;
      const n = part.split('?').length - 1;
      params.push(...values.slice(vi, vi + n));
      vi += n;
    });
    return q.add(out, ...params);
  };
  const v = opts.instant ? '?::timestamptz' : '?';
  switch (f.op) {
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const sqlOp = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' }[f.op];
      return c(`# ${sqlOp} ${v}`, f.value);
    }
    case 'neq':
      return c(`(# is null or # <> ${v})`, f.value);
    case 'contains':
      return c(`# ilike '%' || ? || '%'`, likeEscape(f.value));
    case 'oeq':
      return c(`# in (${f.values.map(() => v).join(', ')})`, ...f.values);
    case 'ocontains':
      return c(
        `(${f.values.map(() => `# ilike '%' || ? || '%'`).join(' or ')})`,
        ...f.values.map(likeEscape),
      );
    case 'exists':
      return c(f.value ? '# is not null' : '# is null');
  }
}

const LABEL_KEY = /^labels\.(.+)$/;

/**
 * The `filter` object of a list query: the named fields with their filter kinds, plus (with `labels`)
 * any number of `filter[labels.<key>]` string filters, collected as `labels: { key: FieldFilter }`.
 * Unknown fields are refused (`unknown_property`).
 */
export function filterObject<T extends Record<string, z.ZodType>>(
  fields: T,
  opts: { labels?: boolean } = {},
) {
  const known = z.strictObject(fields).partial();
  const label = fieldFilter('string');
  return z.record(z.string(), z.unknown()).transform((raw, ctx) => {
    const plain: Record<string, unknown> = {};
    const labels: Record<string, FieldFilter> = {};
    for (const [k, v] of Object.entries(raw)) {
      const m = opts.labels ? LABEL_KEY.exec(k) : null;
      if (!m) {
        plain[k] = v;
        continue;
      }
      const r = label.safeParse(v);
      if (!r.success) {
        for (const i of r.error.issues) {
          if (i.code === 'unrecognized_keys')
            for (const key of i.keys)
              ctx.addIssue({ code: 'custom', path: [k, ...i.path, key], message: 'unknown_property' });
          else ctx.addIssue({ code: 'custom', path: [k, ...i.path], message: i.message });
        }
        continue;
      }
      labels[m[1]] = r.data;
    }
    const r = known.safeParse(plain);
    if (!r.success) {
      for (const i of r.error.issues) {
        if (i.code === 'unrecognized_keys')
          for (const key of i.keys)
            ctx.addIssue({ code: 'custom', path: [...i.path, key], message: 'unknown_property' });
        else ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
      }
      return z.NEVER;
    }
    return { ...r.data, ...(Object.keys(labels).length ? { labels } : {}) } as {
      [K in keyof T]?: z.output<T[K]>;
    } & { labels?: Record<string, FieldFilter> };
  });
}

/** Appends one `labels->>'k' <op> v` condition per label filter (joined with ` and `). */
export function whereLabels(q: Sql, col: string, labels: Record<string, FieldFilter> | undefined): Sql {
  let first = true;
  for (const [k, f] of Object.entries(labels ?? {})) {
    if (!first) q.add(' and ');
    first = false;
    whereFilter(q, `(${col}->>?)`, f, { colParams: [k] });
  }
  return q;
}

export interface SortKey<F extends string = string> {
  field: F;
  desc: boolean;
}

/**
 * `sort=field [asc|desc],field2 desc`: OpenMeter's SortQuery over the given fields (ascending unless `desc`).
 */
export function sortQuery<F extends string>(fields: readonly F[]) {
  return z
    .string()
    .optional()
    .transform((s, ctx): SortKey<F>[] | undefined => {
      if (!s) return undefined;
      const out: SortKey<F>[] = [];
      for (const part of s.split(',')) {
        const m = /^\s*([a-z_.]+)(?:\s+(asc|desc))?\s*$/i.exec(part);
        const field = fields.find((f) => f === m?.[1]);
        if (!m || !field) {
          ctx.addIssue({ code: 'custom', message: `sort by one of ${fields.join(', ')} [asc|desc]` });
          return z.NEVER;
        }
        out.push({ field, desc: m[2]?.toLowerCase() === 'desc' });
      }
      return out;
    });
}

/**
 * ` order by …` for the sort keys (columns mapped by `columns`), then `tiebreak` (e.g. the id) so that pages
 * are stable; `fallback` when no sort was given.
 */
export function orderBy<F extends string>(
  sort: SortKey<F>[] | undefined,
  columns: Record<F, string>,
  fallback: SortKey<F>[],
  tiebreak: string,
): string {
  const keys = sort?.length ? sort : fallback;
  const parts = keys.map((k) => `${columns[k.field]} ${k.desc ? 'desc' : 'asc'}`);
  if (!keys.some((k) => columns[k.field] === tiebreak)) parts.push(`${tiebreak} asc`);
  return ` order by ${parts.join(', ')}`;
}
