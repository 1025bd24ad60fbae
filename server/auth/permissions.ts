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
  CONTAINERS_READ = 'CONTAINERS_READ',
  /** Start, stop and restart. */
  CONTAINERS_POWER = 'CONTAINERS_POWER',
  /** Create and delete. */
  CONTAINERS_WRITE = 'CONTAINERS_WRITE',
  /** Clusters, nodes, images and licences: the provider's infrastructure. */
  INFRASTRUCTURE_READ = 'INFRASTRUCTURE_READ',
  INFRASTRUCTURE_WRITE = 'INFRASTRUCTURE_WRITE',
}
registerEnumType(Permission, { name: 'Permission' });

const all = Object.values(Permission);
const infrastructure = [Permission.INFRASTRUCTURE_READ, Permission.INFRASTRUCTURE_WRITE];
const tenant = all.filter((p) => !infrastructure.includes(p));

export const permissionsOfRole: Record<Role, ReadonlySet<Permission>> = {
  [Role.PROVIDER_ADMIN]: new Set(all),
  [Role.RESELLER_ADMIN]: new Set(tenant),
  [Role.CUSTOMER_OWNER]: new Set(tenant.filter((p) => p !== Permission.ACCOUNTS_WRITE)),
  [Role.CUSTOMER_MEMBER]: new Set([
    Permission.ACCOUNTS_READ,
    Permission.PROJECTS_READ,
    Permission.USERS_READ,
    Permission.TOKENS_WRITE,
    Permission.CONTAINERS_READ,
    Permission.CONTAINERS_POWER,
  ]),
};
