import type { Role } from '../accounts/user.entity';
import type { Permission } from '../auth/permissions';

/** Where a request came from; recorded on every audit event. */
export interface RequestMeta {
  id: string;
  sourceAddress: string | null;
}

/**
 * The authenticated caller, passed explicitly to every service call.
 * `scope` is the account subtree the caller may see: the user's own account for a session,
 * or the account a token was scoped to. Customers' subtrees hold only themselves.
 */
export interface Actor {
  userId: string;
  email: string;
  role: Role;
  accountId: string;
  scope: { accountId: string; path: string };
  permissions: ReadonlySet<Permission>;
  tokenId: string | null;
  request: RequestMeta;
}
