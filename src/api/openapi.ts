/**
 * Our OpenAPI document: `api/openapi.base.yaml` plus each domain's fragment `src/<domain>/openapi.yaml`
 * (paths and components.schemas), merged once at start-up and served as JSON and YAML.
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
    .map((d) => path.join(src, d.name, 'openapi.yaml'))
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
  return doc;
}
