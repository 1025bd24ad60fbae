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
  cost: 5000,
} as const;

export type QueryLimit = 'documentBytes' | 'depth' | 'aliases' | 'directives' | 'cost';

export const limitError = (limit: QueryLimit, message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit } });

/** Re-labels whatever a third-party rule reports as our typed limit error. */
function labelled(limit: QueryLimit, rule: ValidationRule): ValidationRule {
  return (context: ValidationContext) => {
    const relabelling = Object.create(context) as ValidationContext;
    relabelling.reportError = (error: GraphQLError) => context.reportError(limitError(limit, error.message));
    return rule(relabelling);
  };
}

export const limitRules: ValidationRule[] = [
  labelled('depth', maxDepthRule({ n: queryLimits.depth, exposeLimits: true }) as unknown as ValidationRule),
  labelled('aliases', maxAliasesRule({ n: queryLimits.aliases, exposeLimits: true }) as unknown as ValidationRule),
  labelled('directives', maxDirectivesRule({ n: queryLimits.directives, exposeLimits: true }) as unknown as ValidationRule),
  labelled('cost', costLimitRule({ maxCost: queryLimits.cost, exposeLimits: true }) as unknown as ValidationRule),
];
