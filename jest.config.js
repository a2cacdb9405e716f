/** Two projects: fast unit tests (no I/O) and integration tests against real PostgreSQL / Temporal. */
const transform = { '^.+\\.ts$': ['@swc/jest'] };
module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/test/support/setup.ts'],
      // the console's browser tests drive chromium with the console's own playwright-core
      moduleNameMapper: { '^playwright-core$': '<rootDir>/console/node_modules/playwright-core' },
    },
  ],
};
