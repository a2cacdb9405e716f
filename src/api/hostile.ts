/**
 * Input PostgreSQL cannot store or that would exhaust a recursive walker, refused once at the edge for
 * every route: U+0000 and unpaired UTF-16 surrogates in any path parameter, query value or key, JSON
 * string or JSON key, and JSON nested deeper than `MAX_JSON_DEPTH`. Each is a 400 problem naming the field
 * (`path.customerIdOrKey`, `query.filter[key]`, `body.name`, `body[3].data.v`).
 */
import type { Request, RequestHandler, Router } from 'express';
import { badRequest, type InvalidParam } from './problem';
import { rawJsonBody } from './raw-body';
import { textProblem } from '../lib/text';

/** deepest accepted nesting of a JSON body (objects and arrays; `{}` and `[]` count one each) */
export const MAX_JSON_DEPTH = 64;
/** a request reports at most this many bad fields */
const MAX_REPORTED = 20;

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `body.name`, `body[3]`, `body["a b"]` (the key JSON-escaped when it is not a plain identifier) */
function bodyField(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENT.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** `query.filter[key]`: the query string's own bracket syntax below the first level */
function queryField(parent: string, key: string | number): string {
  const k = typeof key === 'number' ? String(key) : JSON.stringify(key).slice(1, -1);
  return parent === 'query' ? `query.${k}` : `${parent}[${k}]`;
}

interface Walk {
  out: InvalidParam[];
  root: 'body' | 'query';
  field: (parent: string, key: string | number) => string;
  /** undefined: no depth limit (query strings are already bounded by the parser) */
  maxDepth: number | undefined;
  /** false: the raw text cannot hold bad text, only the depth needs checking */
  text: boolean;
  /** keys from the root to the value being walked (field names are built only for a report) */
  keys: (string | number)[];
  /** the body is a batch: each problem also carries its element's `index` */
  indexed: boolean;
}

function report(w: Walk, reason: string): void {
  if (w.out.length >= MAX_REPORTED) return;
  const field = w.keys.reduce<string>(w.field, w.root);
  const index = w.keys[0];
  w.out.push(w.indexed && typeof index === 'number' ? { field, reason, index } : { field, reason });
}

/** `depth` = containers entered so far; never recurses deeper than `maxDepth + 1` */
function walk(w: Walk, v: unknown, depth: number): void {
  if (w.out.length >= MAX_REPORTED) return;
  if (typeof v === 'string') {
    if (!w.text) return;
    const p = textProblem(v);
    if (p) report(w, p);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  if (w.maxDepth !== undefined && depth + 1 > w.maxDepth) {
    report(w, `nests deeper than ${w.maxDepth} levels`);
    return;
  }
  const keys = w.keys;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      // primitives other than strings cannot be bad: skip the push/pop
      if (typeof x !== 'object' && (typeof x !== 'string' || !w.text)) continue;
      keys.push(i);
      walk(w, x, depth + 1);
      keys.pop();
    }
    return;
  }
  for (const k in v) {
    const x: unknown = (v as Record<string, unknown>)[k];
    if (w.text) {
      const p = textProblem(k);
      if (p) {
        keys.push(k);
        report(w, `property name ${p}`);
        keys.pop();
      }
    }
    if (typeof x !== 'object' && (typeof x !== 'string' || !w.text)) continue;
    keys.push(k);
    walk(w, x, depth + 1);
    keys.pop();
  }
}

/**
 * What the raw JSON text lets us skip: bad text needs a `\u0000` or `\uD800`–`\uDFFF` escape (UTF-8
 * cannot spell either, and a raw control character is not valid JSON); a depth above the limit needs at
 * least that many `{`/`[` bytes. Counting stops at the limit, so this costs a few `indexOf` scans.
 */
export function rawPrescan(json: Buffer): { text: boolean; depth: boolean } {
  const text = json.includes('\\u0000') || json.includes('\\ud') || json.includes('\\uD');
  let brackets = 0;
  for (const ch of [0x7b, 0x5b]) {
    for (let i = json.indexOf(ch); i !== -1 && brackets <= MAX_JSON_DEPTH; i = json.indexOf(ch, i + 1)) {
      brackets++;
    }
  }
  return { text, depth: brackets > MAX_JSON_DEPTH };
}

function bodyProblems(req: Request): InvalidParam[] {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) {
    return typeof body === 'string' && textProblem(body)
      ? [{ field: 'body', reason: textProblem(body)! }]
      : [];
  }
  const raw = rawJsonBody(req);
  // a body decoded from another charset (a string) is walked in full: rare, and its bytes say nothing
  const scan = Buffer.isBuffer(raw) ? rawPrescan(raw) : { text: true, depth: true };
  if (!scan.text && !scan.depth) return [];
  const w: Walk = {
    out: [],
    root: 'body',
    field: bodyField,
    maxDepth: MAX_JSON_DEPTH,
    text: scan.text,
    keys: [],
    indexed: Array.isArray(body),
  };
  walk(w, body, 0);
  return w.out;
}

/** refuses bad text in query values and keys and in JSON bodies (after express.json) */
export const refuseHostileInput: RequestHandler = (req, _res, next) => {
  const out: InvalidParam[] = [];
  const q: unknown = req.query;
  if (q && typeof q === 'object' && Object.keys(q).length > 0) {
    walk(
      { out, root: 'query', field: queryField, maxDepth: undefined, text: true, keys: [], indexed: false },
      q,
      0,
    );
  }
  if (out.length) {
    next(badRequest('query parameters are invalid', out));
    return;
  }
  const b = bodyProblems(req);
  if (b.length) {
    next(badRequest('request body is invalid', b));
    return;
  }
  next();
};

const PARAM = /:(\w+)/g;

interface RouteLayer {
  route?: { path: string | string[] };
}

/**
 * Checks every named path parameter of `router`'s routes (express decodes parameters per route, so this
 * hooks `router.param` for each name the routes use). Call after the routes are defined.
 */
export function guardPathParams(router: Router): Router {
  const names = new Set<string>();
  for (const layer of router.stack as unknown as RouteLayer[]) {
    const paths = layer.route ? [layer.route.path].flat() : [];
    for (const p of paths) for (const m of p.matchAll(PARAM)) names.add(m[1]);
  }
  for (const name of names) {
    router.param(name, (_req, _res, next, value: unknown) => {
      const p = typeof value === 'string' ? textProblem(value) : undefined;
      if (p) next(badRequest('path parameters are invalid', [{ field: `path.${name}`, reason: p }]));
      else next();
    });
  }
  return router;
}
