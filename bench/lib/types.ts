import type { BenchDatabase } from './db';

/** A benchmark: seeds what it needs in its own database and returns ONE line of figures. */
export interface Benchmark {
  name: string;
  description: string;
  run(db: BenchDatabase): Promise<string>;
}
