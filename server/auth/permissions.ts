import { registerEnumType } from 'type-graphql';
import { Role } from '../accounts/user.entity';

/** What a caller may do, independent of which objects. Roles grant sets of these; API tokens carry a subset. */
export enum Permission {
  ACCOUNTS_READ = 'ACCOUNTS_READ',
  ACCOUNTS_WRITE = 'ACCOUNTS_WRITE',
  PROJECTS_READ = 'PROJECTS_READ',
  PROJECTS_WRITE = 'PROJECTS_WRITE',
  USERS_READ = 'USERS_READ',
  USERS_WRITE = 'USERS_WRITE',
  TOKENS_WRITE = 'TOKENS_WRITE',
  AUDIT_READ = 'AUDIT_READ',
}
registerEnumType(Permission, { name: 'Permission' });

const all = Object.values(Permission);

export const permissionsOfRole: Record<Role, ReadonlySet<Permission>> = {
  [Role.PROVIDER_ADMIN]: new Set(all),
  [Role.RESELLER_ADMIN]: new Set(all),
  [Role.CUSTOMER_OWNER]: new Set(all.filter((p) => p !== Permission.ACCOUNTS_WRITE)),
  [Role.CUSTOMER_MEMBER]: new Set([
    Permission.ACCOUNTS_READ,
    Permission.PROJECTS_READ,
    Permission.USERS_READ,
    Permission.TOKENS_WRITE,
  ]),
};
