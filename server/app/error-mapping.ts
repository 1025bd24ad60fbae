import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import { CorralError, ErrorCode } from './errors';

/** Codes that graphql-js and Apollo assign themselves; those errors describe the request, not our code. */
const PROTOCOL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** True when an error is ours to explain; anything else is logged and answered as "Internal error". */
export function isExpectedError(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof CorralError || original instanceof ArgumentValidationError) return true;
  if (original instanceof GraphQLError) {
    const code = original.extensions?.code;
    return typeof code === 'string' && (PROTOCOL_CODES.has(code) || code in ErrorCode);
  }
  return false;
}

/** The one mapper from anything thrown to what a client sees. */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
  if (original instanceof CorralError) {
    return { ...base, message: original.message, extensions: { ...original.details, code: original.code } };
  }
  if (original instanceof ArgumentValidationError) {
    const fields = original.extensions.validationErrors.map((v) => ({
      field: v.property,
      messages: Object.values(v.constraints ?? {}),
    }));
    return { ...base, message: 'Invalid input', extensions: { code: ErrorCode.BAD_USER_INPUT, fields } };
  }
  // Apollo re-labels every validation error GRAPHQL_VALIDATION_FAILED; our limit rules leave `limit` behind.
  if (original instanceof GraphQLError && typeof original.extensions?.limit === 'string') {
    return { ...base, extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit: original.extensions.limit } };
  }
  if (isExpectedError(error)) {
    const code = formatted.extensions?.code;
    return { ...base, extensions: { code } };
  }
  return { message: 'Internal error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}
