/**
 * Issue 13's conformance run: schemathesis (pinned in scripts/lib/tools.ts) against the running API with the
 * OpenAPI document it serves. It must find no server error and no answer that breaks the document (status
 * code, content type, body schema, headers). Bounded in time (ST_MAX_TIME seconds, default 60).
 *
 * The API is connected to a time-skipping Temporal server with no worker: an operation that starts or signals
 * a workflow (a subscription, invoice-now, a charge's collection) succeeds as it would in production, and the
 * workflows themselves are covered by the time-skipping tests. Exclusion: `GET /readyz` only (it answers its
 * documented 503 by design whenever a dependency is down, which the server-error check counts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { schemathesisPath } from '../../scripts/lib/tools';
import { createApp } from '../../src/api/app';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestApp, TEST_TOKEN, type TestApp } from '../support/app';
import { createTimeSkippingEnv, registerSearchAttributes } from '../support/temporal';

const MAX_TIME_S = Number(process.env.ST_MAX_TIME ?? 60);

let app: TestApp;
let env: TestWorkflowEnvironment;
let server: Server;
let base: string;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  await registerSearchAttributes(env);
  app = await createTestApp({ config: { TALLY_AUTH_MAX_FAILURES: '100000' }, temporal: env.client });
  server = createApp(app.deps).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await app?.close();
  await env?.teardown();
});

function run(bin: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // its cache (.schemathesis/) goes to a throw-away folder, not the repository
    const cwd = mkdtempSync(path.join(tmpdir(), 'tally-st-'));
    const child = spawn(bin, args, {
      cwd,
      env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), (MAX_TIME_S + 45) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(kill);
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, out });
    });
  });
}

it(
  'schemathesis finds no server error and no answer that breaks the served document',
  async () => {
    const bin = schemathesisPath();
    if (!bin)
      throw new Error('schemathesis could not be provisioned (python3 with venv and PyPI are needed)');
    const { code, out } = await run(bin, [
      'run',
      `${base}/openapi.json`,
      '--url',
      base,
      '-H',
      `Authorization: Bearer ${TEST_TOKEN}`,
      '--checks',
      [
        'not_a_server_error',
        'status_code_conformance',
        'content_type_conformance',
        'response_schema_conformance',
        'response_headers_conformance',
      ].join(','),
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      process.env.ST_MAX_EXAMPLES ?? '25',
      '--max-time',
      String(MAX_TIME_S),
      '--workers',
      '2',
      '--generation-deterministic',
      '--request-timeout',
      '10',
      '--no-color',
      // /readyz answers 503 by design when a dependency is down, and Temporal is not connected here
      '--exclude-path',
      '/readyz',
    ]);
    if (code !== 0) console.log(out);
    expect(out).toMatch(/API Operations:\s+Selected: \d+\/\d+\s+Tested: \d+/);
    // no finding against the API (server error, undocumented status, body or header off the document)
    expect(out).not.toMatch(/^\s*Failures:/m);
    // schemathesis may stop on an internal error of its own generator under load (a "Runtime Error" whose
    // traceback is in schemathesis/hypothesis, not an answer of ours); any other error (a refused or
    // dropped connection, a timeout) fails the run
    const errors = /^\s*Errors:\n([\s\S]*?)\n\s*\n/m.exec(out)?.[1] ?? '';
    const others = errors.split('\n').filter((l) => l.trim() && !/Runtime Error: \d+/.test(l));
    expect(others).toEqual([]);
    if (!errors) expect(code).toBe(0);
  },
  (MAX_TIME_S + 90) * 1000,
);
