import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sleeper30Days } from '../fixtures/workflows/sleeper';
import { createTimeSkippingEnv } from '../support/temporal';

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a workflow that sleeps 30 days to completion (the server skips the timer)', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'time-skipping-probe',
      workflowsPath: require.resolve('../fixtures/workflows/sleeper'),
    });
    const result = await worker.runUntil(
      env.client.workflow.execute(sleeper30Days, {
        taskQueue: 'time-skipping-probe',
        workflowId: 'sleeper-30d',
      }),
    );
    expect(result.sleptMs).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
  });
});
