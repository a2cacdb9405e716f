/**
 * JSON text sent exactly as stored. An event's `data` is listed from PostgreSQL's own text of the jsonb, so
 * a number such as 9007199254740993 reaches the client as it was ingested and billed, not rounded through a
 * JavaScript number. `stringifyWithRaw` splices each `RawJson` into the serialized document.
 */
let spliced: string[] | undefined;

export class RawJson {
  constructor(readonly text: string) {}

  /** inside `stringifyWithRaw` a placeholder (U+0000 never occurs in jsonb); elsewhere the parsed value */
  toJSON(): unknown {
    if (!spliced) return JSON.parse(this.text) as unknown;
    spliced.push(this.text);
    return `\u0000${spliced.length - 1}\u0000`;
  }
}

/** JSON.stringify that writes every RawJson's text in place */
export function stringifyWithRaw(value: unknown): string {
  const texts: string[] = [];
  spliced = texts;
  let out: string;
  try {
    out = JSON.stringify(value);
  } finally {
    spliced = undefined;
  }
  return texts.length ? out.replace(/"\\u0000(\d+)\\u0000"/g, (_, i: string) => texts[Number(i)]) : out;
}
