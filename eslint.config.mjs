// eslint (flat config): typescript-eslint's recommended rules plus the project's own, prettier owning layout.
// Type-aware rules (no-floating-promises, ...) are left out: they need the type checker on every run, which
// `npm run typecheck` already runs once; see docs/architecture.md, "Tooling".
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'state/', 'bench/results/', 'kernels/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    // The few CommonJS config files (dependency-cruiser's) run in node.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // tsc (noUnusedLocals, strict) already reports these with the compiler's own precision.
      'no-undef': 'off',
    },
  },
);
