/**
 * Replays recorded subscription, collection, invoice and entitlement-reset histories
 * (test/fixtures/histories/*.json) against the current workflow code: a change that would break running subscriptions fails here with a nondeterminism error.
 * Re-record with `RECORD_HISTORIES=1 npm test -- test/integration/subscription test/integration/hardening
 * test/integration/invoice-lifecycle test/integration/notifications`
 * (the end-to-end tests write their histories). Before the first release the fixtures are simply
 * re-recorded; from it on, behaviour changes go behind `patched()` and the released histories stay (see
 * the versioning policy in workflows/subscription.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/harness';
import { historyFromFixture } from '../support/history';

jest.setTimeout(120_000);

const dir = path.join(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

it('has recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(2);
});

it.each(files)('replays %s without nondeterminism', async (file) => {
  const history = historyFromFixture(readFileSync(path.join(dir, file), 'utf8'));
  expect(history.events?.length).toBeGreaterThan(5);
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
});
