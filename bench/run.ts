/**
 * `npm run bench` runs every benchmark; `npm run bench -- <name> [...]` only those. Starts a throw-away
 * PostgreSQL (or uses DATABASE_URL's server), gives each benchmark its own migrated database, prints
 * progress on stderr and ONE line of figures per benchmark on stdout. Never part of `npm test`.
 */
import { accessLoad } from './access-load';
import { billingDay } from './billing-day';
import { billingRun } from './billing-run';
import { entitlementAccess } from './entitlement-access';
import { eventsList } from './events-list';
import { ingest } from './ingest';
import { invoiceIssue } from './invoice-issue';
import { query } from './query';
import { startBenchDatabase } from './lib/db';
import { progress } from './lib/progress';
import type { Benchmark } from './lib/types';

const BENCHMARKS: Benchmark[] = [
  entitlementAccess,
  accessLoad,
  ingest,
  query,
  invoiceIssue,
  billingDay,
  billingRun,
  eventsList,
];

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(
      `unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`,
    );
    return 2;
  }
  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const db = await startBenchDatabase();
  try {
    for (const b of selected) {
      progress(`${b.name}: ${b.description}`);
      const line = await b.run(db);
      process.stdout.write(`${line}\n`);
    }
  } finally {
    await db.stop();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
