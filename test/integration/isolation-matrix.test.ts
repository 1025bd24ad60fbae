import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getNamedType, isInputObjectType, type GraphQLArgument, type GraphQLInputType, GraphQLID } from 'graphql';
import { buildCorralSchema } from '../../server/app/schema';
import { Caller, codeOf } from '../support/client';
import { twoTenants } from '../support/factories';
import { startTestServer, forEachDatabase, type TestServer } from '../support/server';
import { firstOutcome } from '../support/subscriptions';

type Fixture = Awaited<ReturnType<typeof twoTenants>>;
type Request = { query: string; variables: Record<string, unknown> };
interface Row {
  /** Runs the operation against tenant A's objects. */
  request(f: Fixture): Request;
  /** Who in tenant A's chain may run it: proves the row is a real, working operation. */
  rightful(f: Fixture): Caller;
}

/**
 * Every operation that takes an ID, run against tenant A's objects. A test below fails when the
 * schema gains such an operation without a row here.
 */
const matrix: Record<string, Row> = {
  'Query.account': { request: (f) => ({ query: `query($id: ID!) { account(id: $id) { id } }`, variables: { id: f.customerA.id } }), rightful: (f) => f.ownerA.caller },
  'Query.accounts': {
    request: (f) => ({ query: `query($id: ID) { accounts(parentId: $id) { edges { node { id } } } }`, variables: { id: f.resellerA.id } }),
    rightful: (f) => f.resellerAdminA.caller,
  },
  'Query.auditEvents': {
    request: (f) => ({ query: `query($id: ID) { auditEvents(accountId: $id) { edges { node { id } } } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Query.project': { request: (f) => ({ query: `query($id: ID!) { project(id: $id) { id } }`, variables: { id: f.projectA.id } }), rightful: (f) => f.ownerA.caller },
  'Query.projects': {
    request: (f) => ({ query: `query($id: ID) { projects(accountId: $id) { edges { node { id } } } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Query.user': { request: (f) => ({ query: `query($id: ID!) { user(id: $id) { id } }`, variables: { id: f.ownerA.user.id } }), rightful: (f) => f.ownerA.caller },
  'Query.users': {
    request: (f) => ({ query: `query($id: ID) { users(accountId: $id) { edges { node { id } } } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createAccount': {
    request: (f) => ({ query: `mutation($id: ID) { createAccount(input: { kind: CUSTOMER, name: "intruder", parentId: $id }) { id } }`, variables: { id: f.resellerA.id } }),
    rightful: (f) => f.resellerAdminA.caller,
  },
  'Mutation.createApiToken': {
    request: (f) => ({ query: `mutation($id: ID) { createApiToken(input: { name: "intruder", accountId: $id, permissions: [PROJECTS_READ] }) { token } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createProject': {
    request: (f) => ({ query: `mutation($id: ID!) { createProject(input: { accountId: $id, name: "intruder" }) { id } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createUser': {
    request: (f) => ({
      query: `mutation($id: ID!) { createUser(input: { accountId: $id, email: "intruder@example.test", password: "a long password", role: CUSTOMER_OWNER }) { id } }`,
      variables: { id: f.customerA.id },
    }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.deleteProject': { request: (f) => ({ query: `mutation($id: ID!) { deleteProject(id: $id) { id } }`, variables: { id: f.projectA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.revokeApiToken': { request: (f) => ({ query: `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, variables: { id: f.tokenA.apiToken.id } }), rightful: (f) => f.ownerA.caller },
  'Subscription.auditEventCreated': {
    request: (f) => ({ query: `subscription($id: ID) { auditEventCreated(accountId: $id) { id action } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
};

const REFUSALS = new Set(['UNAUTHENTICATED', 'NOT_FOUND', 'FORBIDDEN']);

function takesAnId(type: GraphQLInputType, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (named === GraphQLID) return true;
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((field) => takesAnId(field.type, seen));
}

forEachDatabase((TEST_DB) => {
  describe(`tenant isolation matrix (${TEST_DB})`, () => {
    let server: TestServer;
    let f: Fixture;
    before(async () => {
      server = await startTestServer(TEST_DB);
      f = await twoTenants(server.url);
    });
    after(() => server.stop());

    test('every query, mutation and subscription that takes an ID has a row in the matrix', async () => {
      const schema = await buildCorralSchema();
      const withIds: string[] = [];
      for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
        for (const field of Object.values(root?.getFields() ?? {})) {
          if (field.args.some((arg: GraphQLArgument) => takesAnId(arg.type))) withIds.push(`${root!.name}.${field.name}`);
        }
      }
      assert.deepEqual(withIds.filter((op) => !matrix[op]), [], 'add these operations to the isolation matrix');
      assert.deepEqual(Object.keys(matrix).filter((op) => !withIds.includes(op)), [], 'these matrix rows name no operation');
    });

    /** Rows of every table a refusal must leave alone (the audit trail, which records the refusal, aside). */
    async function snapshot() {
      const rows: Record<string, unknown> = {};
      for (const table of ['accounts', 'users', 'projects', 'api_tokens']) rows[table] = await server.db.query(`SELECT * FROM ${table} ORDER BY id`);
      return JSON.stringify(rows);
    }

    for (const [operation, row] of Object.entries(matrix)) {
      test(`${operation} refuses an anonymous caller, another customer's member and another reseller's admin, and changes nothing`, async () => {
        const attackers: [string, Caller][] = [
          ['anonymous', new Caller(server.url)],
          ["another customer's member", f.memberB.caller],
          ["another reseller's admin", f.resellerAdminB.caller],
        ];
        const request = row.request(f);
        const before = await snapshot();
        for (const [who, caller] of attackers) {
          if (operation.startsWith('Subscription.')) {
            const outcome = await firstOutcome(caller.ws(), request);
            if (who === 'anonymous') assert.equal(outcome.closeCode, 4403, `${who}: ${JSON.stringify(outcome)}`);
            else assert.ok(REFUSALS.has(String(outcome.errors?.[0]?.extensions?.code)), `${who}: ${JSON.stringify(outcome)}`);
            assert.equal(outcome.data, undefined);
          } else {
            const res = await caller.gql(request.query, request.variables);
            assert.ok(REFUSALS.has(String(codeOf(res))), `${who}: ${JSON.stringify(res.errors)}`);
            assert.equal(res.data, null, `${who} got data`);
          }
          assert.equal(await snapshot(), before, `${who} changed something`);
        }
      });
    }

    test('each matrix row works for its rightful caller, so that the refusals above mean something', async () => {
      const order = Object.keys(matrix).sort((a, b) => Number(a.includes('delete') || a.includes('revoke')) - Number(b.includes('delete') || b.includes('revoke')));
      for (const operation of order) {
        const row = matrix[operation]!;
        const request = row.request(f);
        const caller = row.rightful(f);
        if (operation.startsWith('Subscription.')) {
          const outcome = await firstOutcome(caller.ws(), request, 5000, () =>
            caller.gql(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "trigger" }) { id } }`, { a: f.customerA.id }),
          );
          assert.equal(outcome.data?.auditEventCreated?.action, 'project.create', `${operation}: ${JSON.stringify(outcome)}`);
        } else {
          const res = await caller.gql(request.query, request.variables);
          assert.equal(res.errors, undefined, `${operation}: ${JSON.stringify(res.errors)}`);
        }
      }
    });
  });
});
