import { randomBytes } from 'node:crypto';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './server';
import { Caller } from './client';

/** Unique names per call, so tests never depend on each other's data. */
export const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
export const PASSWORD = 'a long test password';

const CREATE_ACCOUNT = `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id name kind } }`;
const CREATE_USER = `mutation($input: CreateUserInput!) { createUser(input: $input) { id email role } }`;
const CREATE_PROJECT = `mutation($input: CreateProjectInput!) { createProject(input: $input) { id name } }`;

export async function signInAsAdmin(baseUrl: string): Promise<Caller> {
  return new Caller(baseUrl).login(ADMIN_EMAIL, ADMIN_PASSWORD);
}

export async function createAccount(as: Caller, kind: 'RESELLER' | 'CUSTOMER', parentId?: string) {
  const data = await as.ok(CREATE_ACCOUNT, { input: { kind, name: unique(kind.toLowerCase()), parentId } });
  return data.createAccount as { id: string; name: string; kind: string };
}

export async function createUser(as: Caller, accountId: string, role: string) {
  const email = `${unique(role.toLowerCase())}@example.test`;
  const data = await as.ok(CREATE_USER, { input: { accountId, role, email, password: PASSWORD } });
  return { ...(data.createUser as { id: string; email: string; role: string }), email };
}

export async function createProject(as: Caller, accountId: string) {
  const data = await as.ok(CREATE_PROJECT, { input: { accountId, name: unique('web') } });
  return data.createProject as { id: string; name: string };
}

/** Signs in a new user of the given role and account. */
export async function signInAsNewUser(as: Caller, accountId: string, role: string) {
  const user = await createUser(as, accountId, role);
  const caller = await new Caller(as.baseUrl).login(user.email, PASSWORD);
  return { user, caller };
}

/**
 * Two complete tenants under two resellers: what isolation tests need.
 * A: reseller A → customer A (owner, member, project, token); B: reseller B → customer B (member).
 */
export async function twoTenants(baseUrl: string) {
  const admin = await signInAsAdmin(baseUrl);
  const resellerA = await createAccount(admin, 'RESELLER');
  const resellerB = await createAccount(admin, 'RESELLER');
  const resellerAdminA = await signInAsNewUser(admin, resellerA.id, 'RESELLER_ADMIN');
  const resellerAdminB = await signInAsNewUser(admin, resellerB.id, 'RESELLER_ADMIN');
  const customerA = await createAccount(resellerAdminA.caller, 'CUSTOMER');
  const customerB = await createAccount(resellerAdminB.caller, 'CUSTOMER');
  const ownerA = await signInAsNewUser(resellerAdminA.caller, customerA.id, 'CUSTOMER_OWNER');
  const memberB = await signInAsNewUser(resellerAdminB.caller, customerB.id, 'CUSTOMER_MEMBER');
  const projectA = await createProject(ownerA.caller, customerA.id);
  const tokenA = (
    await ownerA.caller.ok(`mutation { createApiToken(input: { name: "ci", permissions: [PROJECTS_READ] }) { token apiToken { id } } }`)
  ).createApiToken as { token: string; apiToken: { id: string } };
  return { admin, resellerA, resellerB, resellerAdminA, resellerAdminB, customerA, customerB, ownerA, memberB, projectA, tokenA };
}
