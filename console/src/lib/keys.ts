/** Keys derived from names, as the API's key patterns want them. */

/** catalog keys (features, plans, rate cards): lowercase letters and digits separated by `-` or `_` */
export function catalogKey(name: string): string {
  return slug(name, '-');
}

/** meter keys: lowercase letters and digits separated by single underscores */
export function meterKey(name: string): string {
  return slug(name, '_');
}

/** customer keys are free-form: the name in lowercase, words joined by `-` */
export function customerKey(name: string): string {
  return slug(name, '-');
}

function slug(name: string, sep: '-' | '_'): string {
  const words = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(sep === '_' ? /[^a-z0-9]+/ : /[^a-z0-9_]+/)
    .filter(Boolean);
  return words
    .join(sep)
    .slice(0, 64)
    .replace(/[-_]+$/, '');
}
