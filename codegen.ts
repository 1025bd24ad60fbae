import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed GraphQL documents for the portal. Operations written with `graphql()` in portal/app and
 * portal/lib are checked against schema.graphql and come back as TypedDocumentNodes.
 * `npm run codegen` writes portal/gql/; `npm run codegen:check` fails when that output is stale.
 */
const config: CodegenConfig = {
  overwrite: true,
  schema: './schema.graphql',
  documents: ['portal/app/**/*.tsx', 'portal/lib/**/*.ts', '!portal/gql/**'],
  generates: {
    'portal/gql/': {
      preset: 'client',
      config: {
        useTypeImports: true,
        scalars: { DateTimeISO: 'string' },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
