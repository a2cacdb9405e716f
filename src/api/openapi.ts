/**
 * Our OpenAPI document: `api/openapi.base.yaml` plus each domain's fragments, `src/<domain>/openapi.yaml` and
 * `src/<domain>/<part>.openapi.yaml` (paths and components.schemas; a path or schema defined twice is an
 * error), merged once at start-up and served as JSON and YAML.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');

type Doc = {
  paths?: Record<string, unknown>;
  components?: { schemas?: Record<string, unknown>; [k: string]: unknown };
  [k: string]: unknown;
};

export function fragmentFiles(): string[] {
  const src = path.join(ROOT, 'src');
  return readdirSync(src, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(src, d.name))
        .filter((f) => f === 'openapi.yaml' || f.endsWith('.openapi.yaml'))
        .map((f) => path.join(src, d.name, f)),
    )
    .filter((f) => existsSync(f))
    .sort();
}

export function buildOpenApiDocument(): Doc {
  const doc = YAML.parse(readFileSync(path.join(ROOT, 'api', 'openapi.base.yaml'), 'utf8')) as Doc;
  doc.paths ??= {};
  doc.components ??= {};
  doc.components.schemas ??= {};
  for (const file of fragmentFiles()) {
    const frag = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Doc;
    for (const [p, item] of Object.entries(frag.paths ?? {})) {
      if (doc.paths[p]) throw new Error(`${file}: path ${p} is already defined`);
      doc.paths[p] = item;
    }
    for (const [n, s] of Object.entries(frag.components?.schemas ?? {})) {
      if (doc.components.schemas[n]) throw new Error(`${file}: schema ${n} is already defined`);
      doc.components.schemas[n] = s;
    }
  }
  addEdgeResponses(doc);
  return doc;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

type Operation = { parameters?: unknown[]; responses?: Record<string, unknown> };

/** Every POST takes an Idempotency-Key (src/api/idempotency.ts): its header, its 409 and 422. */
function addIdempotency(op: Operation): void {
  const param = { $ref: '#/components/parameters/IdempotencyKey' };
  op.parameters ??= [];
  if (!op.parameters.some((p) => (p as { $ref?: string }).$ref === param.$ref)) op.parameters.push(param);
  op.responses ??= {};
  op.responses['409'] ??= { $ref: '#/components/responses/IdempotencyKeyInFlight' };
  op.responses['422'] ??= { $ref: '#/components/responses/IdempotencyKeyReused' };
}
const EDGE_RESPONSES: Record<string, string> = {
  '400': '#/components/responses/Problem',
  '401': '#/components/responses/Problem',
  '403': '#/components/responses/Problem',
  '429': '#/components/responses/TooManyRequests',
  '503': '#/components/responses/Unavailable',
};

/**
 * The answers the edge (src/api) may give on every operation under /v3/openmeter, whatever the route:
 * 400 for hostile input, 401, 429 for repeated failed authentications, 503 for an outage (with
 * Retry-After); on every POST, the Idempotency-Key header with its 409 and 422. A fragment's own
 * description of a status wins unless it is the generic Problem.
 */
function addEdgeResponses(doc: Doc): void {
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    if (!p.startsWith('/v3/openmeter/') || typeof item !== 'object' || item === null) continue;
    for (const m of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[m];
      if (!op) continue;
      op.responses ??= {};
      for (const [status, ref] of Object.entries(EDGE_RESPONSES)) {
        const own = op.responses[status] as { $ref?: string } | undefined;
        // the generic Problem becomes the edge's own (429/503 document Retry-After)
        if (!own || own.$ref === EDGE_RESPONSES['400']) op.responses[status] = { $ref: ref };
      }
      if (m === 'post') addIdempotency(op);
    }
  }
}
