// ESLint: typescript-eslint's type-checked recommendations over the whole repository; formatting is Prettier's (eslint-config-prettier turns off the style rules).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', 'test-artifacts/', 'bench-results/', 'evidence/', '.azurite/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        // The .ts files use tsconfig.json; the few .js/.mjs files outside it (launcher, configs, child-process loader) get the default project.
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'test/fixtures/child/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    rules: {
      // A leading underscore marks a binding kept on purpose: destructuring to drop fields (`const { a: _a, ...rest } = x`), an interface's unused parameter.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `async` without `await` is how we implement Promise-returning interfaces (getToken, dispose, openWriter); it also turns a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // We keep a caught error (typed unknown) and rethrow it after cleanup; narrowing `!== undefined` makes it `{}`, which this rule flags. Every error we create extends Error.
      '@typescript-eslint/only-throw-error': 'off',
      // An abort passes on the caller's AbortSignal reason as given (typed unknown), as Node's own APIs do.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // String(x) on values of unknown shape (parsed JSON, Kusto and table rows, YAML) is how we display them; a narrowed unknown is `{}`, so every such call is a finding.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    files: ['test/**'],
    rules: {
      // Tests read parsed JSON and rows of unknown shape and pass deliberately malformed input; a wrong shape fails the assertion.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  prettier,
);
