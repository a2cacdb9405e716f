/** Progress on stderr (figures go to stdout): one line per step, with the elapsed time. */
const t0 = Date.now();

export function progress(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

/** `1234567` → `1,234,567` */
export const fmtInt = (n: number): string => n.toLocaleString('en-US');
