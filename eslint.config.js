// ESLint (flat config), run by `npm run lint` and by scripts/test.sh, so CI fails on a finding.
// Type-aware rules read each package's tsconfig through the project service. Two rules carry the
// weight (CONVENTIONS.md §12): no-floating-promises (a promise nobody awaits loses its error) and
// import/no-cycle (a cycle between modules makes their load order, and so `undefined` imports,
// depend on who imports first).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'agent/bootenv/**', 'eslint.config.js'] },
  // the benchmark drivers are plain ES modules run by node: ESLint's recommended rules, node's globals
  { files: ['bench/**/*.mjs'], languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: globals.node }, rules: js.configs.recommended.rules },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin, import: importPlugin },
    settings: {
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/resolver': { typescript: { project: ['packages/*/tsconfig.json', 'packages/*/test/tsconfig.json', 'services/*/tsconfig.json', 'agent/tsconfig.json', 'cli/tsconfig.json'], noWarnOnMultipleProjects: true } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      'import/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
);
