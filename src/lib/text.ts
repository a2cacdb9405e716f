/** What PostgreSQL text and jsonb cannot hold: U+0000 and unpaired UTF-16 surrogates. */

// in u-mode only unpaired surrogates are code points of category Cs
const LONE_SURROGATE = /\p{Cs}/u;

/** why PostgreSQL text/jsonb cannot hold `s`, or undefined */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(s)) return 'must not contain unpaired UTF-16 surrogates';
  return undefined;
}
