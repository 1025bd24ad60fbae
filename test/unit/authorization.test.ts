import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getMetadataStorage } from 'type-graphql';
import { Account, AccountKind } from '../../server/accounts/account.entity';
import { Role, User } from '../../server/accounts/user.entity';
import { resolvers } from '../../server/app/schema';
import { tokenActor } from '../../server/auth/actors';
import { Permission, permissionsOfRole } from '../../server/auth/permissions';

test('every resolver class but the login one denies by default with @Authorized()', () => {
  const guarded = new Set(getMetadataStorage().authorizedResolver.map((m) => m.target));
  const open = resolvers.filter((r) => !guarded.has(r)).map((r) => r.name);
  assert.deepEqual(open, ['LoginResolver']);
});

test('only admins may write accounts; members only read', () => {
  assert.ok(permissionsOfRole[Role.PROVIDER_ADMIN].has(Permission.ACCOUNTS_WRITE));
  assert.ok(permissionsOfRole[Role.RESELLER_ADMIN].has(Permission.ACCOUNTS_WRITE));
  assert.ok(!permissionsOfRole[Role.CUSTOMER_OWNER].has(Permission.ACCOUNTS_WRITE));
  for (const p of [Permission.ACCOUNTS_WRITE, Permission.PROJECTS_WRITE, Permission.USERS_WRITE, Permission.AUDIT_READ]) {
    assert.ok(!permissionsOfRole[Role.CUSTOMER_MEMBER].has(p), p);
  }
});

const account = (id: string, path: string, kind = AccountKind.CUSTOMER) => Object.assign(new Account(), { id, path, kind });
const request = { id: 'r', sourceAddress: null };

test("a token never holds more than its creator's role grants today", () => {
  const own = account('c1', '/p/c1/');
  const member = Object.assign(new User(), { id: 'u', email: 'm@x', role: Role.CUSTOMER_MEMBER, accountId: 'c1', account: own });
  const actor = tokenActor(member as User & { account: Account }, { id: 't', permissions: [Permission.PROJECTS_READ, Permission.PROJECTS_WRITE], account: own }, request)!;
  assert.deepEqual([...actor.permissions], [Permission.PROJECTS_READ]);
});

test('a token scoped outside its creator’s account stops working', () => {
  const reseller = account('r1', '/p/r1/', AccountKind.RESELLER);
  const admin = Object.assign(new User(), { id: 'u', email: 'a@x', role: Role.RESELLER_ADMIN, accountId: 'r1', account: reseller });
  const inside = tokenActor(admin as User & { account: Account }, { id: 't', permissions: [Permission.ACCOUNTS_READ], account: account('c1', '/p/r1/c1/') }, request);
  assert.equal(inside?.scope.path, '/p/r1/c1/');
  const elsewhere = tokenActor(admin as User & { account: Account }, { id: 't', permissions: [Permission.ACCOUNTS_READ], account: account('c2', '/p/r2/c2/') }, request);
  assert.equal(elsewhere, null);
});
