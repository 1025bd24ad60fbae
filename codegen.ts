import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed GraphQL documents for the portal: `graphql()` in portal/app and portal/lib is checked
 * against schema.graphql and returns a TypedDocumentNode. `npm run codegen` writes portal/gql/;
 * `npm run codegen:check` (scripts/codegen-check.mjs) fails when that output is stale.
 */
export const generates = 'portal/gql/';

export const outputConfig = {
  preset: 'client',
  config: {
    useTypeImports: true,
    scalars: { DateTimeISO: 'string' },
  },
  presetConfig: { fragmentMasking: false },
} satisfies CodegenConfig['generates'][string];

const config: CodegenConfig = {
  overwrite: true,
  schema: './schema.graphql',
  documents: ['portal/app/**/*.tsx', 'portal/lib/**/*.ts', '!portal/gql/**'],
  ignoreNoDocuments: false,
  generates: { [generates]: outputConfig },
};

export default config;
