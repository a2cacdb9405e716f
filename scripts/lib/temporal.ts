/** Starts (or reuses) a Temporal dev server with its Web UI, from the provisioned Temporal CLI. */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { portOpen, waitForPort } from './net';
import { temporalCliPath } from './tools';
import { cliSearchAttributeFlags } from '../../src/temporal/search-attributes';

export interface RunningTemporal {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

function log(msg: string): void {
  process.stderr.write(`[temporal] ${msg}\n`);
}

export async function ensureTemporalDevServer(opts: {
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
}): Promise<RunningTemporal> {
  const address = `127.0.0.1:${opts.port}`;
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  if (await portOpen(opts.port)) {
    log(`reusing the server already listening on ${address}`);
    return { address, uiUrl, stop: () => Promise.resolve() };
  }
  const cli = temporalCliPath();
  mkdirSync(opts.dataDir, { recursive: true });
  const logFile = openSync(path.join(opts.dataDir, 'temporal.log'), 'a');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    path.join(opts.dataDir, 'temporal.db'),
    '--namespace',
    opts.namespace,
    '--log-level',
    'warn',
    // WAL instead of a rollback journal synced on every commit: ~4× the workflow throughput (BENCHMARKS.md,
    // billing-run); a crash of the machine may lose the last commits, a crash of the server loses nothing
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    ...cliSearchAttributeFlags(),
  ];
  log(`starting dev server (${cli})`);
  const child = spawn(cli, args, { stdio: ['ignore', logFile, logFile], detached: false });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  await waitForPort(opts.port, 60_000, 'Temporal dev server');
  return {
    address,
    uiUrl,
    async stop() {
      if (exited) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, 10_000).unref();
      });
      log('stopped');
    },
  };
}
