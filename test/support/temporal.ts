/** The time-skipping test server: the provisioned binary when `npm test` found one, else the SDK's download. */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { indexedValueType, SEARCH_ATTRIBUTE_KEYS } from '../../src/temporal/search-attributes';

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_TEST_SERVER_PATH;
  return TestWorkflowEnvironment.createTimeSkipping(
    path ? { server: { executable: { type: 'existing-path', path } } } : {},
  );
}

export async function createLocalEnv(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_CLI_PATH;
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(path ? { executable: { type: 'existing-path' as const, path } } : {}),
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
    },
  });
}

/** Tells a time-skipping server Tally's custom search attributes (it knows none until told). */
export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, indexedValueType(k)] as [string, number]),
    ),
  });
}
