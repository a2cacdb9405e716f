/**
 * The JSONPath subset meters use to read values and dimensions out of an event's `data`.
 *
 * Supported: `$` followed by any number of
 *   - member access `.name` (name = letters, digits, `_`, not starting with a digit),
 *   - quoted member access `["any key"]` / `['any key']` (backslash escapes `\"`, `\'`, `\\`),
 *   - array index `[N]` (N a non-negative integer).
 * Anything else (wildcards, filters, slices, recursive descent, negative indexes) is rejected.
 *
 * A path translates to a PostgreSQL text-array path for `data #>> '{usage,tokens}'`, which is what the
 * meter queries use (faster than SQL/JSONPath and expression-indexable). Note that `#>>` resolves a
 * numeric segment against arrays (index) and objects (key "0") alike, so `$.a[0]` also reads `{"a":{"0":..}}`.
 */

export class JsonPathError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'JsonPathError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Parses a JSONPath into its segments (object keys or array indexes as strings); throws JsonPathError. */
export function parseJsonPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0)
    throw new JsonPathError(path, 'must be a JSONPath like $.field');
  if (path.length > 512) throw new JsonPathError(path, 'is longer than 512 characters');
  if (path[0] !== '$') throw new JsonPathError(path, 'must start with $');
  const segs: string[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      const m = IDENT.exec(path.slice(i + 1));
      if (!m) throw new JsonPathError(path, `expected a property name after "." at position ${i}`);
      segs.push(m[0]);
      i += 1 + m[0].length;
    } else if (c === '[') {
      const q = path[i + 1];
      if (q === '"' || q === "'") {
        let j = i + 2;
        let key = '';
        for (;;) {
          if (j >= path.length) throw new JsonPathError(path, `unterminated quoted name at position ${i}`);
          const ch = path[j];
          if (ch === '\\') {
            const nx = path[j + 1];
            if (nx !== '"' && nx !== "'" && nx !== '\\')
              throw new JsonPathError(path, `unsupported escape at position ${j}`);
            key += nx;
            j += 2;
          } else if (ch === q) {
            break;
          } else {
            key += ch;
            j += 1;
          }
        }
        if (path[j + 1] !== ']') throw new JsonPathError(path, `expected "]" at position ${j + 1}`);
        if (key.length === 0) throw new JsonPathError(path, `empty property name at position ${i}`);
        segs.push(key);
        i = j + 2;
      } else {
        const m = /^\[(0|[1-9][0-9]{0,8})\]/.exec(path.slice(i));
        if (!m) {
          throw new JsonPathError(
            path,
            `unsupported selector at position ${i}: only [N], ["name"] and .name are supported`,
          );
        }
        segs.push(m[1]);
        i += m[0].length;
      }
    } else {
      throw new JsonPathError(path, `unexpected "${c}" at position ${i}`);
    }
  }
  if (segs.length === 0) throw new JsonPathError(path, 'must select a value inside data, e.g. $.field');
  return segs;
}

/** The PostgreSQL text[] literal for a parsed path, e.g. `{"usage","tokens"}` (bind it as `?::text[]`). */
export function toPgTextArray(segs: string[]): string {
  return `{${segs.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

/** Validates and translates in one go: JSONPath → text[] literal. */
export function jsonPathToPg(path: string): string {
  return toPgTextArray(parseJsonPath(path));
}

/** Reason the path is unsupported, or undefined when it is fine. */
export function jsonPathProblem(path: string): string | undefined {
  try {
    parseJsonPath(path);
    return undefined;
  } catch (e) {
    if (e instanceof JsonPathError) return e.message;
    throw e;
  }
}
