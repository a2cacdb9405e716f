/**
 * The web console (console/): installing its dependencies and building it when its build is missing or
 * stale. "Stale" is by content: a hash of the console's sources, kept in console/dist/.source-hash.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './tools';

export const CONSOLE_DIR = path.join(ROOT, 'console');
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');
const HASH_FILE = path.join(CONSOLE_DIST, '.source-hash');
const SOURCES = ['src', 'index.html', 'vite.config.ts', 'postcss.config.cjs', 'package-lock.json', 'public'];

function files(p: string): string[] {
  if (!existsSync(p)) return [];
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((f) => files(path.join(p, f)));
}

/** sha256 over the console's source files (paths and contents) */
export function consoleSourceHash(): string {
  const h = createHash('sha256');
  for (const f of SOURCES.flatMap((s) => files(path.join(CONSOLE_DIR, s)))) {
    h.update(path.relative(CONSOLE_DIR, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

/** why the build must be (re)made, or undefined when console/dist is current */
export function consoleBuildNeeded(): string | undefined {
  if (!existsSync(path.join(CONSOLE_DIST, 'index.html'))) return 'console/dist is missing';
  const built = existsSync(HASH_FILE) ? readFileSync(HASH_FILE, 'utf8').trim() : '';
  return built === consoleSourceHash() ? undefined : 'console/dist is older than its sources';
}

function npm(args: string[]): void {
  const r = spawnSync('npm', args, { cwd: CONSOLE_DIR, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in console/) failed`);
}

/** builds console/dist when it is missing or stale; returns what it did */
export function ensureConsoleBuilt(log: (msg: string) => void): void {
  const why = consoleBuildNeeded();
  if (!why) return;
  if (!existsSync(path.join(CONSOLE_DIR, 'node_modules'))) {
    log('installing the console dependencies (npm ci in console/)');
    npm(['ci', '--no-audit', '--no-fund']);
  }
  log(`${why}: building the console`);
  const hash = consoleSourceHash();
  npm(['run', 'build']);
  writeFileSync(HASH_FILE, `${hash}\n`);
}
