// Keep Temporal's SDK logs to warnings and above in tests (set TALLY_TEST_LOG=1 to see everything).
import { DefaultLogger, Runtime } from '@temporalio/worker';

if (!process.env.TALLY_TEST_LOG) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
}
