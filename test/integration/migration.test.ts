import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../server/app/logger';
import { backupCarrier } from '../../server/backups/backup-carry';
import { migrationHandlers } from '../../server/containers/migration.operations';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { Operation } from '../../server/operations/operation.entity';
import { codeOf } from '../support/client';
import { twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, sqlFor, startTestServer, type TestServer } from '../support/server';

const MIGRATE = `mutation($id: ID!, $t: ID!, $live: Boolean) { migrateContainer(id: $id, targetNodeId: $t, live: $live) { id operation { id } } }`;

/** Cold migration's refusals and failure handling, against the fake gateway. */
forEachDatabase((TEST_DB) => {
  describe(`container migration (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let nodes: Record<string, string>;
    let imageId: string;
    const keys = generateLicenceKeyPair();
    const sql = (text: string) => sqlFor(server)(text);

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: fake });
      f = await twoTenants(server.url);
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Migration', maxNodes: 10, maxContainers: 50, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      const lab = (await f.admin.ok(`mutation { createCluster(input: { name: "lab" }) { id } }`)).createCluster.id;
      const other = (await f.admin.ok(`mutation { createCluster(input: { name: "other" }) { id } }`)).createCluster.id;
      nodes = {};
      for (const [name, cluster, ip] of [['a', lab, '201'], ['b', lab, '202'], ['c', lab, '203'], ['x', other, '204']] as const) {
        nodes[name] = (await f.admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c: cluster, n: `node-${name}`, u: `https://198.18.0.${ip}:8443` })).addNode.id;
      }
      imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
    });
    after(() => server.stop());

    const create = async (name: string, nodeId = nodes.a) => {
      const created = (await f.admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, clusterId: (await server.db.query(sql(`SELECT "clusterId" FROM nodes WHERE id = ?`), [nodeId]))[0].clusterId, nodeId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      })).createContainer;
      await server.services.runner.settled(created.operation.id);
      return created.id as string;
    };
    const row = async (id: string) => (await server.db.query(sql(`SELECT "nodeId", status FROM containers WHERE id = ?`), [id]))[0];
    const operationCount = async () => Number((await server.db.query(`SELECT COUNT(*) AS n FROM operations`))[0].n);
    const key = (node: string, name: string) => `${nodes[node]}/corral-${f.projectA.id.replaceAll('-', '')}/${name}`;

    test('refusals come before anything is recorded: same node, another cluster, offline or maintenance, no room, live without CRIU', async () => {
      const id = await create('refused');
      const count = await operationCount();
      const expect = async (variables: Record<string, unknown>, code: string) => {
        const res = await f.admin.gql(MIGRATE, { id, ...variables });
        assert.equal(codeOf(res), code, JSON.stringify(res.errors));
      };
      await expect({ t: nodes.a }, 'BAD_USER_INPUT');
      await expect({ t: nodes.x }, 'BAD_USER_INPUT');
      await expect({ t: 'nope' }, 'NOT_FOUND');
      for (const status of ['OFFLINE', 'MAINTENANCE']) {
        await server.db.query(sql(`UPDATE nodes SET status = ? WHERE id = ?`), [status, nodes.c]);
        await expect({ t: nodes.c }, 'NODE_UNAVAILABLE');
      }
      await server.db.query(sql(`UPDATE nodes SET status = 'READY' WHERE id = ?`), [nodes.c]);
      await server.db.query(sql(`UPDATE nodes SET "diskBytes" = 1 WHERE id = ?`), [nodes.c]);
      await expect({ t: nodes.c }, 'CAPACITY_EXCEEDED');
      await server.db.query(sql(`UPDATE nodes SET "diskBytes" = ? WHERE id = ?`), [200 * 1024 ** 3, nodes.c]);
      await server.db.query(sql(`UPDATE nodes SET capabilities = NULL WHERE id = ?`), [nodes.b]);
      await expect({ t: nodes.b, live: true }, 'MIGRATION_UNSUPPORTED');
      assert.equal(await operationCount(), count, 'no operation was recorded');
      assert.equal((await row(id)).nodeId, nodes.a);
      assert.equal(fake.instances.get(key('a', 'refused'))?.status, 'Running');
    });

    test('a failure after the copy leaves the row on the source, removes the copy and starts the container again', async () => {
      const id = await create('fails');
      const copy = fake.copyInstance.bind(fake);
      fake.copyInstance = async (...args: Parameters<FakeGateway['copyInstance']>) => {
        await copy(...args);
        throw Object.assign(new Error('the network broke'), { status: 500 });
      };
      try {
        const res = await f.admin.ok(MIGRATE, { id, t: nodes.b });
        await server.services.runner.settled(res.migrateContainer.operation.id);
        const op = (await f.admin.ok(`query($id: ID!) { operation(id: $id) { state errorCode errorMessage } }`, { id: res.migrateContainer.operation.id })).operation;
        assert.deepEqual([op.state, op.errorCode], ['FAILED', 'LXD_ERROR'], JSON.stringify(op));
      } finally {
        fake.copyInstance = copy;
      }
      assert.deepEqual(await row(id), { nodeId: nodes.a, status: 'RUNNING' });
      assert.equal(fake.instances.get(key('a', 'fails'))?.status, 'Running');
      assert.equal(fake.instances.has(key('b', 'fails')), false, 'the partial copy is gone');
    });

    test('a failure after the source was removed points the row at the target', async () => {
      const id = await create('lands');
      const remove = fake.removeInstance.bind(fake);
      fake.removeInstance = async (...args: Parameters<FakeGateway['removeInstance']>) => {
        await remove(...args);
        throw Object.assign(new Error('the answer was lost'), { status: 500 });
      };
      try {
        const res = await f.admin.ok(MIGRATE, { id, t: nodes.b });
        await server.services.runner.settled(res.migrateContainer.operation.id);
      } finally {
        fake.removeInstance = remove;
      }
      assert.deepEqual(await row(id), { nodeId: nodes.b, status: 'RUNNING' });
      assert.equal(fake.instances.get(key('b', 'lands'))?.status, 'Running');
      assert.equal(fake.instances.has(key('a', 'lands')), false);
    });

    test('recovery after a crash decides by where the instance is', async () => {
      const log = createLogger({ logLevel: 'silent' });
      const handler = migrationHandlers(server.db, fake, fake, log, backupCarrier(server.db, fake.backups, server.services.backupArchive, log))['container.migrate']!;
      const step = { progress: async () => undefined };
      // Crashed after the copy, before the row moved: the source still has it.
      const id = await create('crashed');
      const migrate = async () => {
        const res = await f.admin.ok(MIGRATE, { id, t: nodes.c });
        await server.services.runner.settled(res.migrateContainer.operation.id);
        return server.db.manager.findOneByOrFail(Operation, { id: res.migrateContainer.operation.id });
      };
      const first = await migrate();
      // Put things back as a crash mid-copy would leave them: on both nodes, stopped, row on the source.
      await server.db.query(sql(`UPDATE containers SET "nodeId" = ? WHERE id = ?`), [nodes.a, id]);
      fake.instances.set(key('a', 'crashed'), { node: nodes.a!, status: 'Stopped' });
      fake.instances.get(key('c', 'crashed'))!.status = 'Stopped';
      await handler.recover(first, step);
      assert.equal((await row(id)).nodeId, nodes.c, 'recovery migrated it again from the source');
      assert.equal(fake.instances.has(key('a', 'crashed')), false);
      assert.equal(fake.instances.get(key('c', 'crashed'))?.status, 'Running');
      // Crashed after the source was removed, before the row moved: only the target has it.
      fake.instances.delete(key('a', 'crashed'));
      await server.db.query(sql(`UPDATE containers SET "nodeId" = ? WHERE id = ?`), [nodes.a, id]);
      fake.instances.get(key('c', 'crashed'))!.status = 'Stopped';
      await handler.recover(first, step);
      assert.equal((await row(id)).nodeId, nodes.c, 'the row follows the instance');
      assert.equal(fake.instances.get(key('c', 'crashed'))?.status, 'Running', 'it ran before, so it runs again');
    });
  });
});
