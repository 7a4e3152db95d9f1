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
  prettier,
);
