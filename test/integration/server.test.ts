import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { Caller, codeOf } from '../support/client';
import { spawnCorral } from '../support/process';
import { createTempDatabase, type TempDatabase } from '../support/postgres';
import { forEachDatabase, startTestServer } from '../support/server';
import { firstOutcome } from '../support/subscriptions';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'corral-proc-'));

forEachDatabase((TEST_DB) => {
  describe(`the server process (${TEST_DB})`, () => {
    // Each test starts from an empty database of its own, as a first install would.
    const made: TempDatabase[] = [];
    const freshDatabase = async () => {
      if (TEST_DB !== 'postgres') return { pg: null, env: {} };
      const pg = await createTempDatabase('corral_proc');
      made.push(pg);
      return { pg, env: { DATABASE_URL: pg.url } };
    };
    after(async () => {
      for (const pg of made) await pg.drop();
    });

    test('a bad configuration value stops the process with one line naming it', async () => {
      for (const [name, value] of [['PORT', 'eighty'], ['DATABASE_URL', 'mysql://x'], ['CORRAL_SESSION_IDLE_MINUTES', '-5'], ['CORRAL_ADMIN_PASSWORD', 'short']] as const) {
        const corral = spawnCorral({ CORRAL_DATA_DIR: tempDir(), [name]: value });
        assert.equal(await corral.exited, 2, name);
        const lines = corral.output().trim().split('\n');
        assert.equal(lines.length, 1, corral.output());
        assert.match(lines[0]!, new RegExp(`^invalid configuration: ${name}=`));
      }
    });

    test('the first start creates the provider admin with a generated password shown once; later starts keep it', async () => {
      const dataDir = tempDir();
      const { env } = await freshDatabase();
      const first = spawnCorral({ CORRAL_DATA_DIR: dataDir, CORRAL_ADMIN_EMAIL: 'root@example.test', ...env });
      const line = JSON.parse(await first.waitFor(/generated password/));
      const url = await first.url();
      await new Caller(url).login('root@example.test', line.password);
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);

      const second = spawnCorral({ CORRAL_DATA_DIR: dataDir, CORRAL_ADMIN_EMAIL: 'root@example.test', ...env });
      const again = await second.url();
      await new Caller(again).login('root@example.test', line.password);
      assert.doesNotMatch(second.output(), /password/);
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    });

    test('SIGTERM lets a request in flight finish, closes WebSockets, and exits 0', async () => {
      const { env } = await freshDatabase();
      const corral = spawnCorral({ CORRAL_DATA_DIR: tempDir(), CORRAL_ADMIN_EMAIL: 'a@example.test', CORRAL_ADMIN_PASSWORD: 'a long admin password', ...env });
      const url = await corral.url();
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      const admin = await new Caller(url).login('a@example.test', 'a long admin password');
      const socket = firstOutcome(admin.ws(), { query: `subscription { auditEventCreated { id } }` }, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the socket connect; not a correctness wait

      // A login takes a tenth of a second of argon2: still running when the signal lands.
      const inFlight = new Caller(url).gql(`mutation { login(email: "a@example.test", password: "a long admin password") { email } }`);
      setTimeout(() => corral.child.kill('SIGTERM'), 20);
      const res = await inFlight;
      assert.equal(res.data?.login?.email, 'a@example.test');
      assert.equal(await corral.exited, 0);
      const closed = await socket;
      assert.ok(closed.closeCode !== undefined, JSON.stringify(closed));
      await assert.rejects(fetch(`${url}/healthz`));
    });

    test('an unexpected error is answered as "Internal error" and logged with the request id', async () => {
      const dataDir = tempDir();
      const { pg, env } = await freshDatabase();
      const corral = spawnCorral({ CORRAL_DATA_DIR: dataDir, CORRAL_ADMIN_EMAIL: 'a@example.test', CORRAL_ADMIN_PASSWORD: 'a long admin password', ...env });
      try {
        const url = await corral.url();
        const admin = await new Caller(url).login('a@example.test', 'a long admin password');
        // Break the database under the running server.
        if (pg) {
          const client = new Client({ connectionString: pg.url });
          await client.connect();
          await client.query('DROP TABLE projects CASCADE');
          await client.end();
        } else {
          const sqlite = new Database(path.join(dataDir, 'corral.sqlite'));
          sqlite.exec('DROP TABLE projects');
          sqlite.close();
        }
        const res = await admin.gql(`{ projects { edges { node { id } } } }`);
        assert.equal(codeOf(res), 'INTERNAL_SERVER_ERROR');
        assert.equal(res.errors?.[0]?.message, 'Internal error');
        assert.doesNotMatch(JSON.stringify(res.errors), /SQL|no such table|does not exist|select/i, 'no internals leak');
        const requestId = res.headers.get('x-request-id')!;
        const logged = JSON.parse(await corral.waitFor(new RegExp(requestId)));
        assert.equal(logged.msg, 'internal error');
        assert.match(JSON.stringify(logged.err), /projects/);
      } finally {
        corral.child.kill('SIGTERM');
        await corral.exited;
      }
    });
  });

  describe(`readiness (${TEST_DB})`, () => {
    test('/readyz answers 503 once the database is gone, while /healthz stays alive', async () => {
      const server = await startTestServer(TEST_DB);
      try {
        assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
        await server.db.destroy();
        assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
        assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      } finally {
        await server.stop();
      }
    });
  });
});
