import type { AuthChecker } from 'type-graphql';
import type { Permission } from '../auth/permissions';
import type { Context } from './context';
import { forbidden, unauthenticated } from './errors';

/**
 * Coarse checks only: is there a caller, and does the caller hold these permissions (its role's,
 * narrowed by its token)? Which objects it may touch is decided in the services.
 */
export function requirePermissions(context: Pick<Context, 'actor'>, required: readonly Permission[]): true {
  if (!context.actor) throw unauthenticated();
  const missing = required.filter((permission) => !context.actor!.permissions.has(permission));
  if (missing.length > 0) throw forbidden(`missing permission ${missing.join(', ')}`);
  return true;
}

export const authChecker: AuthChecker<Context, Permission> = ({ context }, required) => requirePermissions(context, required);
