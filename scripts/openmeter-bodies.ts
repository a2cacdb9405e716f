/**
 * Builds, from OpenMeter's v3 OpenAPI document, one maximal conformant request body for every operation
 * Tally implements (every optional property present, the first variant of each oneOf/anyOf, the first enum
 * value), and writes them to `test/fixtures/openmeter-requests.json`, which
 * `test/integration/conformance-requests.test.ts` sends to Tally. Run it again when the contract changes:
 *
 *   npx tsx scripts/openmeter-bodies.ts /path/to/openmeter-v3.yaml [out.json]
 *
 * OpenMeter's document is `api/v3/openapi.yaml` in github.com/openmeterio/openmeter (e.g.
 * `git -C openmeter show HEAD:api/v3/openapi.yaml > /tmp/openmeter-v3.yaml`). A second argument writes the
 * bodies there instead of the fixture (to compare before replacing it).
 *
 * The fixture holds our generated examples and the list of OpenMeter's operations that take a JSON body
 * (`METHOD /v3/path`, `{}` for each path parameter), so that the test can tell which operations of Tally's
 * served document OpenMeter also has: each must have a body here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { buildOpenApiDocument } from '../src/api/openapi';

type Schema = Record<string, unknown>;

const specPath = process.argv[2];
if (!specPath) {
  process.stderr.write('usage: tsx scripts/openmeter-bodies.ts <openmeter-v3.yaml>\n');
  process.exit(2);
}
const spec = YAML.parse(readFileSync(specPath, 'utf8')) as {
  paths: Record<string, Record<string, { operationId?: string; requestBody?: unknown }>>;
  components: { schemas: Record<string, Schema> };
};

const ULID = '01JD0000000000000000000000';
const deref = (s: Schema): Schema => {
  const ref = s.$ref as string | undefined;
  return ref ? deref(spec.components.schemas[ref.replace('#/components/schemas/', '')]) : s;
};

/** `allOf` folded into one schema */
function flat(s0: Schema): Schema {
  const s = deref(s0);
  if (!Array.isArray(s.allOf)) return s;
  const out: Schema = { ...s, allOf: undefined };
  for (const part of (s.allOf as Schema[]).map(flat)) {
    for (const [k, v] of Object.entries(part)) {
      if (k === 'properties') out.properties = { ...(out.properties as object), ...(v as object) };
      else if (k === 'required') out.required = [...((out.required as string[]) ?? []), ...(v as string[])];
      else if (out[k] === undefined) out[k] = v;
    }
  }
  return out;
}

function example(s0: Schema, depth = 0): unknown {
  const s = flat(s0);
  if (depth > 8) return undefined;
  if (s.readOnly) return undefined;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum)) return s.enum[0];
  if (s.const !== undefined) return s.const;
  const variants = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  if (variants?.length) return example(variants[0], depth + 1);
  const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : (s.type as string);
  switch (type) {
    case 'object':
    case undefined: {
      if (!s.properties) {
        if (type === undefined) return undefined;
        const ap = s.additionalProperties;
        return ap && typeof ap === 'object' ? { example: example(ap as Schema, depth + 1) } : {};
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties as Record<string, Schema>)) {
        const x = example(v, depth + 1);
        if (x !== undefined) out[k] = x;
      }
      return out;
    }
    case 'array': {
      const x = example((s.items as Schema) ?? {}, depth + 1);
      return x === undefined ? [] : [x];
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? Math.max(s.minimum, 1) : 1;
    case 'boolean':
      return false;
    case 'string':
      return stringExample(s);
    default:
      return undefined;
  }
}

function stringExample(s: Schema): string {
  if (typeof s.example === 'string' && !s.pattern) return s.example;
  switch (s.format) {
    case 'date-time':
      return '2030-01-01T00:00:00Z';
    case 'email':
      return 'billing@example.com';
    case 'uri':
      return 'https://example.com/x';
    default:
  }
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const pattern = str(s.pattern);
  const title = str(s.title);
  if (pattern.includes('0-9A-HJKMNP-TV-Z') || /ulid/i.test(title)) return ULID;
  if (/^\^P/.test(pattern) || /duration/i.test(title || str(s.description))) return 'P1M';
  if (pattern.includes('[A-Z]{3}') || /currency/i.test(title)) return 'USD';
  if (pattern.includes('[A-Z]{2}')) return 'US';
  if (/^-?\d/.test(str(s.example)) || /numeric|decimal/i.test(title)) return '1';
  // OpenMeter's Numeric (`^\-?[0-9]+(\.[0-9]+)?$`): a decimal string
  if (pattern === '^\\-?[0-9]+(\\.[0-9]+)?$') return '1';
  if (typeof s.example === 'string') return s.example;
  return 'example';
}

// the operations Tally mounts (its own document)
const ours = buildOpenApiDocument().paths as Record<string, Record<string, unknown>>;
const norm = (p: string) => p.replace(/\{[^}]+\}/g, '{}');
const mounted = new Set(
  Object.entries(ours).flatMap(([p, item]) =>
    Object.keys(item)
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => `${m.toUpperCase()} ${norm(p.replace(/^\/v3/, ''))}`),
  ),
);

const requests: { operation: string; method: string; path: string; body: unknown }[] = [];
/** every OpenMeter operation with a JSON request body, as `METHOD /v3/path` with `{}` for each parameter */
const withBody: string[] = [];
for (const [p, item] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(item)) {
    const rb = op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined;
    const media = rb?.content?.['application/json'];
    if (!media) continue;
    const key = `${method.toUpperCase()} ${norm(p)}`;
    withBody.push(`${method.toUpperCase()} /v3${norm(p)}`);
    if (!mounted.has(key)) continue;
    requests.push({
      operation: op.operationId ?? key,
      method: method.toUpperCase(),
      path: `/v3${p}`,
      body: example(media.schema),
    });
  }
}
const target = process.argv[3]
  ? path.resolve(process.argv[3])
  : path.resolve(__dirname, '..', 'test', 'fixtures', 'openmeter-requests.json');
const fixture = { openmeter_operations_with_body: withBody.sort(), requests };
writeFileSync(target, `${JSON.stringify(fixture, null, 2)}\n`);
process.stderr.write(
  `${requests.length} request bodies (of ${withBody.length} OpenMeter operations with a body) written to ${path.relative(process.cwd(), target)}\n`,
);
