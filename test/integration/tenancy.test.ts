import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf } from '../support/client';
import { PASSWORD, signInAsAdmin, unique } from '../support/factories';
import { startTestServer, forEachDatabase, type TestServer } from '../support/server';

/** The "done when", over real HTTP: the provider builds a tenant tree; a tenant sees only its own. */
forEachDatabase((TEST_DB) => {
  describe(`tenancy over HTTP (${TEST_DB})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(TEST_DB);
    });
    after(() => server.stop());

    test('a provider admin creates a reseller, a customer under it, a project and a user, who then sees only their own account', async () => {
      const admin = await signInAsAdmin(server.url);
      const me = await admin.ok(`{ me { email role account { id kind } } }`);
      assert.equal(me.me.role, 'PROVIDER_ADMIN');
      assert.equal(me.me.account.kind, 'PROVIDER');
      const providerId = me.me.account.id;

      const reseller = (await admin.ok(`mutation { createAccount(input: { kind: RESELLER, name: "Acme Hosting" }) { id kind parent { id } } }`)).createAccount;
      assert.equal(reseller.kind, 'RESELLER');
      assert.equal(reseller.parent.id, providerId);

      const customer = (
        await admin.ok(`mutation($p: ID!) { createAccount(input: { kind: CUSTOMER, name: "Globex", parentId: $p }) { id kind parent { id } } }`, { p: reseller.id })
      ).createAccount;
      assert.equal(customer.parent.id, reseller.id);

      const project = (await admin.ok(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "shop" }) { id name account { id } } }`, { a: customer.id }))
        .createProject;
      assert.equal(project.account.id, customer.id);

      const email = `${unique('owner')}@globex.test`;
      const user = (
        await admin.ok(`mutation($a: ID!, $e: String!, $p: String!) { createUser(input: { accountId: $a, email: $e, password: $p, role: CUSTOMER_OWNER }) { id role } }`, {
          a: customer.id,
          e: email,
          p: PASSWORD,
        })
      ).createUser;

      // Someone else's tenant, to prove the user cannot see it.
      const otherCustomer = (await admin.ok(`mutation { createAccount(input: { kind: CUSTOMER, name: "Initech" }) { id } }`)).createAccount;
      const otherProject = (await admin.ok(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "shop" }) { id } }`, { a: otherCustomer.id }))
        .createProject;

      const tenant = await new Caller(server.url).login(email, PASSWORD);
      const seen = await tenant.ok(`{
        me { id account { id name kind parent { id } } }
        accounts { edges { node { id } } }
        projects { edges { node { id } } }
        users { edges { node { id } } }
      }`);
      assert.equal(seen.me.id, user.id);
      assert.equal(seen.me.account.id, customer.id);
      assert.equal(seen.me.account.parent, null, "a customer does not see its reseller's account");
      assert.deepEqual(seen.accounts.edges.map((e: any) => e.node.id), [customer.id]);
      assert.deepEqual(seen.projects.edges.map((e: any) => e.node.id), [project.id]);
      assert.deepEqual(seen.users.edges.map((e: any) => e.node.id), [user.id]);

      const others: [string, string][] = [
        [`query($id: ID!) { account(id: $id) { id } }`, providerId],
        [`query($id: ID!) { account(id: $id) { id } }`, reseller.id],
        [`query($id: ID!) { account(id: $id) { id } }`, otherCustomer.id],
        [`query($id: ID!) { project(id: $id) { id } }`, otherProject.id],
        [`query($id: ID!) { user(id: $id) { id } }`, (await admin.ok(`{ me { id } }`)).me.id],
        [`query($id: ID!) { account(id: $id) { id } }`, '00000000-0000-7000-8000-000000000000'],
      ];
      for (const [query, id] of others) {
        const res = await tenant.gql(query, { id });
        assert.equal(codeOf(res), 'NOT_FOUND', `${query} ${id}`);
      }
      // A missing object and another tenant's object give the very same answer.
      const missing = await tenant.gql(`query($id: ID!) { project(id: $id) { id } }`, { id: '00000000-0000-7000-8000-000000000000' });
      const foreign = await tenant.gql(`query($id: ID!) { project(id: $id) { id } }`, { id: otherProject.id });
      assert.deepEqual(missing.errors?.map((e) => [e.message, e.extensions]), foreign.errors?.map((e) => [e.message, e.extensions]));
    });

    test('a reseller admin creates customers only under its own reseller', async () => {
      const admin = await signInAsAdmin(server.url);
      const [a, b] = [
        (await admin.ok(`mutation { createAccount(input: { kind: RESELLER, name: "${unique('r')}" }) { id } }`)).createAccount,
        (await admin.ok(`mutation { createAccount(input: { kind: RESELLER, name: "${unique('r')}" }) { id } }`)).createAccount,
      ];
      const email = `${unique('radmin')}@example.test`;
      await admin.ok(`mutation($a: ID!, $e: String!) { createUser(input: { accountId: $a, email: $e, password: "${PASSWORD}", role: RESELLER_ADMIN }) { id } }`, { a: a.id, e: email });
      const reseller = await new Caller(server.url).login(email, PASSWORD);

      const own = await reseller.ok(`mutation { createAccount(input: { kind: CUSTOMER, name: "Mine" }) { id parent { id } } }`);
      assert.equal(own.createAccount.parent.id, a.id);
      assert.equal(codeOf(await reseller.gql(`mutation($p: ID!) { createAccount(input: { kind: CUSTOMER, name: "Theirs", parentId: $p }) { id } }`, { p: b.id })), 'NOT_FOUND');
      assert.equal(codeOf(await reseller.gql(`mutation { createAccount(input: { kind: RESELLER, name: "Sub" }) { id } }`)), 'FORBIDDEN');
      assert.equal(codeOf(await reseller.gql(`mutation { createAccount(input: { kind: PROVIDER, name: "Coup" }) { id } }`)), 'BAD_USER_INPUT');
      const rolePromotion = await reseller.gql(`mutation($a: ID!) { createUser(input: { accountId: $a, email: "${unique('x')}@example.test", password: "${PASSWORD}", role: PROVIDER_ADMIN }) { id } }`, {
        a: own.createAccount.id,
      });
      assert.equal(codeOf(rolePromotion), 'BAD_USER_INPUT');
    });

    test('a customer owner creates projects and users in its own account; a member may only read', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = (await admin.ok(`mutation { createAccount(input: { kind: CUSTOMER, name: "${unique('c')}" }) { id } }`)).createAccount;
      const ownerEmail = `${unique('owner')}@example.test`;
      await admin.ok(`mutation($a: ID!, $e: String!) { createUser(input: { accountId: $a, email: $e, password: "${PASSWORD}", role: CUSTOMER_OWNER }) { id } }`, { a: customer.id, e: ownerEmail });
      const owner = await new Caller(server.url).login(ownerEmail, PASSWORD);

      await owner.ok(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "api" }) { id } }`, { a: customer.id });
      const duplicate = await owner.gql(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "api" }) { id } }`, { a: customer.id });
      assert.equal(codeOf(duplicate), 'CONFLICT');
      const memberEmail = `${unique('member')}@example.test`;
      await owner.ok(`mutation($a: ID!, $e: String!) { createUser(input: { accountId: $a, email: $e, password: "${PASSWORD}", role: CUSTOMER_MEMBER }) { id } }`, { a: customer.id, e: memberEmail });
      assert.equal(codeOf(await owner.gql(`mutation { createAccount(input: { kind: CUSTOMER, name: "Sub" }) { id } }`)), 'FORBIDDEN');

      const member = await new Caller(server.url).login(memberEmail, PASSWORD);
      const projects = await member.ok(`{ projects { edges { node { name } } } }`);
      assert.deepEqual(projects.projects.edges.map((e: any) => e.node.name), ['api']);
      assert.equal(codeOf(await member.gql(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "nope" }) { id } }`, { a: customer.id })), 'FORBIDDEN');
    });

    test('bad input is refused with a typed error and creates nothing', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = (await admin.ok(`mutation { createAccount(input: { kind: CUSTOMER, name: "${unique('c')}" }) { id } }`)).createAccount;
      const cases: [string, Record<string, unknown>][] = [
        [`mutation($a: ID!) { createProject(input: { accountId: $a, name: "Bad Name" }) { id } }`, { a: customer.id }],
        [`mutation($a: ID!) { createProject(input: { accountId: $a, name: "-x" }) { id } }`, { a: customer.id }],
        [`mutation($a: ID!) { createProject(input: { accountId: $a, name: "${'a'.repeat(64)}" }) { id } }`, { a: customer.id }],
        [`mutation($a: ID!) { createUser(input: { accountId: $a, email: "not-an-email", password: "${PASSWORD}", role: CUSTOMER_OWNER }) { id } }`, { a: customer.id }],
        [`mutation($a: ID!) { createUser(input: { accountId: $a, email: "${unique('u')}@x.test", password: "short", role: CUSTOMER_OWNER }) { id } }`, { a: customer.id }],
        [`mutation { createAccount(input: { kind: CUSTOMER, name: "  padded " }) { id } }`, {}],
        [`mutation { createAccount(input: { kind: CUSTOMER, name: "" }) { id } }`, {}],
      ];
      const before = (await admin.ok(`{ projects(accountId: "${customer.id}") { edges { node { id } } } users(accountId: "${customer.id}") { edges { node { id } } } }`));
      for (const [query, variables] of cases) {
        const res = await admin.gql(query, variables);
        assert.equal(codeOf(res), 'BAD_USER_INPUT', query);
        assert.notEqual(res.errors?.[0]?.message, 'Internal error');
      }
      const afterwards = await admin.ok(`{ projects(accountId: "${customer.id}") { edges { node { id } } } users(accountId: "${customer.id}") { edges { node { id } } } }`);
      assert.deepEqual(afterwards, before);
    });
  });
});
