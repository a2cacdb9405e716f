import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** every file the workflow bundle imports (the workflows and the pure domain code they share) */
const workflowSandbox = [
  'workflows/**/*.ts',
  'src/subscriptions/machine.ts',
  'src/subscriptions/operator-details.ts',
  'src/catalog/periods.ts',
  'src/catalog/types.ts',
  'src/catalog/rate-cards.ts',
  'src/billing/contract.ts',
  'src/billing/lifecycle.ts',
  'src/temporal/search-attributes.ts',
  'src/subscriptions/records.ts',
  'src/notifications/types.ts',
  'src/notifications/backoff.ts',
  'activities/contract.ts',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'dist',
      'console',
      'coverage',
      '.tools',
      '.data',
      '.tmp',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O, no ORM, no `pg`, no
    // logger. These are all the files the workflow bundle (workflows/index.ts) imports, transitively, type
    // declarations included; test/unit/architecture.test.ts fails if the bundle pulls in a file not listed,
    // and so does `npm run lint:deps` (rule workflow-bundle-stays-in-sandbox, .dependency-cruiser.json).
    files: workflowSandbox,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins,
            { name: 'pg', message: 'no database access in workflow code: use an activity' },
            { name: 'pino', message: 'use `log` from @temporalio/workflow in workflow code' },
          ],
          patterns: [
            { group: ['node:*'], message: 'no Node built-ins in workflow code' },
            {
              group: ['@mikro-orm/*', 'pg-*'],
              message: 'no database access in workflow code: use an activity',
            },
            {
              group: ['pino-*', '**/lib/logger'],
              message: 'use `log` from @temporalio/workflow in workflow code',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
