/** Worker tuning from the environment: defaults, overrides, and clear errors for bad values. */
import { DEFAULT_WORKER_TUNING, workerTuningFromEnv } from '../../src/temporal/worker';

describe('workerTuningFromEnv', () => {
  it('defaults when nothing is set', () => {
    expect(workerTuningFromEnv({})).toEqual(DEFAULT_WORKER_TUNING);
    expect(DEFAULT_WORKER_TUNING).toMatchObject({
      stickyQueueScheduleToStartTimeout: '15s',
      reuseV8Context: true,
    });
  });

  it('reads every variable', () => {
    expect(
      workerTuningFromEnv({
        TALLY_WORKER_MAX_CACHED_WORKFLOWS: '10000',
        TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20',
        TALLY_WORKER_MAX_CONCURRENT_ACTIVITIES: '5',
        TALLY_WORKER_SHUTDOWN_GRACE_TIME: '500ms',
        TALLY_WORKER_STICKY_TIMEOUT: '2m',
        TALLY_WORKER_REUSE_V8_CONTEXT: 'false',
        TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_POLLS: '8',
        TALLY_WORKER_NONSTICKY_POLL_RATIO: '0.25',
      }),
    ).toEqual({
      maxCachedWorkflows: 10000,
      maxConcurrentWorkflowTaskExecutions: 20,
      maxConcurrentActivityTaskExecutions: 5,
      shutdownGraceTime: '500ms',
      stickyQueueScheduleToStartTimeout: '2m',
      reuseV8Context: false,
      maxConcurrentWorkflowTaskPolls: 8,
      nonStickyToStickyPollRatio: 0.25,
    });
  });

  it.each([
    ['TALLY_WORKER_MAX_CACHED_WORKFLOWS', '0', /positive integer/],
    ['TALLY_WORKER_MAX_CACHED_WORKFLOWS', '1.5', /positive integer/],
    ['TALLY_WORKER_STICKY_TIMEOUT', '1 minute', /TALLY_WORKER_STICKY_TIMEOUT must look like/],
    ['TALLY_WORKER_STICKY_TIMEOUT', '0s', /not zero/],
    ['TALLY_WORKER_SHUTDOWN_GRACE_TIME', '10', /TALLY_WORKER_SHUTDOWN_GRACE_TIME must look like/],
    ['TALLY_WORKER_REUSE_V8_CONTEXT', 'yes', /must be true or false/],
    ['TALLY_WORKER_MAX_CONCURRENT_WORKFLOW_POLLS', '-1', /positive integer/],
    ['TALLY_WORKER_NONSTICKY_POLL_RATIO', '0', /in \(0, 1\]/],
    ['TALLY_WORKER_NONSTICKY_POLL_RATIO', '1.5', /in \(0, 1\]/],
    ['TALLY_WORKER_NONSTICKY_POLL_RATIO', 'half', /in \(0, 1\]/],
  ])('%s=%s is refused', (name, value, message) => {
    expect(() => workerTuningFromEnv({ [name]: value })).toThrow(message);
  });
});
