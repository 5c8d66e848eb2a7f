// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.mjs', '**/*.cjs', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited fsync is a durability bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The pure Raft core: no I/O, no clock, no timers, no ambient randomness (time is tick(), randomness an
    // injected seeded source). It must not reach into the runtime folders either, and neither may the core's entry
    // point (index.ts, `@x/raft`): the runtime is exported from `@x/raft/node` (src/node/index.ts).
    files: [
      'packages/raft/src/{quorum,tracker,confchange,log,raft,raftpb,storage,codec,session}/**/*.ts',
      'packages/raft/src/{index,raw-node,ready,status,config,errors,logger,random}.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^node:',
              message:
                'The Raft core does no I/O: node:* modules belong in the runtime (src/node, src/transport).',
            },
            {
              regex:
                '^(fs|net|http|https|os|child_process|worker_threads|timers|dgram|tls|crypto|perf_hooks)(/|$)',
              message: 'The Raft core does no I/O and reads no clock.',
            },
            {
              regex: '(^|/)(node|transport|testing|linearizability)/',
              message: 'The core must not import the runtime or the test tools.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...[
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'clearImmediate',
        ].map((name) => ({ name, message: 'The Raft core has no timers: time is tick().' })),
        ...['process', 'performance', 'fetch', 'require', 'Buffer'].map((name) => ({
          name,
          message: 'The Raft core does no I/O and reads no clock or environment.',
        })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'The Raft core reads no clock: time is tick().' },
        { object: 'Math', property: 'random', message: 'Randomness comes from the injected RandomSource.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date']",
          message: 'The Raft core reads no clock: time is tick().',
        },
      ],
    },
  },
);
