// Device code (firmware/, hal/ except the Node host side in test-sim/) runs on XS:
// no Node or browser globals, no Node modules, no eval, time and randomness from the HAL.
import tseslint from 'typescript-eslint';

const nodeGlobals = ['Buffer', 'process', 'require', 'module', '__dirname', '__filename', 'global', 'setTimeout', 'setInterval',
  'clearTimeout', 'clearInterval', 'setImmediate', 'queueMicrotask', 'performance', 'console', 'fetch', 'crypto', 'window', 'document'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'build/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['firmware/**/*.ts', 'hal/**/*.ts', 'test-sim/apps/**/*.ts', 'tools/bench/apps/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...nodeGlobals.map((name) => ({ name, message: `${name} is not available on the device: use the HAL` }))],
      'no-restricted-imports': ['error', {
        paths: ['fs', 'path', 'net', 'tls', 'crypto', 'os', 'child_process', 'events', 'stream', 'buffer', 'util']
          .map((name) => ({ name, message: 'Node modules do not exist on the device' })),
        patterns: [{ group: ['node:*'], message: 'Node modules do not exist on the device' }],
      }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'time comes from hal.clock' },
        { object: 'Math', property: 'random', message: 'randomness comes from hal.entropy' }],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date']", message: 'time comes from hal.clock' },
        { selector: "CallExpression[callee.name='eval']", message: 'no eval on the device' },
        { selector: "NewExpression[callee.name='Function']", message: 'no Function constructor on the device' }],
    },
  },
  {
    // Moddable's own modules reuse some Node names ("net", "time"): in hal/moddable only node:* is banned.
    files: ['hal/moddable/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], message: 'Node modules do not exist on the device' }] }],
    },
  },
);
