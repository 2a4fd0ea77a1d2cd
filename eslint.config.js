import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers, bottom up (README.md, "Layout"): pipeline/core ← pipeline/batching, pipeline/sources,
 * pipeline/engine, pipeline/analysis ← pipeline/publish (core, analysis) ← daemon. An import may
 * only point down. The pipeline folders are flat, so "leaves its folder" is an import source
 * starting with `../`; `allowed` lists the folders below it may reach.
 */
function layer(folder, allowed, why) {
  const exits = allowed.map((a) => a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');
  return {
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: exits === '' ? '^\\.\\./' : `^\\.\\./(?!(?:${exits}))`, message: `${folder} ${why}` }] },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'training/**', 'models/**', 'test-artifacts/**', 'daemon/viewer/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  layer('pipeline/core', [], 'imports nothing else of segd (it is the bottom layer)'),
  layer('pipeline/batching', ['core/'], 'may import pipeline/core only'),
  layer('pipeline/sources', ['core/'], 'may import pipeline/core only'),
  layer('pipeline/engine', ['core/'], 'may import pipeline/core only'),
  layer('pipeline/analysis', ['core/'], 'may import pipeline/core only'),
  // …and the wire constants' one TypeScript definition, which the standalone client owns.
  layer('pipeline/publish', ['core/', 'analysis/', '../clients/ts/protocol-client.js'], 'may import pipeline/core, pipeline/analysis and clients/ts/protocol-client.js only'),
  {
    files: ['daemon/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)(test|scripts|clients)/', message: 'daemon may import pipeline/ only, never tests, scripts or clients' }] },
      ],
    },
  },
  {
    files: ['clients/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)(daemon|pipeline|test|scripts)/', message: 'clients stand alone (they also run in the browser): no daemon or pipeline imports' }] },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
