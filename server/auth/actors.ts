import type { Account } from '../accounts/account.entity';
import type { User } from '../accounts/user.entity';
import type { Actor, RequestMeta } from '../app/actor';
import { permissionsOfRole, type Permission } from './permissions';

/** The actor of a browser session: the user's own role over the user's own account. */
export function sessionActor(user: User & { account: Account }, request: RequestMeta): Actor {
  return {
    userId: user.id,
    email: user.email,
    role: user.role,
    accountId: user.accountId,
    scope: { accountId: user.account.id, path: user.account.path },
    permissions: permissionsOfRole[user.role],
    tokenId: null,
    request,
  };
}

/**
 * The actor of an API token: never more than the creator holds today (their role may have
 * shrunk since), over the token's account, which must still lie inside the creator's scope.
 */
export function tokenActor(
  user: User & { account: Account },
  token: { id: string; permissions: Permission[]; account: Account },
  request: RequestMeta,
): Actor | null {
  if (!token.account.path.startsWith(user.account.path)) return null;
  const held = permissionsOfRole[user.role];
  return {
    ...sessionActor(user, request),
    scope: { accountId: token.account.id, path: token.account.path },
    permissions: new Set(token.permissions.filter((p) => held.has(p))),
    tokenId: token.id,
  };
}
