import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Session } from '../../server/auth/session.entity';
import { ApiToken } from '../../server/auth/api-token.entity';
import { Caller, codeOf } from '../support/client';
import { createAccount, signInAsAdmin, signInAsNewUser } from '../support/factories';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, forEachDatabase, type TestServer } from '../support/server';
import { firstOutcome } from '../support/subscriptions';

const LOGIN = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { id email } }`;
const ME = `{ me { id email account { id } } }`;

forEachDatabase((TEST_DB) => {
  describe(`sessions (${TEST_DB})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(TEST_DB, { CORRAL_TRUST_PROXY: 'true' });
    });
    after(() => server.stop());

    test('login sets an httpOnly, SameSite=Lax session cookie, Secure only behind https', async () => {
      const plain = new Caller(server.url);
      const res = await plain.gql(LOGIN, { e: ADMIN_EMAIL, p: ADMIN_PASSWORD });
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('corral_session='))!;
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      assert.doesNotMatch(cookie, /Secure/i);
      assert.match(cookie, /Expires=/i);

      const behindTls = await new Caller(server.url).post({ query: LOGIN, variables: { e: ADMIN_EMAIL, p: ADMIN_PASSWORD } }, { 'x-forwarded-proto': 'https' });
      assert.match(behindTls.headers.getSetCookie().find((c) => c.startsWith('corral_session='))!, /Secure/);
    });

    test('the cookie holds a secret that is stored only as a hash', async () => {
      const caller = await new Caller(server.url).login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const secret = caller.cookie!.split('=')[1]!;
      const ids = (await server.db.manager.find(Session)).map((s) => s.id);
      assert.ok(ids.length > 0);
      assert.ok(!ids.includes(secret));
    });

    test('every login issues a fresh session id and ends the one the browser presented', async () => {
      const caller = await new Caller(server.url).login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const first = caller.cookie!;
      await caller.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      assert.notEqual(caller.cookie, first);
      const stale = new Caller(server.url);
      stale.cookie = first;
      assert.equal(codeOf(await stale.gql(ME)), 'UNAUTHENTICATED');
      assert.equal((await caller.ok(ME)).me.email, ADMIN_EMAIL);
    });

    test('a wrong password and an unknown email get the same answer', async () => {
      const wrong = await new Caller(server.url).gql(LOGIN, { e: ADMIN_EMAIL, p: 'not the password' });
      const unknown = await new Caller(server.url).gql(LOGIN, { e: 'nobody@example.test', p: 'not the password' });
      assert.equal(codeOf(wrong), 'UNAUTHENTICATED');
      assert.deepEqual(wrong.errors?.map((e) => [e.message, e.extensions]), unknown.errors?.map((e) => [e.message, e.extensions]));
      assert.equal(wrong.data, null);
    });

    test('logout ends the session and clears the cookie', async () => {
      const caller = await new Caller(server.url).login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const cookie = caller.cookie!;
      const res = await caller.gql(`mutation { logout }`);
      assert.equal(res.data?.logout, true);
      assert.match(res.headers.getSetCookie().join(';'), /corral_session=;/);
      const replay = new Caller(server.url);
      replay.cookie = cookie;
      assert.equal(codeOf(await replay.gql(ME)), 'UNAUTHENTICATED');
    });

    test('a session idle for longer than the idle limit, or past its absolute expiry, is over', async () => {
      const idle = await new Caller(server.url).login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const absolute = await new Caller(server.url).login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const { createHash } = await import('node:crypto');
      const idOf = (c: Caller) => createHash('sha256').update(c.cookie!.split('=')[1]!).digest('hex');
      await server.db.manager.update(Session, { id: idOf(idle) }, { lastSeenAt: new Date(Date.now() - 61 * 60_000) });
      await server.db.manager.update(Session, { id: idOf(absolute) }, { expiresAt: new Date(Date.now() - 1000) });
      assert.equal(codeOf(await idle.gql(ME)), 'UNAUTHENTICATED');
      assert.equal(codeOf(await absolute.gql(ME)), 'UNAUTHENTICATED');
      assert.equal(await server.db.manager.countBy(Session, { id: idOf(idle) }), 0, 'expired sessions are deleted');
    });
  });

  describe(`login rate limits (${TEST_DB})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(TEST_DB, { CORRAL_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', CORRAL_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '12' });
    });
    after(() => server.stop());

    test('after too many failures an account is locked for a while, even with the right password', async () => {
      for (let i = 0; i < 3; i++) assert.equal(codeOf(await new Caller(server.url).gql(LOGIN, { e: ADMIN_EMAIL, p: 'wrong password' })), 'UNAUTHENTICATED');
      const locked = await new Caller(server.url).gql(LOGIN, { e: ADMIN_EMAIL, p: ADMIN_PASSWORD });
      assert.equal(codeOf(locked), 'RATE_LIMITED');
      assert.ok(Number(locked.errors?.[0]?.extensions?.retryAfterSeconds) > 0);
      assert.ok(!locked.headers.getSetCookie().some((c) => c.startsWith('corral_session=')));
    });

    test('one address cannot try logins without end, whichever accounts it tries', async () => {
      const codes: unknown[] = [];
      for (let i = 0; i < 12; i++) codes.push(codeOf(await new Caller(server.url).gql(LOGIN, { e: `nobody${i}@example.test`, p: 'guess' })));
      assert.ok(codes.includes('RATE_LIMITED'), JSON.stringify(codes));
      assert.equal(codes.at(-1), 'RATE_LIMITED');
    });
  });

  describe(`API tokens (${TEST_DB})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(TEST_DB);
    });
    after(() => server.stop());

    const CREATE = `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id name prefix permissions account { id } } } }`;

    test('a token is shown once, kept only as a hash, listed without its secret, and works as a bearer', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = await createAccount(admin, 'CUSTOMER');
      const { caller: owner } = await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER');
      const created = (await owner.ok(CREATE, { i: { name: 'deploy', permissions: ['PROJECTS_READ', 'PROJECTS_WRITE'] } })).createApiToken;
      assert.match(created.token, /^corral_/);
      assert.ok(created.token.startsWith(created.apiToken.prefix));

      const stored = await server.db.getRepository(ApiToken).createQueryBuilder('t').addSelect('t.tokenHash').where('t.id = :id', { id: created.apiToken.id }).getOneOrFail();
      assert.notEqual(stored.tokenHash, created.token);
      assert.ok(!JSON.stringify(await server.db.query('SELECT * FROM api_tokens')).includes(created.token));

      const listed = await owner.ok(`{ apiTokens { edges { node { id name prefix } } } }`);
      assert.deepEqual(listed.apiTokens.edges.map((e: any) => e.node.id), [created.apiToken.id]);
      assert.ok(!JSON.stringify(listed).includes(created.token));

      const program = new Caller(server.url, created.token);
      const project = (await program.ok(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "from-ci" }) { id } }`, { a: customer.id })).createProject;
      const events = await owner.ok(`{ auditEvents(action: "project.create") { edges { node { targetId actorTokenId } } } }`);
      assert.equal(events.auditEvents.edges[0].node.targetId, project.id);
      assert.equal(events.auditEvents.edges[0].node.actorTokenId, created.apiToken.id);
    });

    test('a token can do only what its permissions name', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = await createAccount(admin, 'CUSTOMER');
      const { caller: owner } = await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER');
      const { token } = (await owner.ok(CREATE, { i: { name: 'read-only', permissions: ['PROJECTS_READ'] } })).createApiToken;
      const program = new Caller(server.url, token);
      assert.equal(codeOf(await program.gql(`{ projects { edges { node { id } } } }`)), undefined);
      assert.equal(codeOf(await program.gql(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "nope" }) { id } }`, { a: customer.id })), 'FORBIDDEN');
      assert.equal(codeOf(await program.gql(`{ users { edges { node { id } } } }`)), 'FORBIDDEN');
    });

    test('nobody can mint a token with more than they hold, nor for an account they cannot see', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = await createAccount(admin, 'CUSTOMER');
      const other = await createAccount(admin, 'CUSTOMER');
      const { caller: member } = await signInAsNewUser(admin, customer.id, 'CUSTOMER_MEMBER');
      const tooMuch = await member.gql(CREATE, { i: { name: 'grab', permissions: ['PROJECTS_WRITE'] } });
      assert.equal(codeOf(tooMuch), 'FORBIDDEN');
      assert.deepEqual(tooMuch.errors?.[0]?.extensions?.missing, ['PROJECTS_WRITE']);
      assert.equal(codeOf(await member.gql(CREATE, { i: { name: 'elsewhere', accountId: other.id, permissions: ['PROJECTS_READ'] } })), 'NOT_FOUND');

      // A token made from a narrow token cannot widen it either.
      const { token } = (await member.ok(CREATE, { i: { name: 'narrow', permissions: ['TOKENS_WRITE'] } })).createApiToken;
      assert.equal(codeOf(await new Caller(server.url, token).gql(CREATE, { i: { name: 'wider', permissions: ['USERS_READ'] } })), 'FORBIDDEN');
      assert.equal(await server.db.manager.countBy(ApiToken, { name: 'wider' }), 0);
    });

    test("a token scoped to one customer sees that customer only, even when its creator sees more", async () => {
      const admin = await signInAsAdmin(server.url);
      const reseller = await createAccount(admin, 'RESELLER');
      const { caller: resellerAdmin } = await signInAsNewUser(admin, reseller.id, 'RESELLER_ADMIN');
      const one = await createAccount(resellerAdmin, 'CUSTOMER');
      const two = await createAccount(resellerAdmin, 'CUSTOMER');
      const { token } = (await resellerAdmin.ok(CREATE, { i: { name: 'one only', accountId: one.id, permissions: ['ACCOUNTS_READ'] } })).createApiToken;
      const scoped = new Caller(server.url, token);
      const seen = await scoped.ok(`{ accounts { edges { node { id } } } }`);
      assert.deepEqual(seen.accounts.edges.map((e: any) => e.node.id), [one.id]);
      assert.equal(codeOf(await scoped.gql(`query($id: ID!) { account(id: $id) { id } }`, { id: two.id })), 'NOT_FOUND');
    });

    test('a revoked or expired token stops working at once', async () => {
      const admin = await signInAsAdmin(server.url);
      const created = (await admin.ok(CREATE, { i: { name: 'short-lived', permissions: ['ACCOUNTS_READ'] } })).createApiToken;
      const program = new Caller(server.url, created.token);
      assert.equal(codeOf(await program.gql(`{ accounts { edges { node { id } } } }`)), undefined);
      const revoked = await admin.ok(`mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`, { id: created.apiToken.id });
      assert.ok(revoked.revokeApiToken.revokedAt);
      assert.equal(codeOf(await program.gql(`{ accounts { edges { node { id } } } }`)), 'UNAUTHENTICATED');

      const expiring = (await admin.ok(CREATE, { i: { name: 'expiring', permissions: ['ACCOUNTS_READ'], expiresAt: new Date(Date.now() + 60_000).toISOString() } })).createApiToken;
      await server.db.manager.update(ApiToken, { id: expiring.apiToken.id }, { expiresAt: new Date(Date.now() - 1000) });
      assert.equal(codeOf(await new Caller(server.url, expiring.token).gql(`{ accounts { edges { node { id } } } }`)), 'UNAUTHENTICATED');
      assert.equal(codeOf(await admin.gql(CREATE, { i: { name: 'past', permissions: ['ACCOUNTS_READ'], expiresAt: '2001-01-01T00:00:00Z' } })), 'BAD_USER_INPUT');
    });
  });

  describe(`WebSocket authentication (${TEST_DB})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(TEST_DB);
    });
    after(() => server.stop());

    const SUBSCRIBE = { query: `subscription { auditEventCreated { action actorEmail } }` };
    const trigger = (admin: Caller) => () => admin.gql(`mutation { createAccount(input: { kind: CUSTOMER, name: "ws-${Date.now()}-${Math.random()}" }) { id } }`);

    test('a connection without credentials, or with a bad token, is closed with 4403', async () => {
      assert.equal((await firstOutcome(new Caller(server.url).ws(), SUBSCRIBE)).closeCode, 4403);
      assert.equal((await firstOutcome(new Caller(server.url, 'corral_not-a-real-token').ws(), SUBSCRIBE)).closeCode, 4403);
    });

    test('the session cookie authenticates a same-origin connection and events arrive', async () => {
      const admin = await signInAsAdmin(server.url);
      const outcome = await firstOutcome(admin.ws(), SUBSCRIBE, 5000, trigger(admin));
      assert.equal(outcome.data?.auditEventCreated?.action, 'account.create');
    });

    test('a cookie sent from another origin is refused (cross-site WebSocket hijacking)', async () => {
      const admin = await signInAsAdmin(server.url);
      assert.equal((await firstOutcome(admin.ws({ origin: 'https://evil.example' }), SUBSCRIBE)).closeCode, 4403);
    });

    test('an API token in the connection parameters authenticates', async () => {
      const admin = await signInAsAdmin(server.url);
      const { token } = (await admin.ok(`mutation { createApiToken(input: { name: "ws", permissions: [AUDIT_READ] }) { token } }`)).createApiToken;
      const outcome = await firstOutcome(new Caller(server.url, token).ws(), SUBSCRIBE, 5000, trigger(admin));
      assert.equal(outcome.data?.auditEventCreated?.actorEmail, ADMIN_EMAIL);
    });

    test('a token without AUDIT_READ cannot subscribe to the audit trail', async () => {
      const admin = await signInAsAdmin(server.url);
      const { token } = (await admin.ok(`mutation { createApiToken(input: { name: "ws", permissions: [PROJECTS_READ] }) { token } }`)).createApiToken;
      const outcome = await firstOutcome(new Caller(server.url, token).ws(), SUBSCRIBE);
      assert.equal(outcome.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    });

  });
});
