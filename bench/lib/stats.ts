/** Latency measurement: warm-up, then N timed runs; percentiles by nearest rank. */

export interface Latency {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sortedMs.length);
  return sortedMs[Math.min(sortedMs.length, Math.max(1, rank)) - 1];
}

export function summarize(samplesMs: number[]): Latency {
  const s = [...samplesMs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    max: s[s.length - 1] ?? NaN,
  };
}

/** Runs `fn(i)` sequentially: `warmup` untimed runs, then `iterations` timed ones. */
export async function measure(
  fn: (i: number) => Promise<unknown>,
  opts: { iterations: number; warmup?: number },
): Promise<Latency> {
  for (let i = 0; i < (opts.warmup ?? Math.min(50, opts.iterations)); i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < opts.iterations; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return summarize(samples);
}

const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));

/** `name p50=1.23ms p99=4.56ms` */
export const fmtLatency = (name: string, l: Latency): string =>
  `${name} p50=${ms(l.p50)}ms p99=${ms(l.p99)}ms`;

/** Deterministic PRNG (mulberry32) so runs pick the same customers. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
