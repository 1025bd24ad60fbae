import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';
import { ErrorCode } from './errors';

/** Limits on what one GraphQL document may ask for. Each refusal carries QUERY_LIMIT_EXCEEDED and the limit's name. */
export const queryLimits = {
  /** Bytes of an HTTP request body or a WebSocket message. */
  documentBytes: 64 * 1024,
  depth: 10,
  aliases: 15,
  directives: 20,
  cost: 10000,
} as const;

export type QueryLimit = 'documentBytes' | 'depth' | 'aliases' | 'directives' | 'cost';

export const limitError = (limit: QueryLimit, message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit } });

/**
 * The armor rules throw by default, which Apollo reports as an internal error; instead each
 * refusal is reported as a validation error carrying our code and the limit's name.
 */
const reportAs = (limit: QueryLimit) => ({
  exposeLimits: true,
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(limitError(limit, error.message.replace(/^Syntax Error: /, ''))),
  ],
});

export const limitRules = [
  maxDepthRule({ n: queryLimits.depth, ...reportAs('depth') }),
  maxAliasesRule({ n: queryLimits.aliases, ...reportAs('aliases') }),
  maxDirectivesRule({ n: queryLimits.directives, ...reportAs('directives') }),
  costLimitRule({ maxCost: queryLimits.cost, ...reportAs('cost') }),
] as unknown as ValidationRule[];
