import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'portal/.next/**', 'portal/gql/**', 'portal/next-env.d.ts', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setImmediate: 'readonly', fetch: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Tests read loosely typed GraphQL responses.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // TypeORM's migrations option is typed as a list of constructors.
    files: ['migrations/**/index.ts'],
    rules: { '@typescript-eslint/no-unsafe-function-type': 'off' },
  },
);
