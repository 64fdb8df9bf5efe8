// Lint, and the import rules that keep the layers apart (docs/development.md#layout):
//   domain/     pure: no Temporal, no Node APIs, no I/O, nothing of rotor's outside domain/, no packages but zod and croner
//   contract/   what workflow and activities share: domain types and Temporal's define* only
//   workflows/  deterministic workflow code: never adapters, Node APIs or client/worker SDKs
//   activities/, worker/, client/ (product): never the sandbox, never test helpers
//   bench/, sandbox/: never test helpers
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeApis = {
  regex: `^(node:|(${builtinModules.filter((m) => !m.startsWith('_')).join('|')})(/|$))`,
  message: 'no Node APIs here: this layer must stay deterministic and free of I/O',
};
const rotor = (dirs, message) => ({ regex: `^(\\.\\./)+(${dirs.join('|')})(/|$)`, message });
const testHelpers = rotor(['test'], 'test helpers are for tests only');
const sandbox = rotor(['sandbox'], 'the sandbox is a development tool; product code never imports it');

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Tests reach into results loosely to assert on them.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeApis,
            { regex: '^@temporalio/', message: 'the domain knows nothing of Temporal' },
            rotor(['contract', 'workflows', 'activities', 'worker', 'client', 'sandbox', 'test', 'bench'], 'the domain imports only the domain'),
            { regex: '^(?!\\.|zod$|croner$)', message: 'the domain uses no packages but zod (the plan schema) and croner (change windows)' },
          ],
        },
      ],
    },
  },
  {
    files: ['contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeApis,
            { regex: '^@temporalio/(?!workflow$|common$)', message: 'the contract uses only @temporalio/workflow (define*) and @temporalio/common' },
            rotor(['workflows', 'activities', 'worker', 'client', 'sandbox', 'test', 'bench'], 'the contract imports only the domain'),
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeApis,
            { regex: '^@temporalio/(client|worker|activity|testing)', message: 'workflow code uses @temporalio/workflow only' },
            { regex: '^@kubernetes/', message: 'workflow code never talks to a cluster: that is an activity' },
            rotor(
              ['activities', 'worker', 'client', 'sandbox', 'test', 'bench'],
              'workflows import the domain and the contract only (the bundle must stay free of adapters)',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts', 'temporal/**/*.ts', 'worker/**/*.ts', 'client/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [sandbox, testHelpers, rotor(['bench'], 'product code never imports benchmarks')] }] },
  },
  {
    files: ['bench/**/*.ts', 'sandbox/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [testHelpers] }] },
  },
);
