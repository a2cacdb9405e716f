/** Recording and reading workflow histories (the replay fixtures in test/fixtures/histories). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { Harness } from './harness';

/**
 * Writes the workflow's histories as replay fixtures when RECORD_HISTORIES=1: one file per run that did
 * something (the chain of continued-as-new runs is followed backwards from the latest).
 */
export async function maybeRecordHistory(h: Harness, subscriptionId: string, name: string): Promise<void> {
  await maybeRecordWorkflowHistory(h, `subscription-${subscriptionId}`, name);
}

/** The same for any workflow id (e.g. a customer's `collection-<id>`). */
export async function maybeRecordWorkflowHistory(
  h: Harness,
  workflowId: string,
  name: string,
): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const dir = path.join(__dirname, '..', 'fixtures', 'histories');
  mkdirSync(dir, { recursive: true });
  const runs = await workflowRunHistories(h, workflowId);
  runs
    .filter((r) => (r.events?.length ?? 0) > 5)
    .forEach((r, i) => writeFileSync(path.join(dir, `${name}-run${i + 1}.json`), historyJson(r)));
}

/** The histories of all the workflow's runs, oldest first (the continue-as-new chain, followed back). */
export async function runHistories(
  h: Harness,
  subscriptionId: string,
): Promise<temporal.api.history.v1.IHistory[]> {
  return workflowRunHistories(h, `subscription-${subscriptionId}`);
}

export async function workflowRunHistories(
  h: Harness,
  workflowId: string,
): Promise<temporal.api.history.v1.IHistory[]> {
  const runs = [];
  let runId: string | undefined;
  for (;;) {
    const history = await h.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift(history);
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    runId = started?.continuedExecutionRunId || undefined;
    if (!runId) return runs;
  }
}

const { History } = temporal.api.history.v1;

/** protobufjs object form (longs and enums as strings, bytes base64): `History.fromObject` reads it back. */
export const historyJson = (h: temporal.api.history.v1.IHistory): string =>
  JSON.stringify(
    History.toObject(History.fromObject(h), { longs: String, enums: String, bytes: String }),
    null,
    1,
  );

export const historyFromFixture = (json: string): temporal.api.history.v1.History =>
  History.fromObject(JSON.parse(json));
