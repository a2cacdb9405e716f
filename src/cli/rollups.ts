/**
 * `npm run rollups -- <command> [meter]`: meter rollups by hand (the worker rolls them forward by itself).
 * - `status`: what each meter's rollups cover;
 * - `roll`: rolls forward now (to the last whole hour `TALLY_ROLLUP_LAG_S` ago), printing each step;
 * - `check`: compares every covered rollup row with the raw events (exit 1 when any differs);
 * - `rebuild`: resets the rollups, then rebuilds them from the events.
 * `meter` (id or key) limits the command to one meter.
 */
import { loadConfig } from '../config';
import { createOrm } from '../db/orm';
import { checkRollups, resetRollups, rollForward, rolledMeters, rollupState } from '../metering/service';
import { fatal } from './lifecycle';

const USAGE = 'usage: npm run rollups -- status|roll|check|rebuild [meter id or key]';

async function main(): Promise<number> {
  const [command, meterRef] = process.argv.slice(2);
  if (!['status', 'roll', 'check', 'rebuild'].includes(command ?? '')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const orm = await createOrm(config.DATABASE_URL, 2);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  try {
    const meters = await rolledMeters(orm.em.fork(), meterRef);
    if (meterRef !== undefined && meters.length === 0) {
      process.stderr.write(`no meter ${meterRef} with rollups\n`);
      return 1;
    }
    let bad = 0;
    for (const m of meters) {
      const em = orm.em.fork();
      const t0 = Date.now();
      if (command === 'rebuild') await resetRollups(em, m);
      if (command === 'roll' || command === 'rebuild')
        await rollForward(em, m, {
          lagMs: config.TALLY_ROLLUP_LAG_S * 1000,
          onProgress: (p) =>
            out(`${m.key}: covered to ${p.coveredTo} (${((Date.now() - t0) / 1000).toFixed(1)} s)`),
        });
      if (command === 'check') {
        const r = await checkRollups(em, m.id);
        if (r.differing) bad++;
        out(`${m.key}: ${r.rows} rows, ${r.differing} differ from the events (${Date.now() - t0} ms)`);
      }
      const st = await rollupState(em, m.id);
      out(`${m.key} (${m.aggregation}): ${st ? `covered to ${st.covered_to}` : 'no rollups yet'}`);
    }
    return bad ? 1 : 0;
  } finally {
    await orm.close(true);
  }
}

main().then((code) => process.exit(code), fatal('rollups'));
