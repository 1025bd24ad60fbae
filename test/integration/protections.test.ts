import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { queryLimits } from '../../server/app/limits';
import { Caller, codeOf } from '../support/client';
import { signInAsAdmin } from '../support/factories';
import { startTestServer, forEachDatabase, type TestServer } from '../support/server';
import { firstOutcome } from '../support/subscriptions';

/** Each limit: a document just over it gets a typed refusal and no data. */
forEachDatabase((TEST_DB) => {
  describe(`GraphQL protections (${TEST_DB})`, () => {
    let server: TestServer;
    let admin: Caller;
    before(async () => {
      server = await startTestServer(TEST_DB);
      admin = await signInAsAdmin(server.url);
    });
    after(() => server.stop());

    const refusedFor = async (query: string, limit: string) => {
      const res = await admin.gql(query);
      assert.equal(codeOf(res), 'QUERY_LIMIT_EXCEEDED', JSON.stringify(res.errors));
      assert.equal(res.errors?.[0]?.extensions?.limit, limit);
      assert.equal(res.data ?? null, null);
    };

    test('a query nested deeper than the depth limit is refused', async () => {
      let selection = 'id';
      for (let i = 0; i < queryLimits.depth; i++) selection = `parent { ${selection} }`;
      await refusedFor(`{ me { account { ${selection} } } }`, 'depth');
    });

    test('a query within the limits is answered', async () => {
      const res = await admin.gql(`{ me { account { parent { id } } } }`);
      assert.equal(res.errors, undefined);
    });

    test('too many aliases are refused', async () => {
      const aliases = Array.from({ length: queryLimits.aliases + 1 }, (_, i) => `a${i}: me { id }`).join(' ');
      await refusedFor(`{ ${aliases} }`, 'aliases');
    });

    test('too many directives are refused', async () => {
      const directives = Array.from({ length: queryLimits.directives + 1 }, () => '@include(if: true)').join(' ');
      await refusedFor(`{ me ${directives} { id } }`, 'directives');
    });

    test('a query costing more than the cost limit is refused', async () => {
      // Within the depth, alias and size limits, but wide: the same fields many times at three levels.
      const repeated = Array.from({ length: 600 }, () => 'name kind createdAt').join(' ');
      await refusedFor(`{ accounts { edges { node { id ${repeated} parent { ${repeated} parent { ${repeated} } } } } } }`, 'cost');
    });

    test('a request body over the size limit is refused before parsing', async () => {
      const padding = ' '.repeat(queryLimits.documentBytes + 1);
      const res = await admin.post({ query: `{ me { id } }${padding}` });
      assert.equal(res.status, 413);
      assert.equal(codeOf(res), 'QUERY_LIMIT_EXCEEDED');
      assert.equal(res.errors?.[0]?.extensions?.limit, 'documentBytes');
    });

    test('HTTP batching is off', async () => {
      const res = await admin.post([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]);
      assert.equal(res.status, 400);
      assert.equal(res.data, undefined);
    });

    test('CSRF prevention refuses a simple cross-site request that a browser would send without preflight', async () => {
      const res = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`, { headers: { cookie: admin.cookie! } });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /CSRF/i);
      const form = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { cookie: admin.cookie!, 'content-type': 'text/plain' },
        body: JSON.stringify({ query: 'mutation { logout }' }),
      });
      assert.equal(form.status, 400);
      assert.equal((await admin.gql(`{ me { id } }`)).errors, undefined, 'the session survived');
    });

    test('limits apply over WebSocket too', async () => {
      const aliases = Array.from({ length: queryLimits.aliases + 1 }, (_, i) => `a${i}: id`).join(' ');
      const outcome = await firstOutcome(admin.ws(), { query: `subscription { auditEventCreated { ${aliases} } }` });
      assert.equal(outcome.errors?.[0]?.extensions?.limit, 'aliases');
      assert.equal(outcome.errors?.[0]?.extensions?.code, 'QUERY_LIMIT_EXCEEDED');
    });

    test('in development, introspection and field suggestions are on', async () => {
      const res = await admin.gql(`{ __schema { queryType { name } } }`);
      assert.equal(res.data?.__schema?.queryType?.name, 'Query');
      const typo = await admin.gql(`{ mee { id } }`);
      assert.match(typo.errors?.[0]?.message ?? '', /Did you mean/);
      const ws = await firstOutcome(admin.ws(), { query: `{ __schema { queryType { name } } }` });
      assert.equal(ws.data?.__schema?.queryType?.name, 'Query');
    });
  });

  describe(`GraphQL protections in production (${TEST_DB})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(TEST_DB, { NODE_ENV: 'production' });
    });
    after(() => server.stop());

    test('introspection and field suggestions are off', async () => {
      const admin = await signInAsAdmin(server.url);
      const res = await admin.gql(`{ __schema { queryType { name } } }`);
      assert.equal(codeOf(res), 'GRAPHQL_VALIDATION_FAILED');
      assert.equal(res.data ?? null, null);
      const typo = await admin.gql(`{ mee { id } }`);
      assert.equal(codeOf(typo), 'GRAPHQL_VALIDATION_FAILED');
      assert.doesNotMatch(typo.errors?.[0]?.message ?? '', /Did you mean/);
      const ws = await firstOutcome(admin.ws(), { query: `{ __schema { queryType { name } } }` });
      assert.equal(ws.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', JSON.stringify(ws));
      const wsTypo = await firstOutcome(admin.ws(), { query: `subscription { auditEventCreatd { id } }` });
      assert.equal(wsTypo.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
      assert.doesNotMatch(wsTypo.errors?.[0]?.message ?? '', /Did you mean/);
    });
  });
});
