/**
 * Checks an API answer against the schema the API's own served document gives it (`/openapi.json`), so a
 * test that reads a resource also proves the document describes it. The document is built from the same
 * fragments whatever the app, so it is compiled once per test file.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { buildOpenApiDocument } from '../../src/api/openapi';

let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function validator(schemaName: string): ValidateFunction {
  let v = validators.get(schemaName);
  if (!v) {
    if (!ajv) {
      // OpenAPI 3.1 keywords (`example`, `discriminator`…) are annotations here
      ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      ajv.addSchema({ $id: 'tally', components: buildOpenApiDocument().components }, 'tally');
    }
    v = ajv.compile({ $ref: `tally#/components/schemas/${schemaName}` });
    validators.set(schemaName, v);
  }
  return v;
}

/** Throws, listing every violation, unless `body` matches the served document's `schemaName`. */
export function expectServedSchema(schemaName: string, body: unknown): void {
  const v = validator(schemaName);
  if (!v(body))
    throw new Error(
      `the answer does not match the served ${schemaName} schema:\n` +
        (v.errors ?? [])
          .map((e) => `  ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
          .join('\n'),
    );
}
