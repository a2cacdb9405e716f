/**
 * Token scopes (pure: no I/O). `TALLY_API_TOKENS` lists entries `scope=token` (a bare token is `admin`);
 * the same token listed twice holds both scopes. Which scopes an operation accepts is read from the served
 * OpenAPI document, so a new route is covered the moment it is documented:
 *
 * - `admin` may call every operation;
 * - `read` may call every GET, and the POST queries that change nothing (`x-tally-scopes` lists `read`);
 * - `ingest` may send events, `access` may query entitlement access: each where `x-tally-scopes` names it;
 * - an operation with `x-tally-auth: signature` is authenticated by its own signature or token (a Stripe
 *   webhook, a custom-invoicing callback), never by a bearer token: the bearer check skips it and its handler
 *   must verify the request itself.
 */

export const SCOPES = ['admin', 'read', 'ingest', 'access'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenEntry {
  token: string;
  scope: Scope;
}

/** an entry's `scope=` prefix: a short lower-case word (a long base64 token ending in `=` stays bare) */
const SCOPED = /^([a-z_]{1,16})=(.*)$/s;

/** `scope=token` or a bare token (admin); throws naming the entry when the scope is unknown */
export function parseTokenEntry(entry: string): TokenEntry {
  const m = SCOPED.exec(entry);
  if (!m) return { token: entry, scope: 'admin' };
  const [, scope, token] = m as unknown as [string, string, string];
  if (!(SCOPES as readonly string[]).includes(scope)) {
    throw new Error(`unknown scope "${scope}" (scopes: ${SCOPES.join(', ')})`);
  }
  return { token: token.trim(), scope: scope as Scope };
}

/** token → its scopes, merged over entries that repeat a token */
export function scopesByToken(entries: readonly TokenEntry[]): Map<string, Set<Scope>> {
  const out = new Map<string, Set<Scope>>();
  for (const e of entries) {
    const s = out.get(e.token) ?? new Set<Scope>();
    s.add(e.scope);
    out.set(e.token, s);
  }
  return out;
}

export interface OperationPolicy {
  method: string;
  /** the documented path, relative to the API prefix (e.g. `/customers/{customerId}`) */
  path: string;
  operationId?: string;
  /** scopes allowed (admin always is) */
  scopes: ReadonlySet<Scope>;
  /** authenticated by its own signature: no bearer token is asked for */
  ownAuth: boolean;
  regex: RegExp;
  literals: number;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface OperationDoc {
  operationId?: string;
  'x-tally-scopes'?: unknown;
  'x-tally-auth'?: unknown;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The policy of every operation under `prefix` in an OpenAPI document. `x-tally-scopes` must name known
 * scopes (a typo would silently lock a token out): an unknown one throws.
 */
export function operationPolicies(
  doc: { paths?: Record<string, unknown> },
  prefix: string,
): OperationPolicy[] {
  const out: OperationPolicy[] = [];
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    if (!p.startsWith(`${prefix}/`) || typeof item !== 'object' || item === null) continue;
    const rel = p.slice(prefix.length);
    const segments = rel.split('/').slice(1);
    const regex = new RegExp(
      `^${segments.map((s) => '/' + (/^\{[^}]+\}$/.test(s) ? '[^/]+' : escapeRegex(s))).join('')}/?$`,
    );
    const literals = segments.filter((s) => !s.startsWith('{')).length;
    for (const m of METHODS) {
      const op = (item as Record<string, OperationDoc | undefined>)[m];
      if (!op) continue;
      const scopes = new Set<Scope>(['admin']);
      if (m === 'get') scopes.add('read');
      const declared = op['x-tally-scopes'] ?? [];
      if (!Array.isArray(declared)) throw new Error(`${m.toUpperCase()} ${p}: x-tally-scopes must be a list`);
      for (const s of declared) {
        if (!(SCOPES as readonly unknown[]).includes(s)) {
          throw new Error(`${m.toUpperCase()} ${p}: unknown scope ${String(s)} in x-tally-scopes`);
        }
        scopes.add(s as Scope);
      }
      const auth = op['x-tally-auth'];
      if (auth !== undefined && auth !== 'signature') {
        throw new Error(`${m.toUpperCase()} ${p}: x-tally-auth must be "signature"`);
      }
      out.push({
        method: m.toUpperCase(),
        path: rel,
        operationId: op.operationId,
        scopes,
        ownAuth: auth === 'signature',
        regex,
        literals,
      });
    }
  }
  // a literal segment wins over a parameter (`/invoices/preview` before `/invoices/{id}`)
  return out.sort((a, b) => b.literals - a.literals);
}

/** the documented operation a request reaches, or undefined (the router then answers 404 or 405) */
export function matchOperation(
  policies: readonly OperationPolicy[],
  method: string,
  path: string,
): OperationPolicy | undefined {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  return policies.find((p) => p.method === m && p.regex.test(path));
}

/**
 * Whether a token with `held` scopes may call `op`. A request to no documented operation needs `admin`
 * or, for a GET, `read` (it answers 404 either way; a narrower token learns nothing more).
 */
export function allowed(held: ReadonlySet<Scope>, op: OperationPolicy | undefined, method: string): boolean {
  if (held.has('admin')) return true;
  if (!op) return method.toUpperCase() === 'GET' && held.has('read');
  for (const s of held) if (op.scopes.has(s)) return true;
  return false;
}
