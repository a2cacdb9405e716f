/**
 * `tsx scripts/console.ts install`: root `npm ci`/`npm install` (postinstall) installs the console's own
 * dependencies (console/package-lock.json). Skipped where console/ is absent (the docker image builds the
 * console in its own stage) or with TALLY_SKIP_CONSOLE_INSTALL=1.
 * `tsx scripts/console.ts build`: builds console/dist when it is missing or stale (`npm start` does it too).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CONSOLE_DIR, ensureConsoleBuilt } from './lib/console';

const log = (msg: string) => process.stderr.write(`[console] ${msg}\n`);

function main(cmd: string | undefined): number {
  if (cmd === 'install') {
    if (
      process.env.TALLY_SKIP_CONSOLE_INSTALL === '1' ||
      !existsSync(path.join(CONSOLE_DIR, 'package.json'))
    ) {
      log('console/ dependencies not installed here');
      return 0;
    }
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: CONSOLE_DIR, stdio: 'inherit' });
    return r.status ?? 1;
  }
  if (cmd === 'build') {
    ensureConsoleBuilt(log);
    return 0;
  }
  log('usage: tsx scripts/console.ts install|build');
  return 2;
}

process.exit(main(process.argv[2]));
