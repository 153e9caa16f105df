// Lint rules. Besides the recommended sets, this file enforces the one-way import graph of
// ARCHITECTURE.md: lib ← common ← {edge, control, dns} ← cli.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Import patterns a layer may not use (paths are relative, so match on folder names). */
const forbid = (...layers) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: layers.map((layer) => ({
        group: [`**/${layer}/**`, `**/${layer}`],
        message: `imports point one way: lib ← common ← {edge, control, dns} ← cli; this layer may not import ${layer}/`,
      })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'named exports only' },
      ],
    },
  },
  { files: ['eslint.config.js'], rules: { 'no-restricted-syntax': 'off' } },
  { files: ['src/lib/**'], rules: forbid('common', 'edge', 'control', 'dns', 'cli') },
  { files: ['src/common/**'], rules: forbid('edge', 'control', 'dns', 'cli') },
  { files: ['src/edge/**'], rules: forbid('control', 'dns', 'cli') },
  { files: ['src/control/**'], rules: forbid('edge', 'dns', 'cli') },
  { files: ['src/dns/**'], rules: forbid('edge', 'control', 'cli') },
  { files: ['src/anycast/**'], rules: forbid('edge', 'control', 'dns', 'cli') },
  {
    // The dashboard runs in the browser: plain ES modules.
    files: ['web/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'fetch',
          'sessionStorage',
          'setInterval',
          'clearInterval',
          'setTimeout',
          'clearTimeout',
          'location',
          'history',
          'HTMLElement',
          'Intl',
          'URLSearchParams',
          'AbortController',
          'matchMedia',
          'requestAnimationFrame',
          'ResizeObserver',
          'decodeURIComponent',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
